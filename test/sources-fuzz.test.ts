/**
 * Hostile header values through every source (fixed seed, bounded runs; FUZZ_RUNS / FUZZ_SEED as in
 * fuzz.test.ts). Properties:
 * - random text in any source header is refused with a documented reason (or read as absent), never
 *   accepted and never the last-resort catch of an escaped exception;
 * - a one-character mutation of a valid header set is either refused the same way or accepted as
 *   the very same leaf: no mutation yields another identity. This holds where the chain is
 *   validated here or the proxy's claims include a digest of the leaf (CloudFront's Sha256). A
 *   proxy-verified leaf without one (nginx, GCP, Cloudflare without roots) is believed as sent:
 *   there only `trustedProxies` stands between a rewritten leaf and the app, as in ALB verify mode,
 *   so those rows run the first property only.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { createSourceVerifier, resolveSource, type SourceOption, type VerifyResult } from '../src/index.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { assertDefinedRefusal, fuzzParameters } from './helpers/hostile.js'
import * as fmt from './helpers/sources.js'

let pki: TestPki
let leafFingerprint: string

interface Case { source: SourceOption, roots: boolean, headers: () => Record<string, string>, mutation?: false }
const cases: Case[] = [
  { source: 'nginx', roots: true, headers: () => fmt.nginx(pki.leaf) },
  { source: 'gcp', roots: true, headers: () => fmt.gcp(pki.leaf, [pki.intermediate]) },
  { source: 'cloudflare', roots: true, headers: () => fmt.cloudflare(pki.leaf, [pki.intermediate]) },
  { source: 'cloudfront', roots: false, headers: () => fmt.cloudFront(pki.leaf) },
  { source: 'rfc9440', roots: true, headers: () => fmt.rfc9440(pki.leaf, [pki.intermediate]) },
  { source: 'xfcc', roots: true, headers: () => ({ 'x-forwarded-client-cert': fmt.xfccElement(pki.leaf, [pki.intermediate], { uri: ['spiffe://example.org/ns/prod/sa/client'] }) }) },
  { source: 'nginx', roots: false, headers: () => fmt.nginx(pki.leaf), mutation: false },
  { source: 'traefik', roots: true, headers: () => fmt.traefik([pki.leaf, pki.intermediate]) },
  { source: 'gcp', roots: false, headers: () => fmt.gcp(pki.leaf, [pki.intermediate]), mutation: false },
  { source: 'cloudflare', roots: false, headers: () => fmt.cloudflare(pki.leaf, [pki.intermediate]), mutation: false },
  { source: 'base64-der', roots: true, headers: () => fmt.base64Der(pki.leaf) }
]

before(async () => {
  pki = await createTestPki()
  leafFingerprint = fmt.sha256Hex(pki.leaf)
})

function verifierFor (c: Case): (headers: Record<string, string>) => VerifyResult {
  const v = createSourceVerifier((context) => resolveSource(c.source, context), {
    ...(c.roots ? { roots: pki.root.pem } : {}),
    intermediates: pki.intermediate.pem,
    cache: false
  })
  return (headers) => v.verifySync({ rawHeaders: Object.entries(headers).flatMap(([k, v]) => [k, v]) })
}

const hostileChar = fc.constantFrom(...'AZaz09+/=:,;"\\%-_ \t.~!x'.split(''), '%0A', '%2', '\u0000', '\u00e9', ':AA==:', 'Cert="', ',By=')
const hostileText = fc.array(hostileChar, { maxLength: 120 }).map((a) => a.join(''))

for (const c of cases) {
  const name = `${typeof c.source === 'string' ? c.source : 'custom'}${c.roots ? ' (roots)' : ''}`
  test(`${name}: random text in every header is refused with a documented reason`, () => {
    const verify = verifierFor(c)
    assert.ok(verify(c.headers()).ok)
    const names = Object.keys(c.headers())
    fc.assert(fc.property(fc.constantFrom(...names), hostileText, (header, text) => {
      const result = verify({ ...c.headers(), [header]: text })
      if (result.ok) {
        // Only headers the verdict does not depend on may be garbage (none here): the leaf must be ours.
        assert.equal(result.certificate.fingerprint256, leafFingerprint)
        return
      }
      if (result.reason !== 'missing') assertDefinedRefusal(result, text)
    }), fuzzParameters(60))
  })

  if (c.mutation === false) continue
  test(`${name}: a one-character mutation never yields another identity`, () => {
    const verify = verifierFor(c)
    const names = Object.keys(c.headers())
    fc.assert(fc.property(fc.constantFrom(...names), fc.nat(), hostileChar, fc.constantFrom('insert', 'replace', 'delete'), (header, at, ch, op) => {
      const headers = c.headers()
      const value = headers[header]!
      const i = value.length === 0 ? 0 : at % value.length
      const mutated = op === 'insert' ? value.slice(0, i) + ch + value.slice(i) : op === 'replace' ? value.slice(0, i) + ch + value.slice(i + 1) : value.slice(0, i) + value.slice(i + 1)
      const result = verify({ ...headers, [header]: mutated })
      if (result.ok) assert.equal(result.certificate.fingerprint256, leafFingerprint, `${header}: ${mutated.slice(0, 120)}`)
      else if (result.reason !== 'missing') assertDefinedRefusal(result, mutated)
    }), fuzzParameters(80))
  })
}
