/**
 * checks: the RFC 5280 rules on one certificate, by its role in the path. pkijs leaves these out
 * (see DESIGN.md), so they live here. Each returns null when the rule holds.
 */
import { isValidDnsName, isValidMailbox } from '../x509/general-names.js'
import { KeyUsage, OID, type ParsedCertificate, type RawExtension } from '../x509/parse.js'
import type { InvalidReason } from '../types.js'
import { CRL_DISTRIBUTION_POINTS, distributionPointsOf } from './revocation/scope.js'

export interface Problem { reason: InvalidReason, message: string }

export interface CertificatePolicy {
  /** Clock tolerance in milliseconds. */
  clockToleranceMs: number
  ignoreExpiry: boolean
  /** Required leaf EKU OIDs, or false for no check. */
  extendedKeyUsage: readonly string[] | false
  /** anyExtendedKeyUsage on the leaf satisfies every required usage (RFC 5280 semantics) instead of refusing it. */
  allowAnyExtendedKeyUsage: boolean
}

const ANY_EKU = '2.5.29.37.0'
const EC_PUBLIC_KEY = '1.2.840.10045.2.1'

/**
 * Two rules stricter than RFC 5280, taken from the CA/B Forum profile: a critical extendedKeyUsage
 * on the client certificate and an extendedKeyUsage on a self-signed root are refused. Both are
 * rare in client PKIs and both make the meaning of EKU ambiguous; see README, Standards conformance.
 */
const STRICT_EKU = true

/** Extensions this validator understands; any other one marked critical refuses the certificate. */
const UNDERSTOOD = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier,
  OID.nameConstraints,
  // Certificate policies, processed per RFC 5280 6.1 in policies.ts.
  OID.certificatePolicies,
  OID.policyMappings,
  OID.policyConstraints,
  OID.inhibitAnyPolicy,
  // cRLDistributionPoints (RFC 5280 4.2.1.13: SHOULD be non-critical, but applications that support it
  // must accept it critical): processed in revocation/scope.ts to decide which CRL covers a certificate.
  // A critical one must at least be readable (checkCommon).
  CRL_DISTRIBUTION_POINTS
  // Not freshestCRL (2.5.29.46): RFC 5280 4.2.1.15 says conforming CAs MUST mark it non-critical, and
  // this validator never reads it from a certificate (configured delta CRLs are applied to their base
  // whether or not it is present; nothing is fetched). A critical one carries information this
  // implementation does not process, so RFC 5280 4.2 requires refusing the certificate, as OpenSSL does.
])

/** Extensions RFC 5280 says conforming CAs MUST mark non-critical / critical. */
const MUST_BE_NON_CRITICAL = new Set<string>([OID.authorityKeyIdentifier, OID.subjectKeyIdentifier])
// policyConstraints (4.2.1.11) is judged on the whole path, in policies.ts.
const MUST_BE_CRITICAL = new Set<string>([OID.nameConstraints])

function problem (reason: InvalidReason, message: string): Problem {
  return { reason, message }
}

function label (cert: ParsedCertificate): string {
  return `certificate ${cert.serialNumber}`
}

function hasExtension (cert: ParsedCertificate, oid: string): RawExtension | undefined {
  return cert.extensions.find((e) => e.oid === oid)
}

/** Syntax of the subjectAltName entries (RFC 5280 4.2.1.6). */
function sanProblem (cert: ParsedCertificate): string | null {
  const san = cert.san
  if (san === null) return null
  if (san.dns.length + san.uri.length + san.email.length + san.ip.length + san.directoryNames.length + san.other === 0) return 'empty subjectAltName'
  for (const name of san.dns) if (!isValidDnsName(name, true)) return `invalid dNSName ${JSON.stringify(name)}`
  for (const name of san.email) if (!isValidMailbox(name)) return `invalid rfc822Name ${JSON.stringify(name)}`
  for (const bytes of san.ipBytes) if (bytes.length !== 4 && bytes.length !== 16) return `iPAddress of ${bytes.length} octets`
  for (const uri of san.uri) if (!/^[a-z][a-z0-9+.-]*:/i.test(uri)) return `URI without a scheme ${JSON.stringify(uri)}`
  return null
}

