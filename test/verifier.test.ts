import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createVerifier, type VerifyResult } from '../src/index.js'
import { createCertificate, createTestPki, generateKeyPair, type TestPki } from '../src/testing/index.js'
import { cycle, header } from './helpers/pki.js'

let p: TestPki
before(async () => { p = await createTestPki() })

function reasonOf (r: VerifyResult): string {
  return r.ok ? 'ok' : `${r.code}:${r.reason}`
}

test('a valid leaf + intermediate yields the identity', () => {
  const v = createVerifier({ roots: p.root.pem })
  const r = v.verifySync(header(p.leaf, p.intermediate))
  assert.ok(r.ok, reasonOf(r))
  const c = r.certificate
  assert.equal(c.subject, 'CN=client,O=Example Corp')
  assert.equal(c.issuer, 'CN=Test Intermediate CA,O=fastify-alb-mtls')
  assert.deepEqual({ ...c.subjectAttributes }, { O: ['Example Corp'], CN: ['client'] })
  assert.equal(c.commonName, 'client')
  assert.equal(c.serialNumber, p.leaf.serialNumber)
  assert.deepEqual(c.san.dns, ['client.example.internal'])
  assert.equal(c.spiffeId, 'spiffe://example.org/ns/prod/sa/client')
  assert.equal(c.chain.length, 3)
  assert.equal(c.chain[2]!.subject, 'CN=Test Root CA,O=fastify-alb-mtls')
  assert.equal(c.pem.trim(), p.leaf.pem.trim())
  assert.equal(c.source, 'alb-passthrough')
  assert.equal(c.verifiedBy, 'fastify-alb-mtls')
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.san) && Object.isFrozen(c.chain))
})

test('identity fields agree with OpenSSL (independent reference)', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-'))
  return (async () => {
    const odd = await p.issue({
      subject: 'CN=O\\+Brien\\, Jr.,OU=Ops+OU=Eng,O=Ex\\"ample,C=DE',
      extendedKeyUsage: ['clientAuth'],
      san: { dns: ['a.example'], email: ['ops@example.org'], ip: ['10.1.2.3', '2001:db8::1'], uri: ['https://example.org/x'] }
    })
    const file = join(dir, 'leaf.pem')
    writeFileSync(file, odd.pem)
    let opensslSubject: string, opensslFingerprint: string, opensslSerial: string
    try {
      opensslSubject = execFileSync('openssl', ['x509', '-in', file, '-noout', '-subject', '-nameopt', 'RFC2253']).toString().trim().replace(/^subject=/, '')
      opensslFingerprint = execFileSync('openssl', ['x509', '-in', file, '-noout', '-fingerprint', '-sha256']).toString().trim().split('=')[1]!
      opensslSerial = execFileSync('openssl', ['x509', '-in', file, '-noout', '-serial']).toString().trim().split('=')[1]!
    } catch {
      t.skip('openssl is not available')
      return
    }
    const r = createVerifier({ roots: p.root.pem }).verifySync(header(odd, p.intermediate))
    assert.ok(r.ok, reasonOf(r))
    assert.equal(r.certificate.subject, opensslSubject)
    assert.equal(r.certificate.fingerprint256, opensslFingerprint.replace(/:/g, '').toLowerCase())
    assert.equal(r.certificate.serialNumber, opensslSerial.toLowerCase().replace(/^(00)+(?=.)/, ''))
    assert.deepEqual(r.certificate.subjectAttributes.OU, ['Eng', 'Ops'])
    assert.deepEqual(r.certificate.san.ip, ['10.1.2.3', '2001:db8::1'])
    assert.deepEqual(r.certificate.san.email, ['ops@example.org'])
    assert.equal(r.certificate.spiffeId, null)
  })()
})

test('missing, empty and repeated headers', () => {
  const v = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(v.verifySync(undefined)), 'FST_MTLS_CERT_MISSING:missing')
  assert.equal(reasonOf(v.verifySync('')), 'FST_MTLS_CERT_MISSING:missing')
  const h = header(p.leaf, p.intermediate)
  assert.equal(reasonOf(v.verifySync([h, h])), 'FST_MTLS_CERT_MALFORMED:repeated-header')
  assert.equal(reasonOf(v.verifySync(`${h}, ${h}`)), 'FST_MTLS_CERT_MALFORMED:repeated-header')
})

test('oversized headers are refused before parsing', () => {
  const v = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1024 })
  assert.equal(reasonOf(v.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_MALFORMED:header-too-large')
})

