import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier, type VerifyResult } from '../src/index.js'
import { crlUsableAt, findEntry, loadCrls, parseCrl } from '../src/validation/crl.js'
import { parseCertificate } from '../src/x509/parse.js'
import { children, readOne } from '../src/x509/der.js'
import { createCrl, createTestPki, type Issued, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

let p: TestPki
let other: Issued
before(async () => {
  p = await createTestPki()
  other = await p.issue({ subject: 'CN=other client' })
})

function reasonOf (r: VerifyResult): string {
  return r.ok ? 'ok' : `${r.code}:${r.reason}`
}

const signer = (c: Issued): { certificate: Issued, key: Issued['key'] } => ({ certificate: c, key: c.key })

test('a leaf listed by its issuer\'s CRL is revoked; others are not', async () => {
  const crl = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: p.leaf.serialNumber, reason: 1 }] })
  const v = createVerifier({ roots: p.root.pem, crls: crl.pem })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
  assert.equal(reasonOf(v.verifySync(header(other, p.intermediate))), 'ok')
})

test('an intermediate revoked by the root\'s CRL refuses every leaf under it', async () => {
  const crl = await createCrl({ issuer: signer(p.root), revoked: [{ serialNumber: p.intermediate.serialNumber }] })
  const v = createVerifier({ roots: p.root.pem, crls: [crl.der] })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
})

test('the same serial on a CRL of another issuer does not revoke', async () => {
  const crl = await createCrl({ issuer: signer(p.root), revoked: [{ serialNumber: p.leaf.serialNumber }] })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: crl.pem }).verifySync(header(p.leaf, p.intermediate))), 'ok')
})

test('CRLs that cannot be trusted are refused when loaded', async () => {
  const forged = await createCrl({ issuer: signer(p.root), corruptSignature: true })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: forged.pem }), { code: 'FST_MTLS_INVALID_OPTION', message: /does not verify/ })
  const noNumber = await createCrl({ issuer: signer(p.intermediate), crlNumber: null })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: noNumber.pem }), { code: 'FST_MTLS_INVALID_OPTION', message: /has no cRLNumber .*requireCrlNumber: false/ })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: noNumber.pem, crlPolicy: { requireCrlNumber: 'no' as unknown as boolean } }), /requireCrlNumber\?: boolean/)
  const unnumberedDelta = await createCrl({ issuer: signer(p.intermediate), crlNumber: null, deltaBase: 1 })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: unnumberedDelta.pem, crlPolicy: { requireCrlNumber: false } }), /delta CRL without cRLNumber/)
  const noNext = await createCrl({ issuer: signer(p.intermediate), nextUpdate: null })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: noNext.pem }), /without nextUpdate/)
  // A delta CRL loads (issue 13); a deltaCRLIndicator that is not critical does not.
  const delta = await createCrl({ issuer: signer(p.intermediate), deltaBase: 1, crlNumber: 2 })
  assert.doesNotThrow(() => createVerifier({ roots: p.root.pem, crls: delta.pem }))
  const softDelta = await createCrl({ issuer: signer(p.intermediate), extensions: [{ oid: '2.5.29.27', value: new Uint8Array([2, 1, 1]) }] })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: softDelta.pem }), /deltaCRLIndicator must be critical/)
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: 'not a crl' }), /outside "X509 CRL"/)
  const noCrlSign = await p.issue({ subject: 'CN=No CRL Sign CA', ca: true, keyUsage: ['keyCertSign'] }, p.root)
  const crl = await createCrl({ issuer: signer(noCrlSign) })
  const v = createVerifier({ roots: p.root.pem, crls: crl.pem })
  const leaf = await p.issue({ subject: 'CN=under no crl sign' }, noCrlSign)
  // Issued by an intermediate: checked when a path goes through it.
  assert.equal(reasonOf(v.verifySync(header(leaf, noCrlSign))), 'FST_MTLS_CERT_INVALID:crl-unusable')
})