/** Rules for every certificate: structure, validity period, critical extensions. */
export function checkCommon (cert: ParsedCertificate, now: number, policy: CertificatePolicy): Problem | null {
  if (cert.version !== 3 && cert.extensions.length > 0) return problem('invalid-certificate', `${label(cert)}: extensions in a v${cert.version} certificate`)
  if (cert.duplicateExtension !== null) return problem('invalid-certificate', `${label(cert)}: extension ${cert.duplicateExtension} appears twice`)
  if (cert.badExtension !== null) return problem('invalid-certificate', `${label(cert)}: extension ${cert.badExtension} is malformed`)
  if (!sameBytes(cert.signatureAlgorithmDer, cert.tbsSignatureAlgorithmDer)) {
    return problem('invalid-certificate', `${label(cert)}: signature algorithm differs inside and outside the signed part`)
  }
  // RFC 5280 4.1.2.2: a positive integer of at most 20 octets.
  if (cert.serialBytes.length === 0 || cert.serialBytes.length > 20 || ((cert.serialBytes[0] ?? 0) & 0x80) !== 0 || cert.serialBytes.every((b) => b === 0)) {
    return problem('invalid-certificate', `${label(cert)}: serial number is zero, negative or longer than 20 octets`)
  }
  if (cert.issuer.length === 0) return problem('invalid-certificate', `${label(cert)}: empty issuer name`)
  const san = sanProblem(cert)
  if (san !== null) return problem('invalid-certificate', `${label(cert)}: ${san}`)
  if (cert.subject.length === 0 && hasExtension(cert, OID.subjectAltName)?.critical !== true) {
    return problem('invalid-certificate', `${label(cert)}: empty subject without a critical subjectAltName`)
  }
  for (const ext of cert.extensions) {
    if (ext.critical && MUST_BE_NON_CRITICAL.has(ext.oid)) return problem('invalid-certificate', `${label(cert)}: extension ${ext.oid} must not be critical`)
    if (!ext.critical && MUST_BE_CRITICAL.has(ext.oid)) return problem('invalid-certificate', `${label(cert)}: extension ${ext.oid} must be critical`)
    if (ext.critical && !UNDERSTOOD.has(ext.oid)) {
      return problem('unknown-critical-extension', `${label(cert)}: critical extension ${ext.oid} is not understood`)
    }
    // A non-critical one that cannot be read only matters when a CRL concerns the issuer (revocation
    // refuses then); a critical one the validator cannot process refuses the certificate (RFC 5280 4.2).
    if (ext.critical && ext.oid === CRL_DISTRIBUTION_POINTS) {
      const dps = distributionPointsOf(cert)
      if (typeof dps === 'string') return problem('invalid-certificate', `${label(cert)}: critical ${dps}`)
    }
  }
  // RFC 5280 4.2.1.1: keyIdentifier is required in the AKI of every certificate but a self-signed one,
  // where the whole extension may be left out.
  if (hasExtension(cert, OID.authorityKeyIdentifier) !== undefined ? cert.authorityKeyIdentifier === null : !cert.selfIssued) {
    return problem('invalid-certificate', `${label(cert)}: authorityKeyIdentifier with a keyIdentifier is required`)
  }
  if (cert.spkiAlgorithm === EC_PUBLIC_KEY && !cert.spkiParamsAreOid) {
    return problem('weak-key', `${label(cert)}: EC key with explicit curve parameters`)
  }
  return checkValidity(cert, now, policy)
}

/** The validity period at `now`, with clock tolerance; notAfter is skipped under ignoreExpiry. */
export function checkValidity (cert: ParsedCertificate, now: number, policy: CertificatePolicy): Problem | null {
  // Validity is encoded in whole seconds: compare at that granularity (notAfter is inclusive).
  const second = Math.floor(now / 1000) * 1000
  if (cert.notBefore.getTime() - policy.clockToleranceMs > second) {
    return problem('not-yet-valid', `${label(cert)}: not valid before ${cert.notBefore.toISOString()}`)
  }
  if (!policy.ignoreExpiry && cert.notAfter.getTime() + policy.clockToleranceMs < second) {
    return problem('expired', `${label(cert)}: expired at ${cert.notAfter.toISOString()}`)
  }
  return null
}

