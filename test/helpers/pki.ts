/** Shared fixtures for verifier and plugin tests: one PKI per test file, generated at run time. */
import { createCertificate, createTestPki, generateKeyPair, toAlbHeader, type TestPki } from '../../src/testing/index.js'

export { toAlbHeader }

export async function pki (): Promise<TestPki> {
  return await createTestPki({ algorithm: 'p-256' })
}

/** The ALB header for a leaf and its intermediates. */
export function header (...certs: Array<{ pem: string }>): string {
  return toAlbHeader(certs.map((c) => c.pem))
}

/** Two intermediates that certify each other (X signed by Y, Y signed by X) and a leaf under X. */
export async function cycle (): Promise<{ leaf: { pem: string }, x: { pem: string }, y: { pem: string } }> {
  const [kx, ky, kl] = await Promise.all([generateKeyPair('p-256'), generateKeyPair('p-256'), generateKeyPair('p-256')])
  const y0 = await createCertificate({ subject: 'CN=Loop Y', key: ky, ca: true })
  const x = await createCertificate({ subject: 'CN=Loop X', key: kx, ca: true, issuer: { certificate: y0, key: ky } })
  const y = await createCertificate({ subject: 'CN=Loop Y', key: ky, ca: true, issuer: { certificate: x, key: kx } })
  const leaf = await createCertificate({ subject: 'CN=looped', key: kl, extendedKeyUsage: ['clientAuth'], issuer: { certificate: x, key: kx } })
  return { leaf, x, y }
}