test('requireCrlNumber: false uses a v1 CRL (no extensions, no cRLNumber: `openssl ca -gencrl` without a crlnumber file)', async () => {
  const v1 = await createCrl({ issuer: signer(p.intermediate), crlNumber: null, authorityKeyIdentifier: false, revoked: [{ serialNumber: p.leaf.serialNumber }] })
  const tbs = children(readOne(v1.der).value)[0]!
  assert.equal(children(tbs.value)[0]!.tag, 0x30, 'no version field: TBSCertList starts with the AlgorithmIdentifier')
  assert.equal(parseCrl(v1.der).crlNumber, null)
  const v = createVerifier({ roots: p.root.pem, crls: v1.pem, crlPolicy: { onMissing: 'reject', requireCrlNumber: false } })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
  // onMissing 'reject' also needs the root's CRL for the intermediate: a v2 CRL without cRLNumber.
  const rootCrl = await createCrl({ issuer: signer(p.root), crlNumber: null })
  const both = createVerifier({ roots: p.root.pem, crls: [v1.pem, rootCrl.pem], crlPolicy: { onMissing: 'reject', requireCrlNumber: false } })
  assert.equal(reasonOf(both.verifySync(header(other, p.intermediate))), 'ok')
  assert.equal(reasonOf(both.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
})

test('a delta CRL cannot build on a complete CRL without cRLNumber (RFC 5280 5.2.4): the pair is unusable', async () => {
  const base = await createCrl({ issuer: signer(p.intermediate), crlNumber: null })
  const delta = await createCrl({ issuer: signer(p.intermediate), crlNumber: 2, deltaBase: 1 })
  const r = createVerifier({ roots: p.root.pem, crls: [base.pem, delta.pem], crlPolicy: { requireCrlNumber: false } }).verifySync(header(other, p.intermediate))
  assert.equal(reasonOf(r), 'FST_MTLS_CERT_INVALID:crl-unusable')
  assert.match(r.ok ? '' : r.message, /complete CRL held is unnumbered/)
})

test('an intermediate\'s CRL with a bad signature, or out of its validity window, is unusable', async () => {
  const forged = await createCrl({ issuer: signer(p.intermediate), corruptSignature: true })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: forged.pem }).verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:crl-unusable')
  const past = new Date(Date.now() - 30 * 86400_000)
  const stale = await createCrl({ issuer: signer(p.intermediate), thisUpdate: past, nextUpdate: new Date(past.getTime() + 86400_000) })
  // Stale when loaded: a clear error at load time (issue 5: fail closed, see crlPolicy).
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: stale.pem }), { code: 'FST_MTLS_INVALID_OPTION' })
  // Fresh when loaded, stale later: refused at request time.
  let clock = Date.now()
  const fresh = await createCrl({ issuer: signer(p.intermediate), nextUpdate: new Date(clock + 3600_000) })
  const aging = createVerifier({ roots: p.root.pem, crls: fresh.pem, now: () => new Date(clock) })
  assert.equal(reasonOf(aging.verifySync(header(p.leaf, p.intermediate))), 'ok')
  clock += 2 * 3600_000
  assert.equal(reasonOf(aging.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:crl-unusable')
  const parsed = parseCrl(stale.der)
  assert.equal(crlUsableAt(parsed, Date.now())?.reason, 'stale')
  assert.equal(crlUsableAt(parsed, past.getTime() - 1000)?.reason, 'not-yet-valid')
  assert.equal(crlUsableAt(parsed, past.getTime() + 1000), null)
})

test('PEM bundles with comment lines, DER, and a large CRL with O(1) lookups', async () => {
  const a = await createCrl({ issuer: signer(p.root) })
  const revoked = Array.from({ length: 1500 }, (_, i) => ({ serialNumber: BigInt(1_000_000 + i) }))
  revoked.push({ serialNumber: BigInt('0x' + p.leaf.serialNumber) })
  const b = await createCrl({ issuer: signer(p.intermediate), revoked })
  const loaded = loadCrls([`# ALB trust store CRLs\n${a.pem}\n# second\n${b.pem}`, Buffer.from(a.der)])
  assert.equal(loaded.length, 3)
  assert.equal(loaded[1]!.entries.size, 1501)
  assert.ok(findEntry(loaded[1]!, loaded[1]!.issuerKey, parseCertificate(p.leaf.der).serialBytes) !== undefined)
  const v = createVerifier({ roots: p.root.pem, crls: `${a.pem}${b.pem}` })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
  assert.equal(reasonOf(v.verifySync(header(other, p.intermediate))), 'ok')
})

test('reload swaps CRLs atomically and keeps the old ones when the new set is bad', async () => {
  const v = createVerifier({ roots: p.root.pem })
  assert.ok(v.verifySync(header(p.leaf, p.intermediate)).ok)
  const crl = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: p.leaf.serialNumber }] })
  v.reload({ crls: crl.pem })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
  const forged = await createCrl({ issuer: signer(p.root), corruptSignature: true })
  assert.throws(() => v.reload({ crls: forged.pem }), /does not verify/)
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:revoked')
  v.reload({ crls: [] })
  assert.ok(v.verifySync(header(p.leaf, p.intermediate)).ok)
})