test('garbage DER inside valid PEM is malformed, not a crash', () => {
  const v = createVerifier({ roots: p.root.pem })
  const fake = '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n'
  assert.equal(reasonOf(v.verifySync(header({ pem: fake }))), 'FST_MTLS_CERT_MALFORMED:bad-der')
  const truncated = p.leaf.pem.replace(/\n[^\n]+\n-----END/, '\n-----END')
  assert.match(reasonOf(v.verifySync(header({ pem: truncated }))), /FST_MTLS_CERT_MALFORMED:bad-(der|base64)/)
})

test('leaf-order bypass: a self-signed CN=admin followed by the real intermediate is refused', async () => {
  const k = await generateKeyPair('p-256')
  const forged = await createCertificate({ subject: 'CN=admin', key: k, extendedKeyUsage: ['clientAuth'] })
  const v = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(v.verifySync(header(forged, p.intermediate))), 'FST_MTLS_CERT_INVALID:untrusted')
  // A forged leaf claiming the intermediate as issuer, signed with the attacker's key.
  const claimed = await createCertificate({ subject: 'CN=admin', key: k, extendedKeyUsage: ['clientAuth'], issuer: { certificate: p.intermediate, key: k } })
  assert.equal(reasonOf(v.verifySync(header(claimed, p.intermediate))), 'FST_MTLS_CERT_INVALID:bad-signature')
  // Reversed order (intermediate first, leaf last) makes the intermediate the leaf: a CA cannot be a client.
  assert.equal(reasonOf(v.verifySync(header(p.intermediate, p.leaf))), 'FST_MTLS_CERT_INVALID:ca-as-leaf')
})

test('a certificate cycle is answered at once', async () => {
  const { leaf, x, y } = await cycle()
  const v = createVerifier({ roots: p.root.pem })
  const started = process.hrtime.bigint()
  assert.equal(reasonOf(v.verifySync(header(leaf, x, y))), 'FST_MTLS_CERT_INVALID:untrusted')
  assert.equal(reasonOf(v.verifySync(header(leaf, y, x))), 'FST_MTLS_CERT_INVALID:untrusted')
  // Not a timing assertion on speed: a guard against a hang, far above any real cost.
  assert.ok(process.hrtime.bigint() - started < 5_000_000_000n)
})

test('the header order is a hint: intermediates in any order, root included or not', async () => {
  const sub = await p.issue({ subject: 'CN=Sub CA', ca: { pathLength: 0 } }, p.root)
  const leaf = await p.issue({ subject: 'CN=deep', extendedKeyUsage: ['clientAuth'] }, sub)
  const v = createVerifier({ roots: p.root.pem })
  assert.ok(v.verifySync(header(leaf, sub)).ok)
  assert.ok(v.verifySync(header(leaf, p.intermediate, sub, p.root)).ok)
  assert.ok(v.verifySync(header(p.leaf, p.root, p.intermediate)).ok)
})

test('a root inside the header is never a trust anchor', async () => {
  const other = await createTestPki({ freshKeys: true })
  const v = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(v.verifySync(header(other.leaf, other.intermediate, other.root))), 'FST_MTLS_CERT_INVALID:bad-signature')
  const renamed = await createTestPki({ freshKeys: true })
  const lone = await createCertificate({ subject: 'CN=Elsewhere Root', key: renamed.root.key, ca: true })
  const leaf = await createCertificate({ subject: 'CN=x', key: renamed.leaf.key, extendedKeyUsage: ['clientAuth'], issuer: { certificate: lone, key: renamed.root.key } })
  assert.equal(reasonOf(v.verifySync(header(leaf, lone))), 'FST_MTLS_CERT_INVALID:untrusted')
})

