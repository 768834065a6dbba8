/**
 * Property and fuzz tests: hostile header values through createVerifier and through the plugin.
 *
 * Properties (fixed seed, bounded runs; FUZZ_RUNS=<factor> for a long session, FUZZ_SEED to vary):
 * - every refusal is a documented reason under its documented code, never the verifier's last-resort
 *   catch (an escaped exception), never a 500 through the plugin;
 * - a mutated copy of a valid chain is never accepted: DER mutations always refuse, and a text
 *   mutation may only be accepted when it decodes to the very same certificates;
 * - hostile sizes are refused by a bound (length, certificate count, nesting depth) before the
 *   expensive work, which the reason proves. Timings are reported, not asserted.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import mtlsPassthrough, { createVerifier, type Verifier } from '../src/index.js'
import { createTestPki, toAlbHeader, toPem, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'
import { assertDefinedRefusal, fuzzParameters, longOidText, nestedSequences, pemOf, STATUS, Timings, tlv } from './helpers/hostile.js'

let p: TestPki
let good: string
let verifier: Verifier
let app: FastifyInstance
const fingerprints: string[] = []
const timings = new Timings()
const injectTimings = new Timings()
const rejections: unknown[] = []
const onRejection = (reason: unknown): void => { rejections.push(reason) }

before(async () => {
  process.on('unhandledRejection', onRejection)
  p = await createTestPki()
  good = header(p.leaf, p.intermediate)
  verifier = createVerifier({ roots: p.root.pem })
  const r = verifier.verifySync(good)
  assert.ok(r.ok)
  fingerprints.push(...r.certificate.chain.map((c) => c.fingerprint256))
  app = Fastify()
  await app.register(mtlsPassthrough, { roots: p.root.pem })
  app.get('/', async (request) => ({ chain: request.clientCert?.chain.map((c) => c.fingerprint256) ?? null }))
  await app.ready()
})

after(async () => {
  process.off('unhandledRejection', onRejection)
  await app?.close()
})

/** Fragments that hostile values are assembled from. */
const TOKENS = [
  '%', '%0', '%0A', '%0a', '%0D', '%20', '%00', '%G0', '%0G', '%%', '%2B', '%2F', '%3D', '%FF', '%C3%A9', '%C3%28', '%E2%82',
  '-----BEGIN%20CERTIFICATE-----', '-----END%20CERTIFICATE-----', '-----BEGIN%20PRIVATE%20KEY-----', '-----BEGIN CERTIFICATE-----',
  '-----BEGIN%20', '-----', 'MII', 'MA==', 'A', '=', '==', '+', '/', ' ', '\t', ',', ', ', '\u0000', '\u00ff', '\u00e9', '\ud800',
  '\udfff', '\u2028', '\r\n', '\n', 'x-amzn-mtls-clientcert: ', '\uFEFF'
]

const tokenSoup = fc.array(fc.constantFrom(...TOKENS), { maxLength: 40 }).map((parts) => parts.join(''))

/** Random ASN.1 trees in a certificate-shaped envelope: reaches asn1js and pkijs, not just decode. */
const asn1Tree: fc.Arbitrary<Uint8Array> = fc.letrec<{ node: Uint8Array }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.tuple(fc.constantFrom(0x02, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x17, 0x18, 0x01, 0x03, 0x80, 0x81), fc.uint8Array({ maxLength: 24 }))
      .map(([tag, bytes]) => tlv(tag, bytes)),
    fc.tuple(fc.constantFrom(0x30, 0x31, 0xa0, 0xa3), fc.array(tie('node'), { maxLength: 4 }))
      .map(([tag, children]) => tlv(tag, ...children))
  )
})).node

const randomCertificateShape = fc.tuple(asn1Tree, asn1Tree, fc.uint8Array({ maxLength: 40 }))
  .map(([tbs, alg, sig]) => toAlbHeader([pemOf(tlv(0x30, tlv(0x30, tbs), tlv(0x30, alg), tlv(0x03, Uint8Array.of(0), sig)))]))

type TextMutation =
  | { kind: 'truncate', at: number }
  | { kind: 'insert', at: number, token: string }
  | { kind: 'delete', at: number, length: number }
  | { kind: 'replace', at: number, char: string }
  | { kind: 'repeat', separator: string }

const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), token: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ unit: 'binary', minLength: 1, maxLength: 4 })) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), char: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) }),
  fc.record({ kind: fc.constant('repeat' as const), separator: fc.constantFrom(',', ', ', '%0A', '') })
)

function mutateText (value: string, mutations: readonly TextMutation[]): string {
  let v = value
  for (const m of mutations) {
    const at = m.kind === 'repeat' ? 0 : m.at % (v.length + 1)
    switch (m.kind) {
      case 'truncate': v = v.slice(0, at); break
      case 'insert': v = v.slice(0, at) + m.token + v.slice(at); break
      case 'delete': v = v.slice(0, at) + v.slice(at + m.length); break
      case 'replace': v = v.slice(0, at) + m.char + v.slice(at + 1); break
      case 'repeat': v = v + m.separator + value; break
    }
  }
  return v
}

