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
 * - size: every header of every source is bounded by `maxHeaderBytes` (or a smaller limit for
 *   flags) before it is parsed; repeated lines, list headers split over thousands of lines, XFCC
 *   values of many elements and RFC 9440 / Traefik lists of many members are refused with a stable
 *   FST_MTLS_* code, through Fastify: a 400 or 401, never a 500;
 * - the custom extractor and the API Gateway event are bounded the same way.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls, { createApiGatewayVerifier, createSourceVerifier, resolveSource, type MtlsPluginOptions, type SourceOption, type VerifyResult } from '../src/index.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { assertDefinedRefusal, codeFor, fuzzParameters, STATUS } from './helpers/hostile.js'
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

/** A Fastify app with one source; `maxHeaderBytes` as given. */
async function appFor (c: Case, extra: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(mtls, {
    source: c.source,
    ...(c.roots ? { roots: pki.root.pem } : {}),
    intermediates: pki.intermediate.pem,
    ...extra
  } as MtlsPluginOptions)
  app.get('/', async () => ({ ok: true }))
  await app.ready()
  return app
}

/** The response is a defined refusal: 400/401 with a stable code, never a 500. */
function assertRefusedResponse (res: { statusCode: number, json: () => { code?: string } }, what: string): string {
  const body = res.json()
  assert.match(body.code ?? '', /^FST_MTLS_CERT_(MALFORMED|INVALID|MISSING)$/, `${what}: ${JSON.stringify(body)}`)
  assert.equal(res.statusCode, STATUS[body.code!], what)
  return body.code!
}

for (const c of cases) {
  const name = `${typeof c.source === 'string' ? c.source : 'custom'}${c.roots ? ' (roots)' : ''}`
  test(`${name}: every header over its size limit, or repeated 500 times, is a 400 through Fastify`, async () => {
    const app = await appFor(c, { maxHeaderBytes: 4096 })
    try {
      assert.equal((await app.inject({ url: '/', headers: c.headers() })).statusCode, 200)
      for (const header of Object.keys(c.headers())) {
        // Over the limit: long enough for any header (flags have smaller limits of their own).
        const huge = await app.inject({ url: '/', headers: { ...c.headers(), [header]: 'A'.repeat(4097) } })
        assert.equal(assertRefusedResponse(huge, `${header} of 4097 bytes`), 'FST_MTLS_CERT_MALFORMED')
        // The same line 500 times: a singleton is refused as repeated, a list header by its total size.
        const lines = Array(500).fill(c.headers()[header]!)
        const repeated = await app.inject({ url: '/', headers: { ...c.headers(), [header]: lines } })
        assert.equal(assertRefusedResponse(repeated, `${header} x500`), 'FST_MTLS_CERT_MALFORMED')
      }
    } finally {
      await app.close()
    }
  })

  test(`${name}: random text in any header through Fastify is a defined 400/401`, async () => {
    const app = await appFor(c)
    try {
      const names = Object.keys(c.headers())
      const printable = fc.array(fc.constantFrom(...'AZaz09+/=:,;"\\%-_ .~!x'.split(''), '%0A', ':AA==:', 'Cert="', ',By='), { maxLength: 80 }).map((a) => a.join(''))
      await fc.assert(fc.asyncProperty(fc.constantFrom(...names), printable, async (header, text) => {
        const res = await app.inject({ url: '/', headers: { ...c.headers(), [header]: text } })
        if (res.statusCode === 200) return
        assertRefusedResponse(res, `${header}: ${text}`)
      }), fuzzParameters(15))
    } finally {
      await app.close()
    }
  })
}

test('xfcc: many elements or pairs are refused before their certificates are decoded', () => {
  const v = createSourceVerifier((context) => resolveSource('xfcc', context), { roots: pki.root.pem, maxHeaderBytes: 1 << 20, cache: false })
  const element = fmt.xfccElement(pki.leaf, [pki.intermediate])
  const check = (value: string): VerifyResult => v.verifySync({ rawHeaders: ['x-forwarded-client-cert', value] })
  // 100 000 tiny elements in front of a genuine one: refused at the 17th element.
  const many = check(`${'By=a,'.repeat(100_000)}${element}`)
  assertDefinedRefusal(many, 'many elements')
  assert.equal(many.reason, 'bad-encoding')
  assert.match(many.message, /more than 16 elements/)
  // 50 000 URI pairs in the nearest element.
  const pairs = check(`${element}${';URI=spiffe://x'.repeat(50_000)}`)
  assertDefinedRefusal(pairs, 'many pairs')
  assert.match(pairs.message, /more than 64 pairs/)
  // Fifteen elements before the genuine one are fine: only the last is read.
  assert.ok(check(`${'By=a,'.repeat(15)}${element}`).ok)
})

test('rfc9440 and traefik: lists of many members are refused before any member is decoded', () => {
  const limits = { maxHeaderBytes: 1 << 20, cache: false as const }
  const rfc = createSourceVerifier((context) => resolveSource('rfc9440', context), { roots: pki.root.pem, ...limits })
  const cert = fmt.rfc9440(pki.leaf)['Client-Cert']!
  const members = rfc.verifySync({ rawHeaders: ['Client-Cert', cert, 'Client-Cert-Chain', Array(100_000).fill(':AA==:').join(', ')] })
  assertDefinedRefusal(members, 'many members')
  assert.equal(members.reason, 'too-many-certificates')
  // Only commas: counted, never split into 100 000 empty strings and decoded.
  const commas = rfc.verifySync({ rawHeaders: ['Client-Cert', cert, 'Client-Cert-Chain', ','.repeat(100_000)] })
  assertDefinedRefusal(commas, 'commas')
  assert.equal(commas.reason, 'too-many-certificates')
  // The chain split over 5000 lines, each small, is refused by its total size before it is joined.
  const split = createSourceVerifier((context) => resolveSource('rfc9440', context), { roots: pki.root.pem, cache: false })
  const lines = split.verifySync({ rawHeaders: ['Client-Cert', cert, ...Array(5000).fill(['Client-Cert-Chain', ':AA==:']).flat()] })
  assertDefinedRefusal(lines, 'many lines')
  assert.equal(lines.reason, 'header-too-large')
  const traefik = createSourceVerifier((context) => resolveSource('traefik', context), { roots: pki.root.pem, ...limits })
  const many = traefik.verifySync({ rawHeaders: ['X-Forwarded-Tls-Client-Cert', ','.repeat(100_000)] })
  assertDefinedRefusal(many, 'traefik commas')
  assert.equal(many.reason, 'too-many-certificates')
})

