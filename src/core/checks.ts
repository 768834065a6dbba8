/**
 * checks: the RFC 5280 rules on one certificate, by its role in the path. pkijs leaves these out
 * (see DESIGN.md), so they live here. Each returns null when the rule holds.
 */
import { KeyUsage, OID, type ParsedCertificate } from './parse.js'
import type { InvalidReason } from './types.js'

export interface Problem { reason: InvalidReason, message: string }

export interface CertificatePolicy {
  /** Clock tolerance in milliseconds. */
  clockToleranceMs: number
  ignoreExpiry: boolean
  /** Required leaf EKU OIDs, or false for no check. */
  extendedKeyUsage: readonly string[] | false
}

const ANY_EKU = '2.5.29.37.0'

/** Extensions this validator understands; any other one marked critical refuses the certificate. */
const UNDERSTOOD = new Set<string>([
  OID.basicConstraints,
  OID.keyUsage,
  OID.extKeyUsage,
  OID.subjectAltName,
  OID.subjectKeyIdentifier,
  OID.authorityKeyIdentifier
])

function problem (reason: InvalidReason, message: string): Problem {
  return { reason, message }
}

function label (cert: ParsedCertificate): string {
  return `certificate ${cert.serialNumber}`
}

/** Rules for every certificate: structure, validity period, critical extensions. */
export function checkCommon (cert: ParsedCertificate, now: number, policy: CertificatePolicy): Problem | null {
  if (cert.version !== 3 && cert.extensions.length > 0) return problem('invalid-certificate', `${label(cert)}: extensions in a v${cert.version} certificate`)
  if (cert.duplicateExtension !== null) return problem('invalid-certificate', `${label(cert)}: extension ${cert.duplicateExtension} appears twice`)
  if (cert.badExtension !== null) return problem('invalid-certificate', `${label(cert)}: extension ${cert.badExtension} is malformed`)
  if (!sameBytes(cert.signatureAlgorithmDer, cert.tbsSignatureAlgorithmDer)) {
    return problem('invalid-certificate', `${label(cert)}: signature algorithm differs inside and outside the signed part`)
  }
  if (cert.serialBytes.length > 20 || ((cert.serialBytes[0] ?? 0) & 0x80) !== 0) {
    return problem('invalid-certificate', `${label(cert)}: serial number is negative or longer than 20 octets`)
  }
  if (cert.san !== null && cert.san.dns.length + cert.san.uri.length + cert.san.email.length + cert.san.ip.length +
    cert.san.directoryNames.length + cert.san.other === 0) {
    return problem('invalid-certificate', `${label(cert)}: empty subjectAltName`)
  }
  for (const ext of cert.extensions) {
    if (ext.critical && !UNDERSTOOD.has(ext.oid)) {
      return problem('unknown-critical-extension', `${label(cert)}: critical extension ${ext.oid} is not understood`)
    }
  }
  return checkValidity(cert, now, policy)
}

/** The validity period at `now`, with clock tolerance; notAfter is skipped under ignoreExpiry. */
export function checkValidity (cert: ParsedCertificate, now: number, policy: CertificatePolicy): Problem | null {
  if (cert.notBefore.getTime() - policy.clockToleranceMs > now) {
    return problem('not-yet-valid', `${label(cert)}: not valid before ${cert.notBefore.toISOString()}`)
  }
  if (!policy.ignoreExpiry && cert.notAfter.getTime() + policy.clockToleranceMs < now) {
    return problem('expired', `${label(cert)}: expired at ${cert.notAfter.toISOString()}`)
  }
  return null
}

/** Rules for the end-entity (client) certificate. */
export function checkLeaf (cert: ParsedCertificate, policy: CertificatePolicy): Problem | null {
  if (cert.basicConstraints?.ca === true) return problem('ca-as-leaf', `${label(cert)}: a CA certificate (cA=TRUE) cannot be a client certificate`)
  if (cert.keyUsage !== null) {
    if ((cert.keyUsage & KeyUsage.keyCertSign) !== 0) return problem('ca-as-leaf', `${label(cert)}: keyCertSign on a client certificate`)
    if ((cert.keyUsage & KeyUsage.digitalSignature) === 0) return problem('key-usage', `${label(cert)}: keyUsage lacks digitalSignature`)
  }
  if (policy.extendedKeyUsage !== false && cert.extKeyUsage !== null) {
    const allowed = cert.extKeyUsage
    if (!allowed.includes(ANY_EKU)) {
      for (const required of policy.extendedKeyUsage) {
        if (!allowed.includes(required)) return problem('extended-key-usage', `${label(cert)}: extendedKeyUsage does not allow ${required}`)
      }
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
  if (bc === null) {
    // A v1 trust anchor predates extensions; the configuration is what makes it trusted.
    if (!(isAnchor && cert.version === 1)) return problem('not-a-ca', `${label(cert)}: issuer has no basicConstraints`)
  } else {
    if (!bc.ca) return problem('not-a-ca', `${label(cert)}: issuer is not a CA (cA=FALSE)`)
    if (bc.pathLength !== null && below > bc.pathLength) {
      return problem('path-length-exceeded', `${label(cert)}: pathLenConstraint ${bc.pathLength} exceeded (${below} intermediates below)`)
    }
  }
  if (cert.keyUsage !== null && (cert.keyUsage & KeyUsage.keyCertSign) === 0) {
    return problem('key-usage', `${label(cert)}: issuer keyUsage lacks keyCertSign`)
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
