/**
 * Revocation per RFC 5280 6.3 (issue 13): separate CRL signers, key rollover, revoked CRL signers,
 * partitioned, indirect and delta CRLs, reason codes, signed serials and crlPolicy.onMissing.
 */
import { test, before } from 'node:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { createAlbVerifyVerifier, createVerifier, loadTrustStore, readAlbVerifyHeaders, type VerifyResult } from '../src/index.js'
import { createCertificate, createCrl, createTestPki, crlDistributionPoints, generateKeyPair, toAlbHeader, CrlReason, type Issued, type TestPki } from '../src/testing/index.js'
import fc from 'fast-check'
import { header } from './helpers/pki.js'
import { fuzzParameters } from './helpers/hostile.js'
import { CrlError, createRevocation, loadCrls, parseCrl, serialKey } from '../src/validation/crl.js'
import { parseDistributionPoints, parseIssuingDistributionPoint } from '../src/validation/revocation/scope.js'
import { parseCertificate } from '../src/x509/parse.js'
import { revocationScenarios, type Scenario } from './helpers/revocation-pkis.js'

let scenarios: Scenario[]
let p: TestPki
before(async () => {
  scenarios = await revocationScenarios()
  p = await createTestPki({ algorithm: 'p-256' })
})

function reasonOf (r: VerifyResult): string {
  return r.ok ? 'ok' : r.reason
}

const signer = (c: Issued): { certificate: Issued, key: Issued['key'] } => ({ certificate: c, key: c.key })

test('every scenario gets the expected verdict (onMissing reject), certificates in the header', () => {
  for (const s of scenarios) {
    const v = createVerifier({ roots: s.root.pem, crls: s.crls.map((c) => c.pem), crlPolicy: { onMissing: 'reject' } })
    assert.equal(reasonOf(v.verifySync(header(s.leaf, ...s.chain))), s.expect, s.name)
  }
})

test('the same verdicts with the chain configured as intermediates, or CRL signers in the CRL bundle', () => {
  for (const s of scenarios) {
    const viaIntermediates = createVerifier({ roots: s.root.pem, intermediates: s.chain.map((c) => c.pem), crls: s.crls.map((c) => c.pem), crlPolicy: { onMissing: 'reject' } })
    assert.equal(reasonOf(viaIntermediates.verifySync(header(s.leaf))), s.expect, `${s.name} (intermediates)`)
    // CRL signers that are not on the path travel with the CRLs.
    const [first, ...rest] = s.chain
    const bundle = [...s.crls.map((c) => c.pem), ...rest.map((c) => c.pem)].join('')
    const viaBundle = createVerifier({ roots: s.root.pem, crls: bundle, crlPolicy: { onMissing: 'reject' } })
    assert.equal(reasonOf(viaBundle.verifySync(header(s.leaf, first!))), s.expect, `${s.name} (CRL bundle)`)
  }
})

test('onMissing allow (default): a certificate no CRL concerns is not checked; a configured CRL is never ignored', () => {
  for (const s of scenarios) {
    const v = createVerifier({ roots: s.root.pem, crls: s.crls.map((c) => c.pem) })
    const expected = s.expect === 'revocation-unknown' ? 'ok' : s.expect
    assert.equal(reasonOf(v.verifySync(header(s.leaf, ...s.chain))), expected, `${s.name} (allow)`)
  }
})

test('onMissing reject without any CRL refuses; the option is validated', () => {
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crlPolicy: { onMissing: 'reject' } }).verifySync(header(p.leaf, p.intermediate))), 'revocation-unknown')
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crlPolicy: { onMissing: 'allow' } }).verifySync(header(p.leaf, p.intermediate))), 'ok')
  assert.throws(() => createVerifier({ roots: p.root.pem, crlPolicy: { onMissing: 'maybe' as 'allow' } }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('a CRL signed with the issuer\'s key under another name is not silently ignored', async () => {
  const stranger = await p.issue({ subject: 'CN=Not The Intermediate', ca: true }, p.root)
  const crl = await createCrl({ issuer: { certificate: stranger, key: p.intermediate.key }, authorityKeyIdentifier: p.intermediate.subjectKeyIdentifier! })
  const v = createVerifier({ roots: p.root.pem, crls: crl.pem })
  const r = v.verifySync(header(p.leaf, p.intermediate))
  assert.equal(reasonOf(r), 'crl-unusable')
  assert.match(r.ok ? '' : r.message, /names another issuer/)
})

test('refusal messages say which CRL and why', async () => {
  const crl = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: p.leaf.serialNumber, reason: 6 }] })
  const r = createVerifier({ roots: p.root.pem, crls: crl.pem }).verifySync(header(p.leaf, p.intermediate))
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.message, /revoked by CRL 01 \(certificateHold\)/)
})

