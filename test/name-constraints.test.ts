import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier, type VerifyResult } from '../src/index.js'
import { parseNameConstraints } from '../src/x509/name-constraints.js'
import { uriHost } from '../src/validation/name-constraints.js'
import { createTestPki, type Issued, type TestPki } from '../src/testing/index.js'
import type { CertificateSpec, GeneralSubtrees } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

let p: TestPki
before(async () => { p = await createTestPki() })

function reasonOf (r: VerifyResult): string {
  return r.ok ? 'ok' : `${r.code}:${r.reason}`
}

/** A sub-CA under the root with the given constraints, and a verifier trusting the root. */
async function constrainedCa (permitted?: GeneralSubtrees, excluded?: GeneralSubtrees, extra: Partial<CertificateSpec> = {}): Promise<Issued> {
  return await p.issue({
    subject: `CN=Constrained CA ${Math.random()}`,
    ca: true,
    nameConstraints: { ...(permitted !== undefined ? { permitted } : {}), ...(excluded !== undefined ? { excluded } : {}) },
    ...extra
  }, p.root)
}

async function verdict (ca: Issued, leafSpec: Partial<CertificateSpec>, ...more: Issued[]): Promise<string> {
  const leaf = await p.issue({ subject: 'CN=client', ...leafSpec }, ca)
  return reasonOf(createVerifier({ roots: p.root.pem }).verifySync(header(leaf, ca, ...more)))
}