type DerMutation =
  | { kind: 'flip', at: number, xor: number }
  | { kind: 'truncate', at: number }
  | { kind: 'insert', at: number, byte: number }
  | { kind: 'delete', at: number }

/**
 * A position anywhere, or biased to the envelope (the outer header, and the tail where the signature
 * BIT STRING sits): those are the bytes no signature covers. Negative positions count from the end.
 */
const position = fc.oneof(fc.nat(), fc.integer({ min: 0, max: 7 }), fc.integer({ min: -80, max: -1 }))

const derMutation: fc.Arbitrary<DerMutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: position, xor: fc.integer({ min: 1, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: position }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: position, byte: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), at: position }) }
)

function mutateDer (der: Uint8Array, mutations: readonly DerMutation[]): Uint8Array {
  let d = Buffer.from(der)
  for (const m of mutations) {
    const at = ((m.at % d.length) + d.length) % d.length
    switch (m.kind) {
      case 'flip': d[at]! ^= m.xor; break
      case 'truncate': d = d.subarray(0, at); break
      case 'insert': d = Buffer.concat([d.subarray(0, at), Uint8Array.of(m.byte), d.subarray(at)]); break
      case 'delete': d = Buffer.concat([d.subarray(0, at), d.subarray(at + 1)]); break
    }
    if (d.length === 0) d = Buffer.from([0x30])
  }
  return new Uint8Array(d)
}

/** An acceptance is only legitimate when it is the original chain, byte for byte. */
function assertOriginalOrRefused (value: string): void {
  const r = timings.time('text mutation', () => verifier.verifySync(value))
  if (r.ok) {
    assert.deepEqual(r.certificate.chain.map((c) => c.fingerprint256), fingerprints, `a different chain was accepted from ${value.slice(0, 80)}`)
  } else {
    assertDefinedRefusal(r, value)
  }
}

test('garbage, token soup and random ASN.1 are refused with a documented reason', () => {
  fc.assert(fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 300 }), tokenSoup, randomCertificateShape), (value) => {
    const r = timings.time('garbage', () => verifier.verifySync(value))
    if (value === '') assert.equal(r.ok ? 'ok' : r.reason, 'missing')
    else assertDefinedRefusal(r, value)
  }), fuzzParameters(400))
})

test('text mutations of a valid header: refused, or decoded to the very same chain', () => {
  fc.assert(fc.property(fc.array(textMutation, { minLength: 1, maxLength: 3 }), (mutations) => {
    assertOriginalOrRefused(mutateText(good, mutations))
  }), fuzzParameters(200))
})

test('DER mutations of the leaf or the intermediate are never accepted', () => {
  const ders = { leaf: p.leaf.der, intermediate: p.intermediate.der }
  fc.assert(fc.property(fc.constantFrom('leaf' as const, 'intermediate' as const), fc.array(derMutation, { minLength: 1, maxLength: 3 }), (target, mutations) => {
    const mutated = mutateDer(ders[target], mutations)
    // An insert undone by a delete leaves the original: not a mutation.
    fc.pre(!Buffer.from(mutated).equals(ders[target]))
    const value = toAlbHeader(target === 'leaf' ? [toPem(mutated), p.intermediate.pem] : [p.leaf.pem, toPem(mutated)])
    assertDefinedRefusal(timings.time('DER mutation', () => verifier.verifySync(value)), value)
  }), fuzzParameters(300))
})

test('every truncation of a valid header is refused', () => {
  // The cut points that matter: inside the first block, between blocks, inside the second block.
  const step = Math.max(1, Math.floor(good.length / 60))
  for (let at = 1; at < good.length - 1; at += step) {
    const value = good.slice(0, at)
    // Cutting after the leaf block leaves the leaf alone, which has no path: never accepted either.
    assertDefinedRefusal(timings.time('truncation', () => verifier.verifySync(value)), value)
  }
})

test('through the plugin: 200/400/401 with the documented code, never a 500', async () => {
  await fc.assert(fc.asyncProperty(
    fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      tokenSoup,
      randomCertificateShape,
      fc.array(textMutation, { minLength: 1, maxLength: 2 }).map((m) => mutateText(good, m)),
      fc.array(fc.oneof(tokenSoup, fc.constant(good)), { minLength: 2, maxLength: 3 })
    ),
    async (value) => {
      const res = await injectTimings.timeAsync('inject', async () => await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': value } }))
      const label = JSON.stringify(value).slice(0, 120)
      assert.ok([200, 400, 401, 403].includes(res.statusCode), `${res.statusCode} for ${label}`)
      const body = res.json()
      if (res.statusCode === 200) {
        assert.deepEqual(body.chain, fingerprints, label)
      } else {
        assert.equal(STATUS[body.code], res.statusCode, `${body.code as string} with ${res.statusCode} for ${label}`)
      }
    }
  ), fuzzParameters(100))
})