test('verify mode: the same rules on the path built from configured intermediates; onMissing reject needs roots', () => {
  const s = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
  const headersOf = (cert: Issued, issuer: Issued): Record<string, string> => ({
    'x-amzn-mtls-clientcert-serial-number': cert.serialNumber.toUpperCase(),
    'x-amzn-mtls-clientcert-issuer': String(issuer.subject),
    'x-amzn-mtls-clientcert-subject': String(cert.subject),
    'x-amzn-mtls-clientcert-validity': `NotBefore=${s(cert.spec.notBefore!)};NotAfter=${s(cert.spec.notAfter!)}`,
    'x-amzn-mtls-clientcert-leaf': toAlbHeader([cert.pem])
  })
  for (const sc of scenarios.filter((x) => x.name.startsWith('separate CRL signer') || x.name.startsWith('indirect'))) {
    const v = createAlbVerifyVerifier({ roots: sc.root.pem, intermediates: sc.chain.map((c) => c.pem), crls: sc.crls.map((c) => c.pem), crlPolicy: { onMissing: 'reject' } })
    assert.equal(reasonOf(v.verifySync(readAlbVerifyHeaders(headersOf(sc.leaf, sc.chain[0]!)))), sc.expect, `${sc.name} (verify mode)`)
  }
  assert.throws(() => createAlbVerifyVerifier({ crlPolicy: { onMissing: 'reject' } }), { code: 'FST_MTLS_INVALID_OPTION' })
  const strict = createAlbVerifyVerifier({ roots: p.root.pem, intermediates: p.intermediate.pem, crlPolicy: { onMissing: 'reject' } })
  assert.equal(reasonOf(strict.verifySync(readAlbVerifyHeaders(headersOf(p.leaf, p.intermediate)))), 'revocation-unknown')
})

test('revocation work is bounded: an exhausted budget refuses (crl-unusable), it never accepts', () => {
  const sc = scenarios.find((x) => x.name === 'separate CRL signer, leaf not listed')!
  const policy = { minRsaKeyBits: 2048, allowSha1: false, clockToleranceMs: 0, ignoreExpiry: false, extendedKeyUsage: false as const, allowAnyExtendedKeyUsage: false }
  const parse = (c: Issued): ReturnType<typeof parseCertificate> => parseCertificate(c.der)
  const root = parse(sc.root)
  const chain = sc.chain.map(parse)
  const revocation = createRevocation(loadCrls(sc.crls.map((c) => c.pem)), [root], policy)
  const path = [parse(sc.leaf), chain[0]!, root]
  assert.equal(revocation.check(path, Date.now(), chain), null)
  const starved = createRevocation(loadCrls(sc.crls.map((c) => c.pem)), [root], policy)
  const refused = starved.check(path, Date.now(), chain, { remaining: 0 })
  assert.equal(refused?.reason, 'crl-unusable')
  assert.match(refused?.message ?? '', /work limit/)
})

test('made-up CRL signers in the header show a path before their key is tried on the CRL (a CRL signature hashes the whole CRL)', async () => {
  const sc = scenarios.find((x) => x.name === 'separate CRL signer, leaf not listed')!
  const crlSigner = sc.chain[1]!
  const other = await createTestPki({ algorithm: 'p-256' })
  const madeUp: Issued[] = []
  for (let i = 0; i < 3; i++) {
    const key = await generateKeyPair('p-256')
    madeUp.push({ ...await createCertificate({ subject: crlSigner.subject, key, issuer: signer(other.root), keyUsage: ['cRLSign'], extendedKeyUsage: false, subjectKeyIdentifier: crlSigner.subjectKeyIdentifier }), key })
  }
  const v = createVerifier({ roots: sc.root.pem, crls: sc.crls.map((c) => c.pem), crlPolicy: { onMissing: 'reject' } })
  assert.equal(reasonOf(v.verifySync(header(sc.leaf, sc.chain[0]!, ...madeUp, crlSigner))), 'ok')
  const r = v.verifySync(header(sc.leaf, sc.chain[0]!, ...madeUp))
  assert.equal(reasonOf(r), 'crl-unusable')
  // Refused for their missing path, not for a CRL signature their keys were tried on.
  assert.match(r.ok ? '' : r.message, new RegExp(`CRL signer ${madeUp[2]!.serialNumber}: no path from CRL signer to the trust anchor`))
})

