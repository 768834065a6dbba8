/** Type test: the testing entry point's API (compiled by npm run typecheck, never run). */
import { createCertificate, createCrl, createTestPki, crlDistributionPoints, CrlReason, generateKeyPair, toAlbHeader, type TestPki } from '../../src/testing/index.js'

const pki: TestPki = await createTestPki({ algorithm: 'rsa-2048' })
const key = await generateKeyPair('p-384', { fresh: true })
const leaf = await createCertificate({ subject: 'CN=x', key, issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, extendedKeyUsage: ['clientAuth'] })
await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, revoked: [{ serialNumber: leaf.serialNumber }] })
const header: string = toAlbHeader([leaf.pem, pki.intermediate.pem])
// @ts-expect-error unknown key algorithm
await generateKeyPair('rsa-512')
export { header }

// CRL factory (issue 13): partitioned, indirect and delta CRLs, distribution points in certificates.
await createCrl({
  issuer: { certificate: pki.intermediate, key: pki.intermediate.key },
  revoked: [{ serialNumber: -1n, reason: CrlReason.certificateHold, certificateIssuer: 'CN=Other CA' }],
  issuingDistributionPoint: { uri: ['http://crl.test/1.crl'], indirectCRL: true, onlySomeReasons: ['keyCompromise'] },
  deltaBase: 1,
  freshestCrl: [{ uri: ['http://crl.test/delta.crl'] }]
})
await pki.issue({ subject: 'CN=dp', extensions: [crlDistributionPoints([{ uri: ['http://crl.test/1.crl'], reasons: ['keyCompromise'], crlIssuer: 'CN=Indirect' }])] })
// @ts-expect-error unknown reason flag
crlDistributionPoints([{ reasons: ['lostIt'] }])
