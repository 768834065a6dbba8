import { createCertificate } from './certificate.js'
import type { CertificateSpec, IssuedCertificate, NameInput } from './certificate.js'
import { generateKeyPair } from './keys.js'
import type { KeyAlgorithm, KeyPair } from './keys.js'

export type Issued = IssuedCertificate & { key: KeyPair }

export interface TestPki {
  root: Issued
  intermediate: Issued
  leaf: Issued
  /**
   * Issue another certificate under `under` (default: the intermediate). Unless given,
   * the key is generated with the PKI's algorithm and the validity is
   * [now - 1 h, now + 30 days] relative to the PKI's `now`.
   */
  issue (spec: Partial<CertificateSpec> & { subject: NameInput }, under?: Issued): Promise<Issued>
}

export interface TestPkiOptions {
  /** Default 'p-256'. */
  algorithm?: KeyAlgorithm
  /** Default 'CN=client,O=Example Corp'. */
  leafSubject?: NameInput
  /** Reference time for all validity periods; default the current time. */
  now?: Date
  /**
   * RSA keys come from the pool in keys.ts by default, so two TestPkis of the same RSA
   * size may end up sharing keys. Set this when a test relies on two PKIs having
   * distinct keys (e.g. "a chain from another root is rejected").
   */
  freshKeys?: boolean
}

const HOUR = 3600_000
const DAY = 24 * HOUR

export async function createTestPki (options: TestPkiOptions = {}): Promise<TestPki> {
  const algorithm = options.algorithm ?? 'p-256'
  const now = (options.now ?? new Date()).getTime()
  const fresh = { fresh: options.freshKeys ?? false }
  const [rootKey, intermediateKey, leafKey] = await Promise.all([
    generateKeyPair(algorithm, fresh),
    generateKeyPair(algorithm, fresh),
    generateKeyPair(algorithm, fresh)
  ])

  const root: Issued = {
    ...await createCertificate({
      subject: 'CN=Test Root CA,O=fastify-alb-mtls',
      key: rootKey,
      ca: true,
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 3650 * DAY)
    }),
    key: rootKey
  }
  const intermediate: Issued = {
    ...await createCertificate({
      subject: 'CN=Test Intermediate CA,O=fastify-alb-mtls',
      key: intermediateKey,
      issuer: { certificate: root, key: rootKey },
      ca: { pathLength: 0 },
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 1825 * DAY)
    }),
    key: intermediateKey
  }

  async function issue (spec: Partial<CertificateSpec> & { subject: NameInput }, under: Issued = intermediate): Promise<Issued> {
    const key = spec.key ?? await generateKeyPair(algorithm, fresh)
    const certificate = await createCertificate({
      notBefore: new Date(now - HOUR),
      notAfter: new Date(now + 30 * DAY),
      issuer: { certificate: under, key: under.key },
      ...spec,
      key
    })
    return { ...certificate, key }
  }

  const leaf = await issue({
    subject: options.leafSubject ?? 'CN=client,O=Example Corp',
    key: leafKey,
    extendedKeyUsage: ['clientAuth'],
    san: { dns: ['client.example.internal'], uri: ['spiffe://example.org/ns/prod/sa/client'] }
  })

  return { root, intermediate, leaf, issue }
}

/**
 * Concatenate PEMs (leaf first) and URL-encode them the way AWS ALB fills
 * X-Amzn-Mtls-Clientcert: every byte is percent-encoded except the unreserved
 * characters A-Z a-z 0-9 - _ . ~ and '+', '=', '/', which ALB leaves literal.
 */
export function toAlbHeader (pems: string[]): string {
  const joined = pems.map((pem) => pem.endsWith('\n') ? pem : `${pem}\n`).join('')
  let out = ''
  for (const byte of Buffer.from(joined, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-_.~+=/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