test('custom extractor: oversized PEM text, oversized DER, too many items, hostile return values', () => {
  const run = (returned: unknown): VerifyResult => {
    const v = createSourceVerifier((context) => resolveSource({ extract: () => returned } as SourceOption, context), { roots: pki.root.pem, cache: false })
    return v.verifySync({ rawHeaders: [] })
  }
  const expectations: Array<[string, unknown, string]> = [
    ['PEM text over maxHeaderBytes', { chain: [pki.leaf.pem + ' '.repeat(20_000)] }, 'header-too-large'],
    ['DER over 32 KiB', { chain: [new Uint8Array(40_000)] }, 'bad-der'],
    ['1000 items', { chain: Array(1000).fill(pki.leaf.der) }, 'too-many-certificates'],
    ['an empty chain', { chain: [] }, 'bad-encoding'],
    ['a chain that is no array', { chain: 'abc' }, 'bad-encoding'],
    ['an item that is a number', { chain: [42] }, 'bad-encoding'],
    ['PEM text that is not PEM', { chain: ['hello'] }, 'bad-encoding'],
    ['bytes that are no certificate', { verifiedLeaf: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00]) }, 'bad-der']
  ]
  for (const [what, returned, reason] of expectations) {
    const result = run(returned)
    assertDefinedRefusal(result, what)
    assert.equal(result.reason, reason, what)
  }
})

test('API Gateway: an oversized PEM, hostile event shapes and random PEM text are defined refusals', () => {
  const v = createApiGatewayVerifier({ maxHeaderBytes: 4096, cache: false })
  const huge = v.verifySync({ requestContext: { identity: { clientCert: { clientCertPem: `${pki.leaf.pem}${' '.repeat(5000)}` } } } })
  assertDefinedRefusal(huge, 'huge')
  assert.equal(huge.reason, 'header-too-large')
  for (const event of [null, undefined, {}, { requestContext: null }, { requestContext: { identity: null, authentication: null } }] as unknown[]) {
    const result = v.verifySync(event as never)
    assert.equal(result.ok, false)
    if (!result.ok) assert.equal(result.reason, 'missing', JSON.stringify(event))
  }
  const odd = v.verifySync({ requestContext: { identity: { clientCert: { clientCertPem: 42 as unknown as string } } } })
  assertDefinedRefusal(odd, 'number')
  assert.equal(odd.code, codeFor(odd.reason))
  fc.assert(fc.property(hostileText, (text) => {
    const result = v.verifySync({ requestContext: { authentication: { clientCert: { clientCertPem: text, serialNumber: '01' } } } })
    if (result.ok) assert.fail(`accepted ${text}`)
    if (result.reason !== 'missing') assertDefinedRefusal(result, text)
  }), fuzzParameters(60))
})

test('tls: whatever the socket hands over (no certificate, a cycle, a long chain, odd objects, a throw) is a defined answer', () => {
  const v = createSourceVerifier((context) => resolveSource('tls', context), { roots: pki.root.pem, cache: false })
  const withPeer = (peer: unknown): VerifyResult => v.verifySync({ rawHeaders: [], socket: { getPeerCertificate: () => peer } })
  const link = (raw: unknown, issuerCertificate?: unknown, fingerprint256?: string): unknown => ({ raw, issuerCertificate, fingerprint256 })
  // No socket, no getter, no certificate (Node gives {} when the client sent none).
  for (const request of [{ rawHeaders: [] }, { rawHeaders: [], socket: {} }, { rawHeaders: [], socket: { getPeerCertificate: () => ({}) } }, { rawHeaders: [], socket: { getPeerCertificate: () => null } }]) {
    const result = v.verifySync(request)
    assert.equal(result.ok ? 'ok' : result.reason, 'missing')
  }
  // A self-referencing chain (Node's view of a self-signed certificate) is read once.
  const self = link(pki.leaf.der, undefined, 'a') as { issuerCertificate?: unknown }
  self.issuerCertificate = self
  assertDefinedRefusal(withPeer(self), 'cycle')
  // A chain longer than the limit.
  let long: unknown
  for (let i = 0; i < 50; i++) long = link(pki.intermediate.der, long, String(i))
  const tooLong = withPeer(link(pki.leaf.der, long, 'leaf'))
  assertDefinedRefusal(tooLong, 'long chain')
  assert.equal(tooLong.reason, 'too-many-certificates')
  // Raw bytes that are no certificate, and a getter that throws.
  const garbage = withPeer(link(new Uint8Array([1, 2, 3])))
  assertDefinedRefusal(garbage, 'garbage')
  assert.equal(garbage.reason, 'bad-der')
  const thrown = v.verifySync({ rawHeaders: [], socket: { getPeerCertificate: () => { throw new Error('socket closed') } } })
  assert.equal(thrown.ok ? 'ok' : thrown.code, 'FST_MTLS_CERT_MALFORMED')
})
