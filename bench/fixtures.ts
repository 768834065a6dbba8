/**
 * Benchmark fixtures: an RSA-2048 PKI (root, intermediate, leaf) from the project's PKI factory and
 * the ALB header for leaf + intermediate, as the headline numbers use.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { createTestPki, toAlbHeader, type TestPki } from '../src/testing/index.js'

export interface Fixtures {
  pki: TestPki
  /** X-Amzn-Mtls-Clientcert for leaf + intermediate, as one flat string like a parsed request header. */
  header: string
}

/** A flat copy with the same content and no cached hash, as each HTTP request brings. */
export function freshCopy (value: string): string {
  return Buffer.from(value, 'latin1').toString('latin1')
}

export async function createFixtures (): Promise<Fixtures> {
  const pki = await createTestPki({ algorithm: 'rsa-2048' })
  return { pki, header: freshCopy(toAlbHeader([pki.leaf.pem, pki.intermediate.pem])) }
}

const PEM_BLOCK = /-----BEGIN CERTIFICATE-----([^-]+)-----END CERTIFICATE-----/g

/** The baseline decoder the issue names: decodeURIComponent, a regex split, Buffer.from. */
export function naiveDecode (header: string): Buffer[] {
  const text = decodeURIComponent(header)
  const out: Buffer[] = []
  for (const m of text.matchAll(PEM_BLOCK)) out.push(Buffer.from(m[1]!, 'base64'))
  return out
}

/** Native validation baseline: decode, X509Certificate parse of each, signature checks up the chain. */
export function nativeValidate (header: string, root: X509Certificate, knownIssuer?: X509Certificate): boolean {
  const [leafDer, issuerDer] = naiveDecode(header)
  const leaf = new X509Certificate(leafDer!)
  const issuer = knownIssuer ?? new X509Certificate(issuerDer!)
  if (!leaf.checkIssued(issuer) || !leaf.verify(issuer.publicKey)) return false
  return knownIssuer !== undefined || issuer.verify(root.publicKey)
}

/** The naive cache key the issue measured: SHA-256 of the whole header. */
export function sha256Key (header: string): string {
  return createHash('sha256').update(header).digest('base64')
}