test('a leaf with unreadable cRLDistributionPoints: refused when its issuer has CRLs, unchecked otherwise (allow)', async () => {
  const odd = await p.issue({ subject: 'CN=odd dp', extendedKeyUsage: ['clientAuth'], extensions: [{ oid: '2.5.29.31', value: Uint8Array.of(0x30, 0x02, 0x30, 0x00) }] })
  const crl = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: 1n, reason: CrlReason.superseded }] })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: crl.pem }).verifySync(header(odd, p.intermediate))), 'crl-unusable')
  const rootOnly = await createCrl({ issuer: signer(p.root) })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: rootOnly.pem }).verifySync(header(odd, p.intermediate))), 'ok')
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem }).verifySync(header(odd, p.intermediate))), 'ok')
})

test('loadTrustStore: a self-issued rollover certificate is not a root; its CRLs apply through it', async () => {
  const sc = scenarios.find((x) => x.name === 'CRL signed with the new key, certified by the old one (self-issued)')!
  const [rollOld, newWithOld] = sc.chain
  const dir = mkdtempSync(join(tmpdir(), 'mtls-rollover-'))
  try {
    writeFileSync(join(dir, 'ca-bundle.pem'), `# root, the CA's old key, its new key (self-issued)\n${sc.root.pem}${rollOld!.pem}${newWithOld!.pem}`)
    writeFileSync(join(dir, 'crls.pem'), sc.crls.map((c) => c.pem).join(''))
    const store = await loadTrustStore(dir)
    assert.equal(store.roots.length, 1)
    assert.equal(store.intermediates.length, 2)
    const v = createVerifier({ ...store, crlPolicy: { onMissing: 'reject' } })
    assert.equal(reasonOf(v.verifySync(header(sc.leaf))), 'revoked')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('hostile bytes: CRL, issuingDistributionPoint and cRLDistributionPoints readers throw only their own errors', async () => {
  const rich = await createCrl({
    issuer: signer(p.intermediate),
    revoked: [{ serialNumber: 5n, reason: 1, certificateIssuer: 'CN=Other CA' }, { serialNumber: -3n }],
    issuingDistributionPoint: { uri: ['http://x.test/a.crl'], dirName: ['CN=Part'], indirectCRL: true, onlySomeReasons: ['keyCompromise', 'aACompromise'] },
    deltaBase: 1,
    crlNumber: 2
  })
  assert.equal(parseCrl(rich.der).entries.size, 2)
  fc.assert(fc.property(fc.integer({ min: 0, max: rich.der.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, byte) => {
    const bytes = rich.der.slice()
    bytes[at] = byte
    try { parseCrl(bytes) } catch (err) { assert.ok(err instanceof CrlError, String(err)) }
  }), fuzzParameters(300))
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    // Plain Errors with a message, never a crash of another kind.
    for (const read of [() => parseIssuingDistributionPoint(bytes, []), () => parseDistributionPoints(bytes, [])]) {
      try { read() } catch (err) { assert.ok(err instanceof Error && typeof err.message === 'string') }
    }
  }), fuzzParameters(300))
})

test('validUntil covers the CRLs a CRL signer\'s status relied on', async () => {
  const crlCa = await p.issue({ subject: 'CN=CRL CA', ca: true }, p.root)
  const signerKey = await generateKeyPair('p-256')
  const crlSigner = { ...await createCertificate({ subject: p.intermediate.subject, key: signerKey, issuer: signer(crlCa), keyUsage: ['cRLSign'], extendedKeyUsage: false }), key: signerKey }
  const soon = Date.now() + 3600_000
  const crls = [
    await createCrl({ issuer: signer(crlSigner) }),
    await createCrl({ issuer: signer(crlCa), nextUpdate: new Date(soon) }),
    await createCrl({ issuer: signer(p.root) })
  ]
  const v = createVerifier({ roots: p.root.pem, crls: crls.map((c) => c.pem), crlPolicy: { onMissing: 'reject' } })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate, crlSigner, crlCa))), 'ok')
  const policy = { minRsaKeyBits: 2048, allowSha1: false, clockToleranceMs: 0, ignoreExpiry: false, extendedKeyUsage: false as const, allowAnyExtendedKeyUsage: false }
  const parsed = [p.leaf, p.intermediate, p.root, crlSigner, crlCa].map((c) => parseCertificate(c.der))
  const revocation = createRevocation(loadCrls(crls.map((c) => c.pem)), [parsed[2]!], policy, { onMissing: 'reject' })
  const path = parsed.slice(0, 3)
  assert.equal(revocation.check(path, Date.now(), parsed.slice(3)), null)
  assert.ok(revocation.validUntil(path) <= soon, 'the CRL CA\'s CRL bounds the verdict')
})