test('validity: expired, not yet valid, clock tolerance, ignoreExpiry', async () => {
  const now = Date.now()
  const expired = await p.issue({ subject: 'CN=old', notBefore: new Date(now - 10 * 86400e3), notAfter: new Date(now - 60e3) })
  const future = await p.issue({ subject: 'CN=new', notBefore: new Date(now + 60e3) })
  const v = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(v.verifySync(header(expired, p.intermediate))), 'FST_MTLS_CERT_INVALID:expired')
  assert.equal(reasonOf(v.verifySync(header(future, p.intermediate))), 'FST_MTLS_CERT_INVALID:not-yet-valid')
  const tolerant = createVerifier({ roots: p.root.pem, clockTolerance: 120 })
  assert.ok(tolerant.verifySync(header(expired, p.intermediate)).ok)
  assert.ok(tolerant.verifySync(header(future, p.intermediate)).ok)
  const ignoring = createVerifier({ roots: p.root.pem, ignoreExpiry: true })
  assert.ok(ignoring.verifySync(header(expired, p.intermediate)).ok)
  assert.equal(reasonOf(ignoring.verifySync(header(future, p.intermediate))), 'FST_MTLS_CERT_INVALID:not-yet-valid')
  const clocked = createVerifier({ roots: p.root.pem, now: () => new Date(now - 3600e3 - 60e3) })
  assert.equal(reasonOf(clocked.verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:not-yet-valid')
})

test('extended key usage: clientAuth required when present, configurable', async () => {
  const server = await p.issue({ subject: 'CN=server', extendedKeyUsage: ['serverAuth'] })
  const none = await p.issue({ subject: 'CN=none', extendedKeyUsage: false })
  const v = createVerifier({ roots: p.root.pem })
  assert.equal(reasonOf(v.verifySync(header(server, p.intermediate))), 'FST_MTLS_CERT_INVALID:extended-key-usage')
  assert.ok(v.verifySync(header(none, p.intermediate)).ok)
  assert.ok(createVerifier({ roots: p.root.pem, extendedKeyUsage: false }).verifySync(header(server, p.intermediate)).ok)
  assert.ok(createVerifier({ roots: p.root.pem, extendedKeyUsage: ['serverAuth'] }).verifySync(header(server, p.intermediate)).ok)
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, extendedKeyUsage: ['1.2.3.4'] }).verifySync(header(p.leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:extended-key-usage')
})

test('anyExtendedKeyUsage on the leaf: refused by default, satisfies any usage when allowed', async () => {
  const any = await p.issue({ subject: 'CN=any', extendedKeyUsage: ['anyExtendedKeyUsage'] })
  const clientAndAny = await p.issue({ subject: 'CN=client-any', extendedKeyUsage: ['clientAuth', 'anyExtendedKeyUsage'] })
  const strict = createVerifier({ roots: p.root.pem })
  // Listing the required usage next to anyExtendedKeyUsage does not help: the leaf is "for any purpose".
  for (const leaf of [any, clientAndAny]) {
    const result = strict.verifySync(header(leaf, p.intermediate))
    assert.equal(reasonOf(result), 'FST_MTLS_CERT_INVALID:extended-key-usage')
    assert.match(result.ok ? '' : result.message, /anyExtendedKeyUsage/)
  }
  const relaxed = createVerifier({ roots: p.root.pem, allowAnyExtendedKeyUsage: true })
  assert.ok(relaxed.verifySync(header(any, p.intermediate)).ok)
  assert.ok(relaxed.verifySync(header(clientAndAny, p.intermediate)).ok)
  assert.ok(createVerifier({ roots: p.root.pem, allowAnyExtendedKeyUsage: true, extendedKeyUsage: ['1.2.3.4'] }).verifySync(header(any, p.intermediate)).ok)
  // extendedKeyUsage: false turns every EKU rule off, this one included.
  assert.ok(createVerifier({ roots: p.root.pem, extendedKeyUsage: false }).verifySync(header(any, p.intermediate)).ok)
  // The leaf rule still holds where no anyExtendedKeyUsage is involved.
  assert.ok(relaxed.verifySync(header(p.leaf, p.intermediate)).ok)
  assert.throws(() => createVerifier({ roots: p.root.pem, extendedKeyUsage: ['anyExtendedKeyUsage'] }), { code: 'FST_MTLS_INVALID_OPTION', message: /allowAnyExtendedKeyUsage/ })
  assert.throws(() => createVerifier({ roots: p.root.pem, allowAnyExtendedKeyUsage: 'yes' as unknown as boolean }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.ok(createVerifier({ roots: p.root.pem, allowAnyExtendedKeyUsage: true, extendedKeyUsage: ['anyExtendedKeyUsage'] }).verifySync(header(any, p.intermediate)).ok)
})

test('CA as leaf, leaf keyUsage, issuer not a CA, issuer keyUsage, pathLen', async () => {
  const v = createVerifier({ roots: p.root.pem })
  const caLeaf = await p.issue({ subject: 'CN=ca-leaf', ca: true })
  assert.equal(reasonOf(v.verifySync(header(caLeaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:ca-as-leaf')
  const certSignLeaf = await p.issue({ subject: 'CN=kcs', keyUsage: ['digitalSignature', 'keyCertSign'] })
  assert.equal(reasonOf(v.verifySync(header(certSignLeaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:ca-as-leaf')
  const encOnly = await p.issue({ subject: 'CN=enc', keyUsage: ['keyEncipherment'] })
  assert.equal(reasonOf(v.verifySync(header(encOnly, p.intermediate))), 'FST_MTLS_CERT_INVALID:key-usage')

  const notCa = await p.issue({ subject: 'CN=Not A CA', ca: false }, p.root)
  const underNotCa = await p.issue({ subject: 'CN=child' }, notCa)
  assert.equal(reasonOf(v.verifySync(header(underNotCa, notCa))), 'FST_MTLS_CERT_INVALID:not-a-ca')
  const falseCa = await p.issue({ subject: 'CN=False CA', basicConstraints: { ca: false, critical: true }, keyUsage: ['keyCertSign'] }, p.root)
  const underFalseCa = await p.issue({ subject: 'CN=child2' }, falseCa)
  assert.equal(reasonOf(v.verifySync(header(underFalseCa, falseCa))), 'FST_MTLS_CERT_INVALID:not-a-ca')
  const noCertSign = await p.issue({ subject: 'CN=NoSign CA', ca: true, keyUsage: ['digitalSignature', 'cRLSign'] }, p.root)
  const underNoCertSign = await p.issue({ subject: 'CN=child3' }, noCertSign)
  assert.equal(reasonOf(v.verifySync(header(underNoCertSign, noCertSign))), 'FST_MTLS_CERT_INVALID:key-usage')

  // The intermediate has pathLenConstraint 0: a CA below it breaks the path.
  const sub = await p.issue({ subject: 'CN=Too Deep CA', ca: true })
  const deep = await p.issue({ subject: 'CN=deep' }, sub)
  assert.equal(reasonOf(v.verifySync(header(deep, sub, p.intermediate))), 'FST_MTLS_CERT_INVALID:path-length-exceeded')
})

test('maxChainDepth bounds the intermediates', async () => {
  const a = await p.issue({ subject: 'CN=A CA', ca: true }, p.root)
  const b = await p.issue({ subject: 'CN=B CA', ca: true }, a)
  const c = await p.issue({ subject: 'CN=C CA', ca: true }, b)
  const leaf = await p.issue({ subject: 'CN=deep' }, c)
  assert.ok(createVerifier({ roots: p.root.pem }).verifySync(header(leaf, c, b, a)).ok)
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, maxChainDepth: 2 }).verifySync(header(leaf, c, b, a))), 'FST_MTLS_CERT_INVALID:max-chain-depth-exceeded')
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem, maxChainDepth: 2 }).verifySync(header(leaf, c, b, a, p.root, p.intermediate))), 'FST_MTLS_CERT_MALFORMED:too-many-certificates')
})

test('unknown critical extensions are refused in the leaf and in issuers; non-critical ones pass', async () => {
  const v = createVerifier({ roots: p.root.pem })
  const ext = { oid: '1.3.6.1.4.1.55555.1', critical: true, value: new Uint8Array([0x05, 0x00]) }
  const leaf = await p.issue({ subject: 'CN=crit', extensions: [ext] })
  assert.equal(reasonOf(v.verifySync(header(leaf, p.intermediate))), 'FST_MTLS_CERT_INVALID:unknown-critical-extension')
  const ca = await p.issue({ subject: 'CN=Crit CA', ca: true, extensions: [ext] }, p.root)
  const under = await p.issue({ subject: 'CN=under' }, ca)
  assert.equal(reasonOf(v.verifySync(header(under, ca))), 'FST_MTLS_CERT_INVALID:unknown-critical-extension')
  const soft = await p.issue({ subject: 'CN=soft', extensions: [{ ...ext, critical: false }] })
  assert.ok(v.verifySync(header(soft, p.intermediate)).ok)
})

test('duplicate extensions make a certificate invalid', async () => {
  const v = createVerifier({ roots: p.root.pem })
  const twice = await p.issue({ subject: 'CN=dup', extensions: [{ oid: '1.3.6.1.4.1.55555.2', value: new Uint8Array([5, 0]) }, { oid: '1.3.6.1.4.1.55555.2', value: new Uint8Array([5, 0]) }] })
  assert.equal(reasonOf(v.verifySync(header(twice, p.intermediate))), 'FST_MTLS_CERT_INVALID:invalid-certificate')
})

test('bad signatures on the leaf and on the intermediate', async () => {
  const v = createVerifier({ roots: p.root.pem })
  const broken = await p.issue({ subject: 'CN=broken', corruptSignature: true })
  assert.equal(reasonOf(v.verifySync(header(broken, p.intermediate))), 'FST_MTLS_CERT_INVALID:bad-signature')
  const brokenCa = await p.issue({ subject: 'CN=Broken CA', ca: true, corruptSignature: true }, p.root)
  const under = await p.issue({ subject: 'CN=under' }, brokenCa)
  assert.equal(reasonOf(v.verifySync(header(under, brokenCa))), 'FST_MTLS_CERT_INVALID:bad-signature')
})

test('weak algorithms and keys are refused by default', async () => {
  const rsa = await createTestPki({ algorithm: 'rsa-2048' })
  const v = createVerifier({ roots: rsa.root.pem })
  assert.ok(v.verifySync(header(rsa.leaf, rsa.intermediate)).ok)
  const sha1 = await rsa.issue({ subject: 'CN=sha1', signatureHash: 'SHA-1' })
  assert.equal(reasonOf(v.verifySync(header(sha1, rsa.intermediate))), 'FST_MTLS_CERT_INVALID:weak-algorithm')
  assert.ok(createVerifier({ roots: rsa.root.pem, allowSha1: true }).verifySync(header(sha1, rsa.intermediate)).ok)
  const md5 = await rsa.issue({ subject: 'CN=md5', signatureHash: 'MD5' })
  assert.equal(reasonOf(createVerifier({ roots: rsa.root.pem, allowSha1: true }).verifySync(header(md5, rsa.intermediate))), 'FST_MTLS_CERT_INVALID:weak-algorithm')
  const small = await rsa.issue({ subject: 'CN=small', key: await generateKeyPair('rsa-1024') })
  assert.equal(reasonOf(v.verifySync(header(small, rsa.intermediate))), 'FST_MTLS_CERT_INVALID:weak-key')
  assert.ok(createVerifier({ roots: rsa.root.pem, minRsaKeyBits: 1024 }).verifySync(header(small, rsa.intermediate)).ok)
  const k1 = await p.issue({ subject: 'CN=k1', key: await generateKeyPair('secp256k1') })
  assert.equal(reasonOf(createVerifier({ roots: p.root.pem }).verifySync(header(k1, p.intermediate))), 'FST_MTLS_CERT_INVALID:weak-key')
  const pss = await rsa.issue({ subject: 'CN=pss', rsaPss: true, signatureHash: 'SHA-384' })
  assert.ok(v.verifySync(header(pss, rsa.intermediate)).ok)
})

test('roots: bundles with # comments, DER, several roots; bad roots throw at creation', () => {
  const bundle = `# ALB trust store\n${p.root.pem}\n# another\n${p.intermediate.pem}`
  assert.ok(createVerifier({ roots: bundle }).verifySync(header(p.leaf)).ok)
  assert.ok(createVerifier({ roots: Buffer.from(p.root.der) }).verifySync(header(p.leaf, p.intermediate)).ok)
  assert.ok(createVerifier({ roots: [Buffer.from(p.root.pem)] }).verifySync(header(p.leaf, p.intermediate)).ok)
  assert.throws(() => createVerifier({ roots: [] }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.throws(() => createVerifier({ roots: 'not a pem' }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.throws(() => createVerifier({ roots: Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]) }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.throws(() => createVerifier({ roots: p.root.pem, maxChainDepth: -1 }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.throws(() => createVerifier({ roots: p.root.pem, extendedKeyUsage: ['clientAuthh'] }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.throws(() => createVerifier({ roots: p.root.pem, clockTolerance: -5 }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('an intermediate in the roots is a trust anchor: the path ends there', () => {
  const v = createVerifier({ roots: p.intermediate.pem })
  const r = v.verifySync(header(p.leaf))
  assert.ok(r.ok, reasonOf(r))
  assert.equal(r.certificate.chain.length, 2)
})

test('reload swaps roots; bad material keeps the old set', async () => {
  const other = await createTestPki({ freshKeys: true })
  const v = createVerifier({ roots: p.root.pem })
  assert.ok(v.verifySync(header(p.leaf, p.intermediate)).ok)
  v.reload({ roots: other.root.pem })
  assert.ok(!v.verifySync(header(p.leaf, p.intermediate)).ok)
  assert.ok(v.verifySync(header(other.leaf, other.intermediate)).ok)
  assert.throws(() => v.reload({ roots: 'garbage' }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.ok(v.verifySync(header(other.leaf, other.intermediate)).ok)
})

test('verify() is the async form of verifySync()', async () => {
  const v = createVerifier({ roots: p.root.pem })
  const r = await v.verify(header(p.leaf, p.intermediate))
  assert.ok(r.ok)
})