/** The verify-mode headers ALB would send for the test leaf. */
function verifyModeHeaders (): Record<string, string> {
  const s = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return {
    'x-amzn-mtls-clientcert-serial-number': p.leaf.serialNumber.toUpperCase(),
    'x-amzn-mtls-clientcert-issuer': 'CN=Test Intermediate CA,O=fastify-alb-mtls',
    'x-amzn-mtls-clientcert-subject': 'CN=client,O=Example Corp',
    'x-amzn-mtls-clientcert-validity': `NotBefore=${s(p.leaf.spec.notBefore!)};NotAfter=${s(p.leaf.spec.notAfter!)}`,
    'x-amzn-mtls-clientcert-leaf': toAlbHeader([p.leaf.pem])
  }
}

test('verify mode: mutated, missing or repeated headers end in a defined answer, never another identity', async () => {
  const headers = verifyModeHeaders()
  const names = Object.keys(headers)
  const apps = await Promise.all([{}, { roots: p.root.pem, intermediates: p.intermediate.pem, verifyChain: true }].map(async (extra) => {
    const f = Fastify()
    await f.register(mtlsPassthrough, { mode: 'verify', ...extra })
    f.get('/', async (request) => ({ leaf: request.clientCert?.fingerprint256 ?? null }))
    return f
  }))
  try {
    for (const f of apps) assert.equal((await f.inject({ url: '/', headers })).statusCode, 200)
    await fc.assert(fc.asyncProperty(
      fc.constantFrom(...names),
      fc.oneof(
        fc.array(textMutation, { minLength: 1, maxLength: 2 }).map((m) => ({ kind: 'mutate' as const, m })),
        fc.constant({ kind: 'drop' as const }),
        fc.constant({ kind: 'repeat' as const })
      ),
      fc.nat(1),
      async (name, change, which) => {
        const h: Record<string, string | string[]> = { ...headers }
        const original = headers[name]!
        if (change.kind === 'drop') Reflect.deleteProperty(h, name)
        else if (change.kind === 'repeat') h[name] = [original, original]
        else h[name] = mutateText(original, change.m)
        const res = await injectTimings.timeAsync('verify mode', async () => await apps[which]!.inject({ url: '/', headers: h }))
        const label = `${name} ${JSON.stringify(change).slice(0, 100)}`
        assert.ok([200, 400, 401].includes(res.statusCode), `${res.statusCode} for ${label}`)
        const body = res.json()
        if (res.statusCode === 200) assert.equal(body.leaf, fingerprints[0], label)
        else assert.equal(STATUS[body.code], res.statusCode, label)
      }
    ), fuzzParameters(100))
  } finally {
    await Promise.all(apps.map(async (f) => await f.close()))
  }
})

test('a 1 MB value is refused by its length, before decoding (default and largest maxHeaderBytes)', async () => {
  const big = good + 'A'.repeat(1 << 20)
  const r = timings.time('1 MB value', () => verifier.verifySync(big))
  assertDefinedRefusal(r, 'big')
  assert.equal(r.reason, 'header-too-large')
  const res = await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': big } })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MALFORMED')
  // With the largest limit allowed, 1 MB of junk fails in the decoder's single pass.
  const wide = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 20 })
  const junk = '-----BEGIN%20CERTIFICATE-----%0A' + 'A'.repeat((1 << 20) - 80) + '%'
  const w = timings.time('1 MB junk, 1 MiB limit', () => wide.verifySync(junk))
  assertDefinedRefusal(w, 'junk')
  assert.equal(w.reason, 'bad-encoding')
})

test('1,000 certificates are refused by count before any of them is parsed', () => {
  const wide = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 20 })
  // Garbage bodies: were they parsed, the reason would be bad-der.
  const block = '-----BEGIN%20CERTIFICATE-----%0AMA==%0A-----END%20CERTIFICATE-----%0A'
  const thousand = block.repeat(1000)
  const r = timings.time('1,000 certificates', () => wide.verifySync(thousand))
  assertDefinedRefusal(r, 'thousand')
  assert.equal(r.reason, 'too-many-certificates')
  const real = toAlbHeader(Array<string>(1000).fill(p.leaf.pem))
  const d = timings.time('1,000 real certificates', () => verifier.verifySync(real))
  assertDefinedRefusal(d, 'thousand real')
  assert.equal(d.reason, 'header-too-large')
  const w = timings.time('1,000 real certificates, 1 MiB limit', () => wide.verifySync(real))
  assertDefinedRefusal(w, 'thousand real')
  assert.equal(w.reason, 'too-many-certificates')
})