test('serial keys keep the sign and drop only redundant sign octets', () => {
  assert.equal(serialKey(Uint8Array.of(0x00, 0xff)), '00ff') // +255
  assert.equal(serialKey(Uint8Array.of(0xff)), 'ff') // -1
  assert.equal(serialKey(Uint8Array.of(0x00, 0x00, 0x7f)), '7f')
  assert.equal(serialKey(Uint8Array.of(0xff, 0xff, 0x80)), '80') // -128
  assert.equal(serialKey(Uint8Array.of(0x00)), '00')
})

test('two hierarchies with the same names (a rotation overlap): each CRL applies to its own CA only', async () => {
  const old = await createTestPki()
  const fresh = await createTestPki({ freshKeys: true })
  assert.equal(old.intermediate.spec.subject, fresh.intermediate.spec.subject)
  const revokeOld = await createCrl({ issuer: signer(old.intermediate), revoked: [{ serialNumber: old.leaf.serialNumber }], crlNumber: 2 })
  const rootCrl = await createCrl({ issuer: signer(old.root), revoked: [], crlNumber: 1 })
  const both = { roots: [old.root.pem, fresh.root.pem], intermediates: [old.intermediate.pem, fresh.intermediate.pem], crls: [revokeOld.pem, rootCrl.pem] }
  // The old CA's CRL revokes the old leaf; the new CA's leaf, same issuer name, is not in its scope.
  assert.equal(reasonOf(createVerifier(both).verifySync(header(old.leaf, old.intermediate))), 'revoked')
  assert.equal(reasonOf(createVerifier(both).verifySync(header(fresh.leaf, fresh.intermediate))), 'ok')
  // Under onMissing reject the new CA has no CRL: its status is unknown, not good.
  assert.equal(reasonOf(createVerifier({ ...both, crlPolicy: { onMissing: 'reject' } }).verifySync(header(fresh.leaf, fresh.intermediate))), 'revocation-unknown')
  // With only the new CA configured, a CRL naming its issuer that nothing configured can verify is never ignored.
  const onlyFresh = createVerifier({ roots: fresh.root.pem, intermediates: fresh.intermediate.pem, crls: [revokeOld.pem] })
  assert.equal(reasonOf(onlyFresh.verifySync(header(fresh.leaf, fresh.intermediate))), 'crl-unusable')
})

