/**
 * identity: a validated path -> the immutable object handed to the application.
 */
import { formatName, nameAttributes } from './x509/names.js'
import { toPem, type ParsedCertificate } from './x509/parse.js'
import type { ChainCertificate, ClientCertificate, CertificateSource } from './types.js'

const entries = new WeakMap<ParsedCertificate, ChainCertificate>()

/** One frozen entry per parsed certificate: identities of clients under one CA share its entries. */
function chainEntry (cert: ParsedCertificate): ChainCertificate {
  let entry = entries.get(cert)
  if (entry === undefined) {
    entry = makeChainEntry(cert)
    entries.set(cert, entry)
  }
  return entry
}

function makeChainEntry (cert: ParsedCertificate): ChainCertificate {
  return Object.freeze({
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    fingerprint256: cert.fingerprint256,
    pem: toPem(cert.der)
  })
}

function freezeAttributes (attrs: Record<string, string[]>): Readonly<Record<string, readonly string[]>> {
  for (const key of Object.keys(attrs)) Object.freeze(attrs[key])
  return Object.freeze(attrs)
}

/** The single `spiffe://` URI SAN, or null (the SPIFFE X.509-SVID spec allows exactly one). */
function spiffeIdOf (uris: readonly string[]): string | null {
  const ids = uris.filter((u) => u.slice(0, 9).toLowerCase() === 'spiffe://')
  return ids.length === 1 ? ids[0]! : null
}

export function buildIdentity (
  path: readonly ParsedCertificate[],
  source: CertificateSource,
  verifiedBy: ClientCertificate['verifiedBy']
): ClientCertificate {
  const leaf = path[0]!
  const subjectAttributes = freezeAttributes(nameAttributes(leaf.subject))
  const san = leaf.san
  const uri = Object.freeze([...(san?.uri ?? [])])
  const chain = path.map(chainEntry)
  return Object.freeze({
    ...chain[0]!,
    subjectAttributes,
    issuerAttributes: freezeAttributes(nameAttributes(leaf.issuer)),
    commonName: subjectAttributes.CN?.[0] ?? null,
    san: Object.freeze({
      dns: Object.freeze([...(san?.dns ?? [])]),
      uri,
      email: Object.freeze([...(san?.email ?? [])]),
      ip: Object.freeze([...(san?.ip ?? [])])
    }),
    spiffeId: spiffeIdOf(uri),
    // RFC 8705 3.1: the certificate thumbprint confirmation method.
    x5tS256: Buffer.from(leaf.fingerprint256, 'hex').toString('base64url'),
    chain: Object.freeze(chain),
    source,
    verifiedBy
  })
}
