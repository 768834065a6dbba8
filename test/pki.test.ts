import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  clearKeyPool, createCertificate, createCrl, createTestPki, encodeName, generateKeyPair,
  keyAlgorithms, parseName, toAlbHeader
} from '../src/testing/index.js'
import type { Issued } from '../src/testing/index.js'

const dir = mkdtempSync(join(tmpdir(), 'pki-test-'))
after(() => rmSync(dir, { recursive: true, force: true }))

// Large RSA keys take seconds to generate: start filling the pool now so the work
// overlaps with the other tests (createTestPki then picks these keys up).
for (const algorithm of ['rsa-3072', 'rsa-4096'] as const) {
  for (let i = 0; i < 3; i++) generateKeyPair(algorithm).catch(() => {})
}

let fileCounter = 0
function file (content: string): string {
  const path = join(dir, `f${fileCounter++}.pem`)
  writeFileSync(path, content)
  return path
}

function openssl (...args: string[]): { ok: boolean; out: string } {
  const result = spawnSync('openssl', args, { encoding: 'utf8' })
  return { ok: result.status === 0, out: `${result.stdout}${result.stderr}` }
}

function verify (root: Issued, intermediates: Issued[], leaf: { pem: string }, ...extra: string[]): { ok: boolean; out: string } {
  const args = ['verify', ...extra, '-CAfile', file(root.pem)]
  if (intermediates.length > 0) args.push('-untrusted', file(intermediates.map((c) => c.pem).join('')))
  return openssl(...args, file(leaf.pem))
}

function text (cert: { pem: string }): string {
  return openssl('x509', '-noout', '-text', '-in', file(cert.pem)).out
}

test('extensions as openssl sees them', async () => {
  const pki = await createTestPki()
  const root = text(pki.root)
  assert.match(root, /Basic Constraints: critical\s+CA:TRUE\n/)
  assert.match(root, /Key Usage: critical\s+Certificate Sign, CRL Sign/)
  assert.doesNotMatch(root, /Authority Key Identifier/)
  assert.doesNotMatch(root, /Extended Key Usage/)

  const intermediate = text(pki.intermediate)
  assert.match(intermediate, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/)
  assert.match(intermediate, /Issuer: O = fastify-alb-mtls, CN = Test Root CA/)
  const ski = /Subject Key Identifier:\s+([0-9A-F:]+)/.exec(root)?.[1]
  assert.ok(ski)
  assert.match(intermediate, new RegExp(`Authority Key Identifier:\\s+(keyid:)?${ski}`))

  const leaf = text(pki.leaf)
  assert.doesNotMatch(leaf, /Basic Constraints/)
  assert.match(leaf, /Key Usage: critical\s+Digital Signature\n/)
  assert.match(leaf, /Extended Key Usage:\s+TLS Web Client Authentication\n/)
  assert.match(leaf, /Subject Alternative Name:\s+DNS:client.example.internal, URI:spiffe:\/\/example.org\/ns\/prod\/sa\/client/)

  const custom = await pki.issue({
    subject: 'CN=custom',
    keyUsage: ['digitalSignature', 'keyEncipherment', 'decipherOnly'],
    extendedKeyUsage: ['clientAuth', 'serverAuth', '1.2.3.4'],
    san: { ip: ['192.0.2.7', '2001:db8::1', '::ffff:10.1.2.3'], email: ['a@example.com'], dirName: ['CN=dir,O=X'], critical: true },
    nameConstraints: {
      permitted: { dns: ['.example.com'], ip: ['10.0.0.0/8', '2001:db8::/32'], dirName: ['O=X'] },
      excluded: { email: ['bad.example.com'], uri: ['.evil.example'] }
    }
  })
  const out = text(custom)
  assert.match(out, /Key Usage: critical\s+Digital Signature, Key Encipherment, Decipher Only/)
  assert.match(out, /Extended Key Usage:\s+TLS Web Client Authentication, TLS Web Server Authentication, 1\.2\.3\.4/)
  assert.match(out, /Subject Alternative Name: critical\s+email:a@example.com, IP Address:192.0.2.7, IP Address:2001:DB8:0:0:0:0:0:1, IP Address:0:0:0:0:0:FFFF:A01:203, DirName:\/?O ?= ?X[,/] ?CN ?= ?dir/)
  assert.match(out, /Name Constraints: critical\s+Permitted:\s+DNS:.example.com\s+IP:10.0.0.0\/255.0.0.0\s+IP:2001:DB8:0:0:0:0:0:0\/FFFF:FFFF:0:0:0:0:0:0\s+DirName:\s*\/?O ?= ?X\s+Excluded:\s+URI:.evil.example\s+email:bad.example.com/)
})

