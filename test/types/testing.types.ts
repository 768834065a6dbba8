/** Type test: the testing entry point's API (compiled by npm run typecheck, never run). */
import { createCertificate, createCrl, createTestPki, generateKeyPair, toAlbHeader, type TestPki } from '../../src/testing/index.js'

const pki: TestPki = await createTestPki({ algorithm: 'rsa-2048' })
const key = await generateKeyPair('p-384', { fresh: true })
const leaf = await createCertificate({ subject: 'CN=x', key, issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, extendedKeyUsage: ['clientAuth'] })
await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, revoked: [{ serialNumber: leaf.serialNumber }] })
const header: string = toAlbHeader([leaf.pem, pki.intermediate.pem])
// @ts-expect-error unknown key algorithm
await generateKeyPair('rsa-512')
export { header }
