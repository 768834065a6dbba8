/**
 * Issue 12, item 3: ALB verify mode reads the leaf as strictly as passthrough does.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createAlbVerifyVerifier, createVerifier, type VerifyResult } from '../src/index.js'
import { createTestPki, type Issued, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'
import { tlv } from './helpers/hostile.js'

let pki: TestPki

before(async () => {
  pki = await createTestPki()
})

const EKU = '2.5.29.37'
const BASIC_CONSTRAINTS = '2.5.29.19'
const oid = (bytes: number[]): Uint8Array => tlv(0x06, Uint8Array.from(bytes))
const SERVER_AUTH = oid([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01])
const CLIENT_AUTH = oid([0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02])
const junk = Uint8Array.from([0x05, 0x00])

function verifyMode (cert: Issued): VerifyResult {
  const s = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return createAlbVerifyVerifier({}).verifySync({
    serialNumber: cert.serialNumber.toUpperCase(),
    issuer: 'CN=Test Intermediate CA,O=fastify-alb-mtls',
    subject: 'CN=leaf',
    validity: `NotBefore=${s(cert.spec.notBefore!)};NotAfter=${s(cert.spec.notAfter!)}`,
    leaf: header(cert)
  })
}

test("verify mode refuses the leaves passthrough refuses: the issue's three and their siblings", async () => {
  const passthrough = createVerifier({ roots: pki.root.pem })
  const cases: Array<[string, Parameters<TestPki['issue']>[0]]> = [
    ['EKU serverAuth + trailing bytes', { subject: 'CN=leaf', extendedKeyUsage: false, extensions: [{ oid: EKU, value: Buffer.concat([tlv(0x30, SERVER_AUTH), junk]) }] }],
    ['basicConstraints cA=TRUE + junk', { subject: 'CN=leaf', extensions: [{ oid: BASIC_CONSTRAINTS, critical: true, value: Buffer.concat([tlv(0x30, tlv(0x01, Uint8Array.from([0xff]))), junk]) }] }],
    ['two EKU extensions (clientAuth last)', { subject: 'CN=leaf', extendedKeyUsage: ['serverAuth'], extensions: [{ oid: EKU, value: tlv(0x30, CLIENT_AUTH) }] }],
    ['two EKU extensions (serverAuth last)', { subject: 'CN=leaf', extendedKeyUsage: ['clientAuth'], extensions: [{ oid: EKU, value: tlv(0x30, SERVER_AUTH) }] }],
    ['unknown critical extension', { subject: 'CN=leaf', extensions: [{ oid: '1.3.6.1.4.1.55555.3', critical: true, value: junk }] }],
    ['authorityKeyIdentifier missing', { subject: 'CN=leaf', authorityKeyIdentifier: false }]
  ]
  for (const [label, spec] of cases) {
    const leaf = await pki.issue(spec)
    const ours = passthrough.verifySync(header(leaf, pki.intermediate))
    const verify = verifyMode(leaf)
    assert.equal(ours.ok, false, `passthrough: ${label}`)
    assert.equal(verify.ok, false, `verify mode: ${label}`)
    assert.equal(verify.ok ? '' : verify.reason, ours.ok ? '' : ours.reason, label)
  }
  // And a plain leaf still passes in verify mode.
  const plain = await pki.issue({ subject: 'CN=leaf' })
  const r = verifyMode(plain)
  assert.ok(r.ok, r.ok ? '' : r.message)
})