test('names: RFC 4514 strings, escapes, multi-valued RDNs, DER order and string types', async () => {
  assert.deepEqual(parseName('CN=a\\,b\\+c\\\\d\\"e,OU=Eng+OU=Ops,O=Example'), [
    [['O', 'Example']],
    [['OU', 'Eng'], ['OU', 'Ops']],
    [['CN', 'a,b+c\\d"e']]
  ])
  assert.deepEqual(parseName('CN=caf\\C3\\A9, O = x'), [[['O', 'x']], [['CN', 'café']]])
  assert.deepEqual(encodeName('CN=a,O=b'), encodeName([[['O', 'b']], [['CN', 'a']]]))

  const key = await generateKeyPair()
  const cert = await createCertificate({
    subject: 'CN=leaf\\, x,OU=Ops+OU=Eng,O=Example,DC=example,DC=com,C=US,emailAddress=a@example.com,SERIALNUMBER=42,UID=u1,2.5.4.97=VATDE-1',
    key
  })
  const rfc2253 = openssl('x509', '-noout', '-subject', '-nameopt', 'RFC2253', '-in', file(cert.pem)).out
  // openssl prints the members of a multi-valued RDN in reverse DER order too.
  assert.equal(rfc2253.trim(), 'subject=CN=leaf\\, x,OU=Ops+OU=Eng,O=Example,DC=example,DC=com,C=US,emailAddress=a@example.com,serialNumber=42,UID=u1,organizationIdentifier=VATDE-1')
  const asn1 = openssl('asn1parse', '-in', file(cert.pem)).out
  // DER sorts SET OF members by encoding: Eng before Ops whatever the input order.
  assert.match(asn1, /:Eng\n.*\n.*:organizationalUnitName\n.*:Ops\n/)
  assert.match(asn1, /countryName\n.*PRINTABLESTRING\s+:US/)
  assert.match(asn1, /serialNumber\n.*PRINTABLESTRING\s+:42/)
  assert.match(asn1, /domainComponent\n.*IA5STRING\s+:example/)
  assert.match(asn1, /emailAddress\n.*IA5STRING\s+:a@example.com/)
  assert.match(asn1, /commonName\n.*UTF8STRING\s+:leaf, x/)
  // '#hex' inserts a raw DER value (here a BMPString); '\\#' is a literal '#'.
  const raw = await createCertificate({ subject: '2.5.4.3=#1e0400610062,O=\\#x', key })
  assert.match(openssl('asn1parse', '-in', file(raw.pem)).out, /commonName\n.*BMPSTRING[\s\S]*organizationName\n.*UTF8STRING\s+:#x/)
  await assert.rejects(createCertificate({ subject: 'CN=#0c036', key }), /Invalid '#hex'/)
  // An empty subject makes the SAN critical by default (RFC 5280 4.2.1.6).
  const empty = await createCertificate({ subject: '', key, san: { dns: ['x.example'] } })
  assert.match(text(empty), /Subject: *\n[\s\S]*Subject Alternative Name: critical\s+DNS:x.example/)

  // Self-signed defaults: issuer == subject, no AKI, still a valid signature.
  const x509 = new X509Certificate(cert.der)
  assert.equal(x509.issuer, x509.subject)
  assert.ok(x509.verify(key.publicKey))
})

test('corrupted signatures fail', async () => {
  const pki = await createTestPki()
  const bad = await pki.issue({ subject: 'CN=bad', corruptSignature: true })
  const result = verify(pki.root, [pki.intermediate], bad)
  assert.ok(!result.ok)
  assert.match(result.out, /signature failure/i)
  const x509 = new X509Certificate(bad.der)
  assert.ok(x509.checkIssued(new X509Certificate(pki.intermediate.der)))
  assert.ok(!x509.verify(pki.intermediate.key.publicKey))
})

test('signature algorithms: SHA-1, RSA-PSS, MD5, per-curve defaults', async () => {
  const pki = await createTestPki({ algorithm: 'rsa-2048' })
  const issuerKey = pki.intermediate.key.publicKey

  const sha1 = await pki.issue({ subject: 'CN=sha1', signatureHash: 'SHA-1' })
  assert.match(text(sha1), /Signature Algorithm: sha1WithRSAEncryption/)
  assert.ok(new X509Certificate(sha1.der).verify(issuerKey))
  assert.ok(verify(pki.root, [pki.intermediate], sha1, '-auth_level', '0').ok)

  const pss = await pki.issue({ subject: 'CN=pss', rsaPss: true, signatureHash: 'SHA-384' })
  assert.match(text(pss), /Signature Algorithm: rsassaPss[\s\S]*Hash Algorithm: sha384[\s\S]*Salt Length: 0x30/)
  assert.ok(new X509Certificate(pss.der).verify(issuerKey))
  const pssResult = verify(pki.root, [pki.intermediate], pss)
  assert.ok(pssResult.ok, pssResult.out)

  const md5 = await pki.issue({ subject: 'CN=md5', signatureHash: 'MD5' })
  assert.match(text(md5), /Signature Algorithm: md5WithRSAEncryption/)

  const p384 = await generateKeyPair('p-384')
  const p521 = await generateKeyPair('p-521')
  assert.match(text(await createCertificate({ subject: 'CN=a', key: p384 })), /ecdsa-with-SHA384/)
  assert.match(text(await createCertificate({ subject: 'CN=a', key: p521 })), /ecdsa-with-SHA512/)
  await assert.rejects(createCertificate({ subject: 'CN=a', key: p384, signatureHash: 'MD5' }), /ECDSA cannot sign with MD5/)
  await assert.rejects(createCertificate({ subject: 'CN=a', key: p384, rsaPss: true }), /rsaPss requires an RSA key/)
})

test('serial numbers, validity, v1 and raw extensions', async () => {
  const pki = await createTestPki()
  const hex = await pki.issue({ subject: 'CN=s', serialNumber: 'FF01' })
  assert.equal(hex.serialNumber, 'ff01')
  assert.match(openssl('asn1parse', '-in', file(hex.pem)).out, /INTEGER\s+:FF01\n/)
  assert.equal(new X509Certificate(hex.der).serialNumber, 'FF01')
  const big = await pki.issue({ subject: 'CN=s', serialNumber: 0x80n })
  assert.equal(big.serialNumber, '80')
  assert.match(openssl('asn1parse', '-in', file(big.pem)).out, /INTEGER\s+:80\n/)
  assert.match(pki.leaf.serialNumber, /^[4-7][0-9a-f]{31}$/)

  const expired = await pki.issue({ subject: 'CN=old', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') })
  assert.match(verify(pki.root, [pki.intermediate], expired).out, /certificate has expired/)
  const far = await pki.issue({ subject: 'CN=far', notAfter: new Date('2051-06-01T12:00:00Z') })
  assert.match(openssl('asn1parse', '-in', file(far.pem)).out, /GENERALIZEDTIME\s+:20510601120000Z/)

  const v1 = await pki.issue({ subject: 'CN=v1', version: 1 })
  const v1Text = text(v1)
  assert.match(v1Text, /Version: 1 \(0x0\)/)
  assert.doesNotMatch(v1Text, /X509v3/)

  const unknownCritical = await pki.issue({ subject: 'CN=u', extensions: [{ oid: '1.3.6.1.4.1.55555.1', critical: true, value: new Uint8Array([0x05, 0x00]) }] })
  assert.match(verify(pki.root, [pki.intermediate], unknownCritical).out, /unhandled critical extension/)

  const noDefaults = await pki.issue({ subject: 'CN=bare', keyUsage: false, extendedKeyUsage: false, subjectKeyIdentifier: false, authorityKeyIdentifier: false })
  assert.doesNotMatch(text(noDefaults), /X509v3/)
})

test('openssl enforces pathLength and name constraints on generated chains', async () => {
  const pki = await createTestPki()
  const subCa = await pki.issue({ subject: 'CN=Sub CA', ca: true })
  const underSub = await pki.issue({ subject: 'CN=too deep' }, subCa)
  assert.match(verify(pki.root, [pki.intermediate, subCa], underSub).out, /path length constraint exceeded/)

  const constrained = await pki.issue({
    subject: 'CN=Constrained CA',
    ca: true,
    nameConstraints: { permitted: { dns: ['.example.internal'] } }
  }, pki.root)
  const inside = await pki.issue({ subject: 'CN=in', san: { dns: ['a.example.internal'] } }, constrained)
  const outside = await pki.issue({ subject: 'CN=out', san: { dns: ['a.example.com'] } }, constrained)
  assert.ok(verify(pki.root, [constrained], inside).ok)
  assert.match(verify(pki.root, [constrained], outside).out, /permitted subtree violation/)
})

test('CRLs: parsed by openssl, revoked leaf rejected with -crl_check', async () => {
  const pki = await createTestPki()
  const other = await pki.issue({ subject: 'CN=other' })
  const crl = await createCrl({
    issuer: { certificate: pki.intermediate, key: pki.intermediate.key },
    revoked: [{ serialNumber: pki.leaf.serialNumber, reason: 1 }, { serialNumber: 0xabcdn }],
    crlNumber: 7
  })
  const crlText = openssl('crl', '-noout', '-text', '-in', file(crl.pem)).out
  assert.match(crlText, /Version 2/)
  assert.match(crlText, /Issuer: O = fastify-alb-mtls, CN = Test Intermediate CA/)
  assert.match(crlText, /CRL Number:\s+7/)
  assert.match(crlText, new RegExp(`Serial Number: ${pki.leaf.serialNumber.toUpperCase()}[\\s\\S]*Key Compromise`))
  assert.match(crlText, /Serial Number: ABCD/)

  const crlFile = file(crl.pem)
  const revoked = verify(pki.root, [pki.intermediate], pki.leaf, '-crl_check', '-CRLfile', crlFile)
  assert.ok(!revoked.ok)
  assert.match(revoked.out, /certificate revoked/)
  const fine = verify(pki.root, [pki.intermediate], other, '-crl_check', '-CRLfile', crlFile)
  assert.ok(fine.ok, fine.out)

  const empty = await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, nextUpdate: null, crlNumber: null, authorityKeyIdentifier: false })
  const emptyText = openssl('crl', '-noout', '-text', '-in', file(empty.pem)).out
  assert.match(emptyText, /Version 1/)
  assert.match(emptyText, /No Revoked Certificates/)
  assert.match(emptyText, /Next Update: NONE/)

  const corrupt = await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, corruptSignature: true })
  const corruptResult = verify(pki.root, [pki.intermediate], other, '-crl_check', '-CRLfile', file(corrupt.pem))
  assert.ok(!corruptResult.ok)
  assert.match(corruptResult.out, /CRL signature failure/)
})