test('ASN.1 nested 10,000 levels deep is refused without recursion blowup', () => {
  const wide = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 20 })
  const deep = nestedSequences(10_000)
  // As the whole certificate, as its TBS inside a well-formed envelope, and with indefinite lengths.
  const envelope = tlv(0x30, deep, tlv(0x30, tlv(0x06, Uint8Array.of(0x2a))), tlv(0x03, Uint8Array.of(0)))
  const indefinite = new Uint8Array(40_000)
  for (let i = 0; i < 10_000; i++) indefinite.set([0x30, 0x80], i * 2)
  for (const [label, der] of [['deep certificate', deep], ['deep TBS', envelope], ['indefinite', indefinite]] as const) {
    const value = toAlbHeader([pemOf(der)])
    const r = timings.time(label, () => wide.verifySync(value))
    assertDefinedRefusal(r, label)
    assert.equal(r.reason, 'bad-der', label)
  }
})

test('deep nesting inside a signed extension: refused by certificate size, or as a bad extension', async () => {
  const wide = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 20 })
  // 10,000 levels make a certificate larger than the per-certificate bound: refused before asn1js.
  const huge = await p.issue({ subject: 'CN=deep', extensions: [{ oid: '2.5.29.17', value: nestedSequences(10_000) }] })
  const r = timings.time('10,000-deep SAN', () => wide.verifySync(header(huge, p.intermediate)))
  assertDefinedRefusal(r, '10,000-deep SAN')
  assert.equal(r.reason, 'bad-der')
  // 5,000 levels fit the bound and are 50 times asn1js' depth limit: a malformed extension.
  const deep = await p.issue({ subject: 'CN=deep', extensions: [{ oid: '2.5.29.17', value: nestedSequences(5_000) }] })
  const d = timings.time('5,000-deep SAN', () => wide.verifySync(header(deep, p.intermediate)))
  assertDefinedRefusal(d, '5,000-deep SAN')
  assert.equal(d.reason, 'invalid-certificate')
  assert.match(d.message, /2\.5\.29\.17 is malformed/)
})

test('an OID of 16 KB: refused by length by default; parsed and refused by policy when allowed in', async () => {
  const leaf = await p.issue({ subject: 'CN=long oid', extensions: [{ oid: longOidText(16_384), critical: true, value: Uint8Array.of(0x05, 0x00) }] })
  const value = header(leaf, p.intermediate)
  const r = timings.time('16 KB OID, default limit', () => verifier.verifySync(value))
  assertDefinedRefusal(r, '16 KB OID')
  assert.equal(r.reason, 'header-too-large')
  const wide = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 16 })
  const w = timings.time('16 KB OID, 64 KiB limit', () => wide.verifySync(value))
  assertDefinedRefusal(w, '16 KB OID')
  assert.equal(w.reason, 'unknown-critical-extension')
  // A 16 KB arc in the signature algorithm of an unsigned shape.
  const arc = new Uint8Array(16_384).fill(0xff)
  arc[arc.length - 1] = 0x7f
  const shape = tlv(0x30, tlv(0x30, tlv(0x02, Uint8Array.of(1))), tlv(0x30, tlv(0x06, Uint8Array.of(0x2a), arc)), tlv(0x03, Uint8Array.of(0)))
  const s = timings.time('16 KB OID arc', () => wide.verifySync(toAlbHeader([pemOf(shape)])))
  assertDefinedRefusal(s, '16 KB arc')
  assert.equal(s.reason, 'bad-der')
})

test('non-ASCII, non-UTF-8, NUL and overlong-length values are malformed', () => {
  const cases: Array<[string, string]> = [
    ['latin-1 bytes', good.replace('MII', 'M\u00c9I')],
    ['invalid UTF-8 escaped', good.replace('%0A', '%C3%28')],
    ['lone surrogate', good + '\ud800'],
    ['NUL escaped', good.replace('%0A', '%0A%00')],
    ['NUL literal', good.replace('MII', 'M\u0000II')],
    ['overlong DER length', toAlbHeader([pemOf(Uint8Array.of(0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00))])],
    ['indefinite DER length', toAlbHeader([pemOf(Uint8Array.of(0x30, 0x80, 0x30, 0x00, 0x00, 0x00))])]
  ]
  for (const [label, value] of cases) {
    const r = timings.time(label, () => verifier.verifySync(value))
    assertDefinedRefusal(r, label)
    assert.equal(r.code, 'FST_MTLS_CERT_MALFORMED', label)
  }
})

test('no unhandled rejection during the suite; timings report', (t) => {
  assert.deepEqual(rejections, [])
  t.diagnostic(`createVerifier: ${timings.summary()}`)
  t.diagnostic(`plugin inject: ${injectTimings.summary()}`)
})
