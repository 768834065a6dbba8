/**
 * x509-limbo harness: runs each applicable case through the public `createVerifier` API exactly as a
 * user would (roots, ALB-encoded header, clock, CRLs, EKU, depth) and reports the verdicts.
 */
import { readFileSync } from 'node:fs'
import { createVerifier } from '../../src/verifier/verifier.js'
import type { VerifyResult } from '../../src/types.js'

export interface LimboCase {
  id: string
  description: string
  trusted_certs: string[]
  untrusted_intermediates: string[]
  peer_certificate: string
  validation_time: string | null
  extended_key_usage: string[]
  max_chain_depth: number | null
  crls: string[]
  expected_result: 'SUCCESS' | 'FAILURE'
}

export interface CaseOutcome {
  testCase: LimboCase
  result: VerifyResult | { ok: false, reason: 'option-refused', message: string }
  right: boolean
  falseAccept: boolean
  falseReject: boolean
  /** Milliseconds spent in createVerifier (loading roots and CRLs) and in verifySync. */
  loadMs: number
  verifyMs: number
}

/** The largest maxChainDepth the verifier takes; limbo's "no limit" and 255 map onto it. */
export const DEPTH_CEILING = 16

export function loadCases (): LimboCase[] {
  const file = new URL('./limbo-cases.json', import.meta.url)
  return (JSON.parse(readFileSync(file, 'utf8')) as { testcases: LimboCase[] }).testcases
}

/** Encodes as ALB does: every byte but unreserved characters and `+ = /` becomes %XX. */
export function albEncode (text: string): string {
  return text.replace(/[^A-Za-z0-9\-_.~+=/]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

export function runCase (testCase: LimboCase): CaseOutcome {
  let result: CaseOutcome['result']
  const start = performance.now()
  let loaded = start
  let verified = start
  try {
    const verifier = createVerifier({
      roots: testCase.trusted_certs,
      now: () => testCase.validation_time === null ? new Date() : new Date(testCase.validation_time),
      crls: testCase.crls,
      extendedKeyUsage: testCase.extended_key_usage.length > 0 ? testCase.extended_key_usage : false,
      maxChainDepth: Math.min(testCase.max_chain_depth ?? DEPTH_CEILING, DEPTH_CEILING),
      // Limbo's pathological chains exceed ALB's 16 KB: let path building, not the size cap, decide.
      maxHeaderBytes: 1 << 20
    })
    const header = albEncode([testCase.peer_certificate, ...testCase.untrusted_intermediates].join(''))
    loaded = performance.now()
    result = verifier.verifySync(header)
    verified = performance.now()
  } catch (err) {
    loaded = verified = performance.now()
    // Trust material the verifier refuses at load time (e.g. a CRL with a bad signature) is a refusal.
    result = { ok: false, reason: 'option-refused', message: (err as Error).message }
  }
  const expectOk = testCase.expected_result === 'SUCCESS'
  return {
    testCase,
    result,
    right: result.ok === expectOk,
    falseAccept: result.ok && !expectOk,
    falseReject: !result.ok && expectOk,
    loadMs: loaded - start,
    verifyMs: verified - loaded
  }
}

export function namespaceOf (id: string): string {
  const parts = id.split('::')
  return parts.length > 2 ? `${parts[0]}::${parts[1]}` : parts[0]!
}

/** Markdown table: per namespace right / false accepts / false rejects, and a total line. */
export function formatTable (outcomes: readonly CaseOutcome[]): string {
  const rows = new Map<string, { cases: number, right: number, fa: number, fr: number }>()
  for (const o of outcomes) {
    const ns = namespaceOf(o.testCase.id)
    const row = rows.get(ns) ?? { cases: 0, right: 0, fa: 0, fr: 0 }
    row.cases++
    if (o.right) row.right++
    if (o.falseAccept) row.fa++
    if (o.falseReject) row.fr++
    rows.set(ns, row)
  }
  const lines = ['| namespace | cases | right | false accepts | false rejects |', '| --- | ---: | ---: | ---: | ---: |']
  const total = { cases: 0, right: 0, fa: 0, fr: 0 }
  for (const [ns, r] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`| \`${ns}\` | ${r.cases} | ${r.right} | ${r.fa} | ${r.fr} |`)
    total.cases += r.cases; total.right += r.right; total.fa += r.fa; total.fr += r.fr
  }
  lines.push(`| **total** | **${total.cases}** | **${total.right}** | **${total.fa}** | **${total.fr}** |`)
  return lines.join('\n')
}