test('toAlbHeader encodes like AWS ALB', async () => {
  const pki = await createTestPki()
  const header = toAlbHeader([pki.leaf.pem, pki.intermediate.pem])
  assert.ok(header.startsWith('-----BEGIN%20CERTIFICATE-----%0A'))
  assert.match(header, /-----END%20CERTIFICATE-----%0A-----BEGIN%20CERTIFICATE-----%0A/)
  assert.ok(header.endsWith('-----END%20CERTIFICATE-----%0A'))
  assert.match(header, /^[A-Za-z0-9\-_.~+=/%]+$/)
  assert.equal(decodeURIComponent(header), pki.leaf.pem + pki.intermediate.pem)
  assert.equal(toAlbHeader(['a b+c=d/e!*\'()\n']), 'a%20b+c=d/e%21%2A%27%28%29%0A')
})

test('RSA key pool: up to 4 keys per size, then reuse; fresh bypasses it', async () => {
  clearKeyPool('rsa-1024')
  const keys = await Promise.all(Array.from({ length: 5 }, async () => await generateKeyPair('rsa-1024')))
  const pems = keys.map((k) => k.privateKeyPem)
  assert.equal(new Set(pems.slice(0, 4)).size, 4)
  assert.ok(pems.slice(0, 4).includes(pems[4] as string))
  const fresh = await generateKeyPair('rsa-1024', { fresh: true })
  assert.ok(!pems.includes(fresh.privateKeyPem))
  const ec1 = await generateKeyPair('p-256')
  const ec2 = await generateKeyPair('p-256')
  assert.notEqual(ec1.privateKeyPem, ec2.privateKeyPem)
  assert.equal(ec1.algorithm, 'p-256')
})

for (const algorithm of keyAlgorithms) {
  test(`createTestPki(${algorithm}) chain verifies with openssl and node:crypto`, async () => {
    const pki = await createTestPki({ algorithm })
    const result = verify(pki.root, [pki.intermediate], pki.leaf)
    assert.ok(result.ok, result.out)

    const root = new X509Certificate(pki.root.der)
    const intermediate = new X509Certificate(pki.intermediate.der)
    const leaf = new X509Certificate(pki.leaf.der)
    assert.ok(intermediate.checkIssued(root))
    assert.ok(leaf.checkIssued(intermediate))
    assert.ok(intermediate.verify(root.publicKey))
    assert.ok(leaf.verify(intermediate.publicKey))
    assert.ok(root.verify(root.publicKey))
    assert.equal(leaf.subject, 'O=Example Corp\nCN=client')
    assert.equal(leaf.subjectAltName, 'DNS:client.example.internal, URI:spiffe://example.org/ns/prod/sa/client')
    assert.equal(leaf.ca, false)
    assert.equal(intermediate.ca, true)
    assert.equal(leaf.serialNumber.toLowerCase(), pki.leaf.serialNumber)
  })
}