/** Rules for the end-entity (client) certificate. */
export function checkLeaf (cert: ParsedCertificate, policy: CertificatePolicy): Problem | null {
  if (cert.version !== 3) return problem('invalid-certificate', `${label(cert)}: a v${cert.version} client certificate (v3 required)`)
  if (cert.basicConstraints?.ca === true) return problem('ca-as-leaf', `${label(cert)}: a CA certificate (cA=TRUE) cannot be a client certificate`)
  if (cert.nameConstraints !== null) return problem('invalid-certificate', `${label(cert)}: nameConstraints in an end-entity certificate`)
  if (cert.keyUsage !== null) {
    if ((cert.keyUsage & KeyUsage.keyCertSign) !== 0) return problem('ca-as-leaf', `${label(cert)}: keyCertSign on a client certificate`)
    if ((cert.keyUsage & KeyUsage.digitalSignature) === 0) return problem('key-usage', `${label(cert)}: keyUsage lacks digitalSignature`)
  }
  if (cert.extKeyUsage !== null) {
    if (cert.extKeyUsage.length === 0) return problem('invalid-certificate', `${label(cert)}: empty extendedKeyUsage`)
    if (hasExtension(cert, OID.extKeyUsage)?.critical === true && STRICT_EKU) {
      return problem('extended-key-usage', `${label(cert)}: critical extendedKeyUsage`)
    }
  }
  if (policy.extendedKeyUsage !== false && cert.extKeyUsage !== null) {
    if (cert.extKeyUsage.includes(ANY_EKU)) {
      // A leaf "for any purpose" is refused by default (CA/B Forum 7.1.2.7.10); RFC 5280
      // 4.2.1.12 leaves the choice to the application, and allowAnyExtendedKeyUsage takes its reading.
      if (policy.allowAnyExtendedKeyUsage) return null
      return problem('extended-key-usage', `${label(cert)}: anyExtendedKeyUsage in a client certificate (allowAnyExtendedKeyUsage accepts it)`)
    }
    for (const required of policy.extendedKeyUsage) {
      if (!cert.extKeyUsage.includes(required)) return problem('extended-key-usage', `${label(cert)}: extendedKeyUsage does not allow ${required}`)
    }
  }
  return null
}

/**
 * Rules for a CA certificate that issues the next one down the path.
 * `below` counts the non-self-issued intermediates between it and the leaf (RFC 5280 6.1.4 (l)-(m)).
 */
export function checkIssuer (cert: ParsedCertificate, below: number, isAnchor: boolean): Problem | null {
  const bc = cert.basicConstraints
  // A v1 trust anchor predates extensions; the configuration is what makes it trusted.
  const v1Anchor = isAnchor && cert.version === 1 && cert.extensions.length === 0
  if (bc === null) {
    if (!v1Anchor) return problem('not-a-ca', `${label(cert)}: issuer has no basicConstraints`)
  } else {
    if (!bc.ca) return problem('not-a-ca', `${label(cert)}: issuer is not a CA (cA=FALSE)`)
    if (hasExtension(cert, OID.basicConstraints)?.critical !== true) return problem('invalid-certificate', `${label(cert)}: basicConstraints of a CA must be critical`)
    if (bc.pathLength !== null && below > bc.pathLength) {
      return problem('path-length-exceeded', `${label(cert)}: pathLenConstraint ${bc.pathLength} exceeded (${below} intermediates below)`)
    }
  }
  if (cert.keyUsage !== null && (cert.keyUsage & KeyUsage.keyCertSign) === 0) {
    return problem('key-usage', `${label(cert)}: issuer keyUsage lacks keyCertSign`)
  }
  if (v1Anchor) return null
  if (cert.subject.length === 0) return problem('invalid-certificate', `${label(cert)}: CA certificate with an empty subject`)
  // RFC 5280 4.2.1.2: every CA certificate carries a subjectKeyIdentifier.
  if (cert.subjectKeyIdentifier === null) return problem('invalid-certificate', `${label(cert)}: CA certificate without subjectKeyIdentifier`)
  if (isAnchor && cert.selfIssued) {
    // A self-signed root's AKI, when present, names its own key and nothing else.
    if (cert.authorityKeyIdentifier !== null && !sameBytes(cert.authorityKeyIdentifier, cert.subjectKeyIdentifier)) {
      return problem('invalid-certificate', `${label(cert)}: self-signed root whose authorityKeyIdentifier is not its subjectKeyIdentifier`)
    }
    if (cert.authorityKeyIdentifierByName) return problem('invalid-certificate', `${label(cert)}: self-signed root with authorityCertIssuer/SerialNumber`)
    if (cert.extKeyUsage !== null && STRICT_EKU) return problem('extended-key-usage', `${label(cert)}: extendedKeyUsage in a root certificate`)
  }
  return null
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}

/** EKU names accepted in options, mapped to OIDs. */
export const EKU_OIDS: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9',
  anyExtendedKeyUsage: ANY_EKU
}
