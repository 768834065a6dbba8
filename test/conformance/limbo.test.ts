import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { formatTable, loadCases, runCase, type CaseOutcome } from './limbo.js'

/** Namespaces where even a documented exception may never be a false accept. */
const NO_FALSE_ACCEPT = ['rfc5280', 'pathlen', 'pathological', 'crl', 'cve']

function exceptions (): Map<string, string> {
  const text = readFileSync(new URL('./EXCEPTIONS.md', import.meta.url), 'utf8')
  const out = new Map<string, string>()
  for (const m of text.matchAll(/^\| `([^`]+)` \| (SUCCESS|FAILURE) \|/gm)) out.set(m[1]!, m[2]!)
  return out
}

const cases = loadCases()
const outcomes: CaseOutcome[] = cases.map(runCase)

test('x509-limbo: 164 applicable path-validation cases', () => {
  assert.equal(cases.length, 164)
  const slowest = (key: 'loadMs' | 'verifyMs'): string => {
    const o = outcomes.reduce((a, b) => (b[key] > a[key] ? b : a))
    return `${o[key].toFixed(1)} ms (${o.testCase.id})`
  }
  console.log(`\n${formatTable(outcomes)}\n\nslowest verifySync: ${slowest('verifyMs')}; slowest createVerifier: ${slowest('loadMs')}\n`)
})

test('x509-limbo: every disagreement is a documented exception', () => {
  const listed = exceptions()
  assert.ok(listed.size > 0, 'EXCEPTIONS.md table was not read')
  const unexpected = outcomes.filter((o) => !o.right && !listed.has(o.testCase.id))
    .map((o) => `${o.testCase.id}: expected ${o.testCase.expected_result}, got ${o.result.ok ? 'SUCCESS' : `FAILURE (${o.result.reason}: ${o.result.message})`}`)
  assert.deepEqual(unexpected, [])
  const stale = [...listed.keys()].filter((id) => outcomes.find((o) => o.testCase.id === id)?.right !== false)
  assert.deepEqual(stale, [], 'listed cases that now agree (or do not exist): remove them from EXCEPTIONS.md')
  for (const [id, expected] of listed) {
    const o = outcomes.find((x) => x.testCase.id === id)!
    assert.equal(o.testCase.expected_result, expected, `${id}: EXCEPTIONS.md misstates limbo's expectation`)
  }
})

test('x509-limbo: no false accept in the rfc5280, pathlen, pathological, crl and cve namespaces', () => {
  const bad = outcomes.filter((o) => o.falseAccept && NO_FALSE_ACCEPT.includes(o.testCase.id.split('::')[0]!)).map((o) => o.testCase.id)
  assert.deepEqual(bad, [])
})

test('x509-limbo: at least 159 of 164 right', () => {
  // 159 is every case but the five documented ones, and the most this policy allows: EXCEPTIONS.md,
  // "The ceiling", counts why (pairs of cases with the same chain and opposite expectations, and the
  // client-certificate rule that a CA is never a leaf).
  assert.ok(outcomes.filter((o) => o.right).length >= 159)
})