test('dNSName: permitted subtree covers the name and its subdomains only', async () => {
  const ca = await constrainedCa({ dns: ['example.com'] })
  assert.equal(await verdict(ca, { san: { dns: ['example.com'] } }), 'ok')
  assert.equal(await verdict(ca, { san: { dns: ['a.b.example.com'] } }), 'ok')
  assert.equal(await verdict(ca, { san: { dns: ['badexample.com'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(await verdict(ca, { san: { dns: ['example.com', 'example.org'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  // Names of another form are not constrained by a dNSName subtree.
  assert.equal(await verdict(ca, { san: { uri: ['spiffe://anything/x'] } }), 'ok')
})

test('dNSName: excluded subtree wins, wildcards that could reach it are refused', async () => {
  const ca = await constrainedCa(undefined, { dns: ['secret.example.com'] })
  assert.equal(await verdict(ca, { san: { dns: ['x.secret.example.com'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(await verdict(ca, { san: { dns: ['*.example.com'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(await verdict(ca, { san: { dns: ['public.example.com'] } }), 'ok')
})

test('iPAddress, rfc822Name and URI subtrees', async () => {
  const ip = await constrainedCa({ ip: ['10.0.0.0/8', 'fd00::/8'] })
  assert.equal(await verdict(ip, { san: { ip: ['10.1.2.3'] } }), 'ok')
  assert.equal(await verdict(ip, { san: { ip: ['fd12::1'] } }), 'ok')
  assert.equal(await verdict(ip, { san: { ip: ['11.0.0.1'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')

  const email = await constrainedCa({ email: ['example.com', '.corp.example'] })
  assert.equal(await verdict(email, { san: { email: ['alice@example.com'] } }), 'ok')
  assert.equal(await verdict(email, { san: { email: ['bob@eu.corp.example'] } }), 'ok')
  assert.equal(await verdict(email, { san: { email: ['eve@sub.example.com'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  // emailAddress in the subject is an rfc822Name too (RFC 5280 4.2.1.10).
  assert.equal(await verdict(email, { subject: 'CN=eve,emailAddress=eve@evil.test' }), 'FST_MTLS_CERT_INVALID:name-constraints')

  const uri = await constrainedCa({ uri: ['.example.org'] })
  assert.equal(await verdict(uri, { san: { uri: ['spiffe://prod.example.org/ns/a'] } }), 'ok')
  assert.equal(await verdict(uri, { san: { uri: ['spiffe://example.net/ns/a'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(await verdict(uri, { san: { uri: ['urn:uuid:1234'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
})

test('directoryName applies to the subject and to directoryName SANs', async () => {
  const ca = await constrainedCa({ dirName: ['O=Example Corp'] })
  assert.equal(await verdict(ca, { subject: 'CN=client,O=Example Corp' }), 'ok')
  assert.equal(await verdict(ca, { subject: 'CN=client,O=Other' }), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(await verdict(ca, { subject: 'CN=client,O=Example Corp', san: { dirName: ['CN=x,O=Other'] } }), 'FST_MTLS_CERT_INVALID:name-constraints')
})

test('a sub-CA cannot widen its issuer\'s permitted subtrees', async () => {
  const outer = await constrainedCa({ dns: ['example.com'] })
  const inner = await p.issue({ subject: 'CN=Widening CA', ca: true, nameConstraints: { permitted: { dns: ['example.org'] } } }, outer)
  const v = createVerifier({ roots: p.root.pem })
  const leafOrg = await p.issue({ subject: 'CN=client', san: { dns: ['a.example.org'] } }, inner)
  const leafCom = await p.issue({ subject: 'CN=client', san: { dns: ['a.example.com'] } }, inner)
  assert.equal(reasonOf(v.verifySync(header(leafOrg, inner, outer))), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(reasonOf(v.verifySync(header(leafCom, inner, outer))), 'FST_MTLS_CERT_INVALID:name-constraints')
})

test('constraints on the trust anchor apply', async () => {
  const pki = await createTestPki()
  const root = await (async () => {
    const { createCertificate } = await import('../src/testing/index.js')
    return { ...await createCertificate({ subject: 'CN=Constrained Root', key: pki.root.key, ca: true, nameConstraints: { permitted: { dns: ['example.com'] } } }), key: pki.root.key }
  })()
  const leaf = await pki.issue({ subject: 'CN=client', san: { dns: ['example.net'] } }, root)
  assert.equal(reasonOf(createVerifier({ roots: root.pem }).verifySync(header(leaf))), 'FST_MTLS_CERT_INVALID:name-constraints')
})

test('non-critical nameConstraints, and nameConstraints on a client certificate, are refused', async () => {
  const ca = await constrainedCa({ dns: ['example.com'] }, undefined, { nameConstraints: { permitted: { dns: ['example.com'] }, critical: false } })
  assert.equal(await verdict(ca, { san: { dns: ['example.com'] } }), 'FST_MTLS_CERT_INVALID:invalid-certificate')
  assert.equal(await verdict(p.intermediate, { nameConstraints: { permitted: { dns: ['example.com'] } } }), 'FST_MTLS_CERT_INVALID:invalid-certificate')
})

/** DER TLV with a short length (test structures stay under 128 octets). */
function tlv (tag: number, ...parts: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(parts)
  return new Uint8Array(Buffer.concat([Buffer.from([tag, body.length]), body]))
}
const text = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'))
const subtree = (base: Uint8Array): Uint8Array => tlv(0x30, base)

test('parseNameConstraints refuses what RFC 5280 does not allow', () => {
  const ok = parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x82, text('A.com'))))))
  assert.deepEqual(ok.permitted, [{ form: 'dns', value: 'a.com' }])
  assert.deepEqual(ok.excluded, [])
  assert.throws(() => parseNameConstraints(tlv(0x30)), /empty NameConstraints/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0))), /empty GeneralSubtrees/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x82, text('.a.com')))))), /invalid dNSName constraint/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x82, text('*.a.com')))))), /invalid dNSName constraint/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x87, new Uint8Array([127, 0, 0, 1])))))), /4 octets/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x87, new Uint8Array([10, 0, 0, 0, 255, 0, 255, 0])))))), /not a prefix/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, subtree(tlv(0x81, text('a@b@c.com')))))), /invalid rfc822Name/)
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa0, tlv(0x30, tlv(0x82, text('a.com')), tlv(0x81, new Uint8Array([1])))))), /maximum/)
  // Excluded before permitted is out of order.
  assert.throws(() => parseNameConstraints(tlv(0x30, tlv(0xa1, subtree(tlv(0x82, text('a.com')))), tlv(0xa0, subtree(tlv(0x82, text('b.com')))))), /unexpected field/)
})

test('a path whose names times constraints exceed the budget is refused without comparing', async () => {
  const many = Array.from({ length: 300 }, (_, i) => `n${i}.example.com`)
  const ca = await constrainedCa({ dns: many })
  const v = createVerifier({ roots: p.root.pem, maxHeaderBytes: 1 << 17 })
  const big = await p.issue({ subject: 'CN=client', san: { dns: many } }, ca)
  const small = await p.issue({ subject: 'CN=client', san: { dns: many.slice(0, 100) } }, ca)
  // 301 names x 300 subtrees is over the budget; 101 x 300 is not.
  assert.equal(reasonOf(v.verifySync(header(big, ca))), 'FST_MTLS_CERT_INVALID:name-constraints')
  assert.equal(reasonOf(v.verifySync(header(small, ca))), 'ok')
})

test('uriHost extracts the authority host only', () => {
  assert.equal(uriHost('https://user@Host.Example:8443/p?q'), 'host.example')
  assert.equal(uriHost('spiffe://td.example/ns/x'), 'td.example')
  assert.equal(uriHost('urn:uuid:1'), null)
  assert.equal(uriHost('mailto:a@b.c'), null)
})
