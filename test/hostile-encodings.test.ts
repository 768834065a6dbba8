/**
 * Issue 12, items 2 and 6: encodings OpenSSL refuses are refused here too, built with the DER writer
 * of test/helpers/hostile.ts (no binary fixtures). test/differential.test.ts runs the same classes
 * through the openssl CLI as the independent reference.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier } from '../src/index.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { parseCertificate } from '../src/x509/parse.js'
import { header } from './helpers/pki.js'
import { hostileEncodings, resign, TBS, tlv } from './helpers/hostile.js'

let pki: TestPki

before(async () => {
  pki = await createTestPki({ algorithm: 'p-256' })
})

const ascii = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'latin1'))
const SAN = '2.5.29.17'
const NAME_CONSTRAINTS = '2.5.29.30'

function reasonOf (r: { ok: boolean, reason?: string }): string {
  return r.ok ? 'ok' : r.reason!
}

test('GeneralName: each choice only with the identifier RFC 5280 gives it', async () => {
  const v = createVerifier({ roots: pki.root.pem })
  const uri = ascii('spiffe://example.org/ns/prod/sa/admin')
  const cases: Array<[string, Uint8Array, string]> = [
    ['primitive [6] URI', tlv(0x86, uri), 'ok'],
    ['constructed [6] URI', tlv(0xa6, uri), 'invalid-certificate'],
    ['constructed [2] dNSName', tlv(0xa2, ascii('admin.example.org')), 'invalid-certificate'],
    ['constructed [1] rfc822Name', tlv(0xa1, ascii('admin@example.org')), 'invalid-certificate'],
    ['constructed [7] iPAddress', tlv(0xa7, Uint8Array.from([10, 0, 0, 1])), 'invalid-certificate'],
    ['primitive [4] directoryName', tlv(0x84, tlv(0x30)), 'invalid-certificate'],
    ['primitive [0] otherName', tlv(0x80, ascii('x')), 'invalid-certificate'],
    ['otherName without its [0] value', tlv(0xa0, tlv(0x06, Uint8Array.from([0x2b, 0x06, 0x01]))), 'invalid-certificate'],
    ['registeredID with a non-minimal arc', tlv(0x88, Uint8Array.from([0x2b, 0x80, 0x01])), 'invalid-certificate'],
    ['universal IA5String', tlv(0x16, uri), 'invalid-certificate'],
    ['private-class tag', tlv(0xc6, uri), 'invalid-certificate']
  ]
  for (const [label, name, expected] of cases) {
    const leaf = await pki.issue({ subject: 'CN=san', extensions: [{ oid: SAN, value: tlv(0x30, name) }] })
    const r = v.verifySync(header(leaf, pki.intermediate))
    assert.equal(reasonOf(r), expected, label)
    if (label === 'primitive [6] URI' && r.ok) assert.equal(r.certificate.spiffeId, 'spiffe://example.org/ns/prod/sa/admin')
    if (expected !== 'ok') assert.match(r.ok ? '' : r.message, /2\.5\.29\.17 is malformed/, label)
  }
})

test('name constraints: subtrees with a constructed primitive choice refuse the CA', async () => {
  const v = createVerifier({ roots: pki.root.pem })
  const subtree = (name: Uint8Array): Uint8Array => tlv(0x30, tlv(0xa0, tlv(0x30, name)))
  for (const [label, name, ok] of [
    ['primitive [2]', tlv(0x82, ascii('example.org')), true],
    ['constructed [2]', tlv(0xa2, ascii('example.org')), false],
    ['constructed [6]', tlv(0xa6, ascii('.example.org')), false]
  ] as const) {
    const ca = await pki.issue({ subject: `CN=NC ${label}`, ca: true, extensions: [{ oid: NAME_CONSTRAINTS, critical: true, value: subtree(name) }] }, pki.root)
    const leaf = await pki.issue({ subject: 'CN=under nc', san: { dns: ['a.example.org'] } }, ca)
    assert.equal(reasonOf(v.verifySync(header(leaf, ca))), ok ? 'ok' : 'invalid-certificate', label)
  }
})

test('item 6: non-minimal attribute-type OIDs, invalid UTF-8, keyUsage bits in the padding are refused', async () => {
  const v = createVerifier({ roots: pki.root.pem })
  for (const c of await hostileEncodings(pki)) {
    const r = v.verifySync(header(...c.certs))
    assert.equal(r.ok, false, c.name)
    assert.ok(['bad-der', 'invalid-certificate'].includes(r.ok ? '' : r.reason), `${c.name}: ${reasonOf(r)}`)
    // The control built the same way but well encoded is accepted.
    assert.equal(reasonOf(v.verifySync(header(...c.control))), 'ok', `${c.name} (control)`)
  }
})

test('item 6: a UTF8String with invalid UTF-8 never reads as the latin-1 text', async () => {
  const cases = await hostileEncodings(pki)
  const utf8 = cases.find((c) => c.name.startsWith('UTF8String'))!
  assert.throws(() => parseCertificate(utf8.certs[0]!.der))
  assert.equal(parseCertificate(utf8.control[0]!.der).subject.flat().find((a) => a.oid === '2.5.4.10')?.value, 'Müller GmbH')
})

test('item 6, siblings: a non-minimal OID anywhere (extension ID, EKU purpose, access method) is refused', async () => {
  const v = createVerifier({ roots: pki.root.pem })
  const oid = (bytes: number[]): Uint8Array => tlv(0x06, Uint8Array.from(bytes))
  // basicConstraints (2.5.29.19) spelled 55 1d 80 13, cA=TRUE: a lenient decoder reads a CA flag.
  const base = await pki.issue({ subject: 'CN=client' })
  const extensions = (id: number[]): Uint8Array => tlv(0xa3, tlv(0x30,
    tlv(0x30, oid(id), tlv(0x04, tlv(0x30))),
    tlv(0x30, oid([0x55, 0x1d, 0x23]), tlv(0x04, tlv(0x30, tlv(0x80, base.spec.issuer!.certificate.subjectKeyIdentifier!))))))
  const bad = resign(base, pki.intermediate.key, TBS.extensions, extensions([0x55, 0x1d, 0x80, 0x13]))
  const r = v.verifySync(header(bad, pki.intermediate))
  assert.equal(reasonOf(r), 'bad-der')
  assert.match(r.ok ? '' : r.message, /OBJECT IDENTIFIER/)
  const control = resign(base, pki.intermediate.key, TBS.extensions, extensions([0x55, 0x1d, 0x13]))
  assert.equal(reasonOf(v.verifySync(header(control, pki.intermediate))), 'ok')
  // clientAuth (1.3.6.1.5.5.7.3.2) with a padded last arc inside the EKU.
  const eku = await pki.issue({ subject: 'CN=eku', extendedKeyUsage: false, extensions: [{ oid: '2.5.29.37', value: tlv(0x30, oid([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x80, 0x02])) }] })
  assert.equal(reasonOf(v.verifySync(header(eku, pki.intermediate))), 'invalid-certificate')
  // An AIA accessMethod with a padded arc.
  const aia = await pki.issue({ subject: 'CN=aia', extensions: [{ oid: '1.3.6.1.5.5.7.1.1', value: tlv(0x30, tlv(0x30, oid([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x80, 0x02]), tlv(0x86, Uint8Array.from(Buffer.from('http://ca.example/ca.crt'))))) }] })
  assert.equal(reasonOf(v.verifySync(header(aia, pki.intermediate))), 'invalid-certificate')
})

test('item 6: the OID rule holds for certificates the reference parser reads (BER lengths)', async () => {
  const { rawName } = await import('./helpers/hostile.js')
  const base = await pki.issue({ subject: 'CN=client' })
  // The subject SEQUENCE with a long-form length for a short value: BER, not DER.
  const ber = (name: Uint8Array): Uint8Array => Uint8Array.from([0x30, 0x81, name[1]!, ...name.subarray(2)])
  const utf8 = tlv(0x0c, new Uint8Array(Buffer.from('Evil Corp')))
  const bad = resign(base, pki.intermediate.key, TBS.subject, ber(rawName([0x55, 0x04, 0x80, 0x0a], utf8)))
  assert.throws(() => parseCertificate(bad.der), /OBJECT IDENTIFIER with a non-minimal arc/)
  const control = resign(base, pki.intermediate.key, TBS.subject, ber(rawName([0x55, 0x04, 0x0a], utf8)))
  assert.equal(parseCertificate(control.der).subject[0]![0]!.value, 'Evil Corp')
})
