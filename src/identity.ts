/**
 * identity: a validated path -> the immutable object handed to the application.
 */
import { formatName, nameAttributes } from './x509/names.js'
import { toPem, type ParsedCertificate } from './x509/parse.js'
import { spiffeIdOf } from './x509/spiffe.js'
import type { ChainCertificate, ClientCertificate, CertificateSource } from './types.js'

/**
 * Dates handed to the application. Object.freeze does not freeze a Date's time value, and the
 * parsed certificates' own Date objects are what validation reads (for cached issuers, across
 * clients): an identity gets its own copies, whose setters throw. (Date.prototype.setTime.call on
 * one still changes that copy only: nothing the verifier reads.) Named Date, so it prints like one.
 */
const ReadonlyDate = class Date extends globalThis.Date {}
for (const name of Object.getOwnPropertyNames(globalThis.Date.prototype)) {
  if (!name.startsWith('set')) continue
  Object.defineProperty(ReadonlyDate.prototype, name, {
    value () { throw new TypeError(`request.clientCert is read-only: Date#${name} is not allowed`) }
  })
}
Object.freeze(ReadonlyDate.prototype)

function readonlyDate (date: Date): Date {
  return Object.freeze(new ReadonlyDate(date.getTime()))
}

const entries = new WeakMap<ParsedCertificate, ChainCertificate>()

/**
 * One frozen entry per parsed certificate: identities of clients under one CA share its entries
 * (nothing in an entry can be changed, and nothing in it is an object the verifier reads).
 */
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
    notBefore: readonlyDate(cert.notBefore),
    notAfter: readonlyDate(cert.notAfter),
    fingerprint256: cert.fingerprint256,
    pem: toPem(cert.der)
  })
}

function freezeAttributes (attrs: Record<string, string[]>): Readonly<Record<string, readonly string[]>> {
  for (const key of Object.keys(attrs)) Object.freeze(attrs[key])
  return Object.freeze(attrs)
}

export function buildIdentity (
  path: readonly ParsedCertificate[],
  source: CertificateSource,
  verifiedBy: ClientCertificate['verifiedBy'],
  /** The leaf's valid certificate policies (RFC 5280 6.1, see validation/policies.ts). */
  policies: readonly string[] = []
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
    verifiedBy,
    policies: Object.isFrozen(policies) ? policies : Object.freeze([...policies])
  })
}
