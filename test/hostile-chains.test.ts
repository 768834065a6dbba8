/**
 * Issue 12, item 1: one request never costs much more than a real chain. Work is asserted by
 * counting (signature checks, work units, steps, stored verdicts), never by timing; bench/hostile.ts
 * prints the times.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { createVerifier } from '../src/index.js'
import { createCertificate, createTestPki, generateKeyPair, type KeyPair, type TestPki } from '../src/testing/index.js'
import { parseCertificate, MAX_CERTIFICATE_ELEMENTS } from '../src/x509/parse.js'
import { buildPath, workBudget, type PathPolicy, type PathStats } from '../src/validation/path.js'
import { publicKeyOf } from '../src/validation/signature.js'
import { indexAnchors } from '../src/trust/trust-store.js'
import { VerdictCache, resolveCacheOptions } from '../src/verifier/cache.js'
import { header } from './helpers/pki.js'
import { nullBomb, rsaKeyWithExponent, selfIssuedFan, tlv, UNKNOWN_EXTENSION_OID } from './helpers/hostile.js'

let pki: TestPki
let rsa: TestPki

before(async () => {
  pki = await createTestPki({ algorithm: 'p-256' })
  rsa = await createTestPki({ algorithm: 'rsa-2048' })
})

const policy: PathPolicy = {
  clockToleranceMs: 0,
  ignoreExpiry: false,
  extendedKeyUsage: ['1.3.6.1.5.5.7.3.2'],
  allowAnyExtendedKeyUsage: false,
  maxChainDepth: 4,
  minRsaKeyBits: 2048,
  allowSha1: false
}

function reasonOf (r: { ok: boolean, reason?: string }): string {
  return r.ok ? 'ok' : r.reason!
}

/** A KeyPair whose SPKI is an RSAPublicKey of our choosing (the leaf's key signs nothing here). */
function rsaSpki (n: bigint, e: bigint, base: KeyPair): KeyPair {
  const int = (v: bigint): Uint8Array => {
    let hex = v.toString(16)
    if (hex.length % 2 === 1) hex = '0' + hex
    const bytes = Buffer.from(hex, 'hex')
    return tlv(0x02, (bytes[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
  }
  const rsaPublicKey = tlv(0x30, int(n), int(e))
  const algorithm = tlv(0x30, Uint8Array.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]))
  const spki = tlv(0x30, algorithm, tlv(0x03, Uint8Array.from([0]), rsaPublicKey))
  return { ...base, spki }
}

test('RSA public exponents outside the odd range 3 <= e < 2^32, and even moduli, are refused as weak-key', async () => {
  const v = createVerifier({ roots: rsa.root.pem })
  const base = await generateKeyPair('rsa-2048')
  const n = BigInt('0x' + Buffer.from(base.publicKey.export({ format: 'jwk' }).n!, 'base64url').toString('hex'))
  const cases: Array<[string, bigint, bigint, string]> = [
    ['e = 65537', n, 65537n, 'ok'],
    ['e = 3', n, 3n, 'ok'],
    ['e = 2^32 - 5', n, 0xffff_fffbn, 'ok'],
    ['e = 1', n, 1n, 'weak-key'],
    ['e = 65536 (even)', n, 65536n, 'weak-key'],
    ['e = 2^32 + 1', n, (1n << 32n) + 1n, 'weak-key'],
    ['e of 2047 bits', n, (1n << 2046n) + 1n, 'weak-key'],
    ['even modulus', n + 1n, 65537n, 'weak-key']
  ]
  for (const [label, modulus, e, expected] of cases) {
    const leaf = await rsa.issue({ subject: 'CN=exp', key: rsaSpki(modulus, e, base) })
    assert.equal(reasonOf(v.verifySync(header(leaf, rsa.intermediate))), expected, label)
  }
})

test('a CA with a 3071-bit public exponent is refused before any check with its key', async () => {
  const hugeE = await rsaKeyWithExponent(3072)
  const ca = await rsa.issue({ subject: 'CN=Huge E CA', key: hugeE, ca: true }, rsa.root)
  const leaf = await rsa.issue({ subject: 'CN=under huge e' }, ca)
  const parsed = [leaf, ca].map((c) => parseCertificate(c.der))
  const stats: PathStats = { signatures: 0, work: 0, steps: 0 }
  const r = buildPath(parsed[0]!, parsed.slice(1), indexAnchors([parseCertificate(rsa.root.der)]), policy, Date.now(), [], stats)
  assert.equal(r.ok ? 'ok' : r.problem.reason, 'weak-key')
  // The root's check of the CA; nothing verified with the CA's own key.
  assert.equal(stats.signatures, 1)
  assert.match(r.ok ? '' : r.problem.message, /exponent of 3071 bits/)
})

test("the issue's fan: five self-issued CAs sharing one key cost one signature check", async () => {
  // Named like the real intermediate, so names reach the root and the search has to look at keys.
  const fan = await selfIssuedFan('p-256', 5, false, pki.intermediate.subject)
  const parsed = [fan.leaf, ...fan.cas, pki.intermediate].map((c) => parseCertificate(c.der))
  const stats: PathStats = { signatures: 0, work: 0, steps: 0 }
  const r = buildPath(parsed[0]!, parsed.slice(1), indexAnchors([parseCertificate(pki.root.der)]), policy, Date.now(), [], stats)
  assert.equal(r.ok, false)
  // The leaf against the shared key once, the real intermediate against it; the shared key never
  // twice on a path, and the real intermediate's check of each fake happens once per (key, fake).
  assert.ok(stats.signatures <= 1 + 5, `signatures ${stats.signatures}`)
  // And through the verifier, with the same shape under 'CN=Evil CA' (no name reaches a root):
  // refused before any signature check.
  const evil = await selfIssuedFan('p-256', 5)
  const v = createVerifier({ roots: pki.root.pem })
  assert.equal(reasonOf(v.verifySync(header(evil.leaf, ...evil.cas))), 'untrusted')
  const stats2: PathStats = { signatures: 0, work: 0, steps: 0 }
  const evilParsed = [evil.leaf, ...evil.cas].map((c) => parseCertificate(c.der))
  buildPath(evilParsed[0]!, evilParsed.slice(1), indexAnchors([parseCertificate(pki.root.der)]), policy, Date.now(), [], stats2)
  assert.equal(stats2.signatures, 0)
})

test('a ring of self-issued CAs with distinct keys costs no check with their keys: only the real CA key vouches', async () => {
  for (const algorithm of ['p-256', 'p-521'] as const) {
    const ring = await selfIssuedFan(algorithm, 4, true, pki.intermediate.subject)
    const parsed = [ring.leaf, ...ring.cas, pki.intermediate].map((c) => parseCertificate(c.der))
    const stats: PathStats = { signatures: 0, work: 0, steps: 0 }
    const r = buildPath(parsed[0]!, parsed.slice(1), indexAnchors([parseCertificate(pki.root.der)]), policy, Date.now(), [], stats)
    assert.equal(r.ok ? 'ok' : r.problem.reason, 'bad-signature', algorithm)
    // The root's check of the real intermediate, the intermediate's key against each fake and
    // against the leaf: all with P-256 keys the PKI chose, whatever the fakes' algorithm.
    assert.ok(stats.signatures <= 1 + 4 + 1, `${algorithm}: ${stats.signatures} signature checks`)
    assert.ok(stats.work <= stats.signatures, `${algorithm}: work ${stats.work} (P-256 checks only)`)
  }
})

test('the work budget still ends a search: path-budget-exceeded', async () => {
  const p521 = await createTestPki({ algorithm: 'p-521' })
  const parsed = [p521.leaf, p521.intermediate].map((c) => parseCertificate(c.der))
  const anchors = indexAnchors([parseCertificate(p521.root.der)])
  // maxChainDepth 0: a budget of 16 units, less than one P-521 check (20).
  assert.equal(workBudget(0), 16)
  const stats: PathStats = { signatures: 0, work: 0, steps: 0 }
  const r = buildPath(parsed[0]!, parsed.slice(1), anchors, { ...policy, maxChainDepth: 0 }, Date.now(), [], stats)
  assert.equal(r.ok ? 'ok' : r.problem.reason, 'path-budget-exceeded')
  assert.equal(stats.signatures, 0)
  assert.ok(buildPath(parsed[0]!, parsed.slice(1), anchors, policy, Date.now()).ok)
})

test('legitimate chains fit the budget: P-384 at the full depth, P-521 with maxChainDepth - 1 intermediates', async () => {
  for (const [algorithm, intermediates] of [['p-384', 4], ['p-521', 3]] as const) {
    const local = await createTestPki({ algorithm })
    let issuer = local.root
    const chain = []
    for (let i = 0; i < intermediates; i++) {
      issuer = await local.issue({ subject: `CN=${algorithm} CA ${i}`, ca: true }, issuer)
      chain.unshift(issuer)
    }
    const leaf = await local.issue({ subject: 'CN=deep' }, issuer)
    const r = createVerifier({ roots: local.root.pem }).verifySync(header(leaf, ...chain))
    assert.equal(reasonOf(r), 'ok', `${algorithm} with ${intermediates} intermediates`)
  }
})

test('an unknown non-critical extension is kept as bytes, never parsed into a tree', async () => {
  // 12,000 NULLs: asn1js' own 10,000-node limit would refuse the certificate if it parsed them.
  const leaf = await pki.issue({ subject: 'CN=bomb', extensions: [{ oid: UNKNOWN_EXTENSION_OID, value: nullBomb(12_000) }] })
  const r = createVerifier({ roots: pki.root.pem, maxHeaderBytes: 1 << 16 }).verifySync(header(leaf, pki.intermediate))
  assert.equal(reasonOf(r), 'ok')
  const parsed = parseCertificate(leaf.der)
  assert.equal(parsed.extensions.find((e) => e.oid === UNKNOWN_EXTENSION_OID)?.value.length, 24_000 + 4)
})

test(`a certificate of more than ${MAX_CERTIFICATE_ELEMENTS} ASN.1 elements is refused before it is read`, async () => {
  const key = await generateKeyPair('p-256')
  const rdns = Array.from({ length: 130 }, (_, i) => [['OU', `u${i}`] as [string, string]])
  const wide = await createCertificate({ subject: [...rdns, [['CN', 'wide']]], key })
  assert.throws(() => parseCertificate(wide.der), /more than 512 ASN.1 elements/)
  const r = createVerifier({ roots: pki.root.pem }).verifySync(header(wide))
  assert.equal(reasonOf(r), 'bad-der')
  // 100 attributes in each name still read (a generous bound for real names).
  const fine = await createCertificate({ subject: [...rdns.slice(0, 50), [['CN', 'fine']]], key })
  assert.equal(parseCertificate(fine.der).subject.length, 51)
})

test('the same key in another SubjectPublicKeyInfo encoding is still the same key on the path', async () => {
  const a = parseCertificate(pki.intermediate.der)
  const key = publicKeyOf(a, policy)
  assert.ok(!('reason' in key))
  const jwk = key.export({ format: 'jwk' })
  const same = crypto.createPublicKey({ key: jwk, format: 'jwk' })
  assert.ok(same.equals(key))
})

test('verdict cache: an all-miss flood switches admission to second sight, and a real client is cached again at its second request', () => {
  const cache = new VerdictCache(resolveCacheOptions(undefined)!)
  const result = { ok: false, code: 'FST_MTLS_CERT_INVALID', reason: 'untrusted', message: 'x' } as const
  const now = 1_000_000
  // 2,048 distinct misses: the first window (256 lookups) stores, then the mode turns on.
  for (let i = 0; i < 2048; i++) {
    const key = `flood-${i}`.padEnd(32, '.')
    assert.equal(cache.get(key, key, now), undefined)
    cache.misses++
    cache.set(key, key, result, now, now, now + 1000)
  }
  const stored = cache.stats().entries
  assert.ok(cache.declined >= 2048 - 256, `declined ${cache.declined}`)
  assert.ok(stored <= 256, `stored ${stored}`)
  // A real client during the flood: not stored at first sight, stored at the second, hit at the third.
  const client = 'a-real-client-key-slice-000000000'
  assert.equal(cache.get(client, client, now), undefined)
  cache.set(client, client, result, now, now, now + 1000)
  assert.equal(cache.get(client, client, now), undefined)
  cache.set(client, client, result, now, now, now + 1000)
  assert.deepEqual(cache.get(client, client, now), result)
  // Once a window sees hits again, admission is immediate again.
  for (let i = 0; i < 1024; i++) cache.get(client, client, now)
  const fresh = 'after-the-flood-key-slice-0000000'
  cache.set(fresh, fresh, result, now, now, now + 1000)
  assert.deepEqual(cache.get(fresh, fresh, now), result)
})