test('a critical cRLDistributionPoints is understood and processed, in the leaf and in an intermediate (RFC 5280 4.2.1.13)', async () => {
  const part = 'http://crl.example.test/part-a.crl'
  const other = 'http://crl.example.test/part-b.crl'
  const dp = crlDistributionPoints([{ uri: [part] }], true)
  const leaf = await p.issue({ subject: 'CN=critical dp', extendedKeyUsage: ['clientAuth'], extensions: [dp] })
  const ca = await p.issue({ subject: 'CN=Critical DP CA', ca: true, extensions: [dp] }, p.root)
  const under = await p.issue({ subject: 'CN=under critical dp', extendedKeyUsage: ['clientAuth'] }, ca)
  const plain = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(plain.verifySync(header(leaf, p.intermediate))), 'ok')
  assert.equal(reasonOf(plain.verifySync(header(under, ca))), 'ok')
  // The distribution point decides which CRL speaks for the certificate: a partition naming it does.
  const leafRevoked = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: leaf.serialNumber }], issuingDistributionPoint: { uri: [part] } })
  const caRevoked = await createCrl({ issuer: signer(p.root), revoked: [{ serialNumber: ca.serialNumber }], issuingDistributionPoint: { uri: [part] } })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: leafRevoked.pem }).verifySync(header(leaf, p.intermediate))), 'revoked')
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: caRevoked.pem }).verifySync(header(under, ca))), 'revoked')
  const leafClean = await createCrl({ issuer: signer(p.intermediate), issuingDistributionPoint: { uri: [part] } })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: leafClean.pem, crlPolicy: { onMissing: 'reject' } }).verifySync(header(leaf, p.intermediate))), 'revocation-unknown', 'the root has no CRL')
  const rootClean = await createCrl({ issuer: signer(p.root) })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, crls: [leafClean.pem, rootClean.pem], crlPolicy: { onMissing: 'reject' } }).verifySync(header(leaf, p.intermediate))), 'ok')
  // A partition for another distribution point does not speak for it, even when it lists the serial.
  const otherPart = await createCrl({ issuer: signer(p.intermediate), revoked: [{ serialNumber: leaf.serialNumber }], issuingDistributionPoint: { uri: [other] } })
  const outOfScope = createVerifier({ roots: p.root.pem, crls: [otherPart.pem, rootClean.pem], crlPolicy: { onMissing: 'reject' } }).verifySync(header(leaf, p.intermediate))
  assert.notEqual(reasonOf(outOfScope), 'ok')
  assert.notEqual(reasonOf(outOfScope), 'revoked')
})

test('a critical cRLDistributionPoints that cannot be read refuses the certificate, with or without CRLs', async () => {
  const unreadable = { oid: '2.5.29.31', critical: true, value: Uint8Array.of(0x30, 0x02, 0x30, 0x00) }
  const leaf = await p.issue({ subject: 'CN=bad critical dp', extendedKeyUsage: ['clientAuth'], extensions: [unreadable] })
  const ca = await p.issue({ subject: 'CN=Bad Critical DP CA', ca: true, extensions: [unreadable] }, p.root)
  const under = await p.issue({ subject: 'CN=under bad dp', extendedKeyUsage: ['clientAuth'] }, ca)
  const r = createVerifier({ roots: p.root.pem }).verifySync(header(leaf, p.intermediate))
  assert.equal(reasonOf(r), 'invalid-certificate')
  assert.match(r.ok ? '' : r.message, /critical malformed cRLDistributionPoints/)
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem }).verifySync(header(under, ca))), 'invalid-certificate')
})

test('a critical freshestCRL is refused in the leaf and in an intermediate: never processed from a certificate (RFC 5280 4.2, 4.2.1.15)', async () => {
  const freshest = { ...crlDistributionPoints([{ uri: ['http://crl.example.test/delta.crl'] }], true), oid: '2.5.29.46' }
  const leaf = await p.issue({ subject: 'CN=critical freshest', extendedKeyUsage: ['clientAuth'], extensions: [freshest] })
  const ca = await p.issue({ subject: 'CN=Critical Freshest CA', ca: true, extensions: [freshest] }, p.root)
  const under = await p.issue({ subject: 'CN=under critical freshest', extendedKeyUsage: ['clientAuth'] }, ca)
  const crls = [(await createCrl({ issuer: signer(p.intermediate) })).pem, (await createCrl({ issuer: signer(p.root) })).pem]
  for (const v of [createVerifier({ roots: p.root.pem }), createVerifier({ roots: p.root.pem, crls })]) {
    const r = v.verifySync(header(leaf, p.intermediate))
    assert.equal(reasonOf(r), 'unknown-critical-extension')
    assert.match(r.ok ? '' : r.message, /critical extension 2\.5\.29\.46 is not understood/)
    assert.equal(reasonOf(v.verifySync(header(under, ca))), 'unknown-critical-extension')
  }
  // Non-critical, as RFC 5280 requires: accepted.
  const soft = await p.issue({ subject: 'CN=soft freshest', extendedKeyUsage: ['clientAuth'], extensions: [{ ...freshest, critical: false }] })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem }).verifySync(header(soft, p.intermediate))), 'ok')
})
