/**
 * policies: reads the four certificate-policy extensions of RFC 5280 over the DER bytes
 * (certificatePolicies 4.2.1.4, policyMappings 4.2.1.5, policyConstraints 4.2.1.11,
 * inhibitAnyPolicy 4.2.1.14). Policy qualifiers are checked for shape and otherwise ignored, as
 * RFC 5280 6.1 allows. The values are read once per parsed certificate (issuers repeat across
 * clients) and every malformation is reported, never guessed around.
 */
import { children, DerError, oidText, readOne, type Tlv } from './der.js'
import { OID, type ParsedCertificate } from './parse.js'

export const ANY_POLICY = '2.5.29.32.0'

/** A SkipCerts value; anything larger than a path can be long is the same as "never". */
const SKIP_CERTS_CEILING = 1024

export interface PolicyMapping {
  readonly issuerDomainPolicy: string
  readonly subjectDomainPolicy: string
}

export interface CertificatePolicyExtensions {
  /** certificatePolicies OIDs in order, or null when the extension is absent. */
  readonly policies: readonly string[] | null
  /** policyMappings pairs, or null when absent. */
  readonly mappings: readonly PolicyMapping[] | null
  /** policyConstraints requireExplicitPolicy, or null. */
  readonly requireExplicitPolicy: number | null
  /** policyConstraints inhibitPolicyMapping, or null. */
  readonly inhibitPolicyMapping: number | null
  /** inhibitAnyPolicy SkipCerts, or null when absent. */
  readonly inhibitAnyPolicy: number | null
  /** policyConstraints is present and not marked critical. */
  readonly policyConstraintsNonCritical: boolean
}

export type PolicyExtensionsResult = { ok: true, value: CertificatePolicyExtensions } | { ok: false, message: string }

const NONE: CertificatePolicyExtensions = Object.freeze({
  policies: null,
  mappings: null,
  requireExplicitPolicy: null,
  inhibitPolicyMapping: null,
  inhibitAnyPolicy: null,
  policyConstraintsNonCritical: false
})

const memo = new WeakMap<ParsedCertificate, PolicyExtensionsResult>()

/** The policy extensions of `cert`, read once per parsed certificate. */
export function policyExtensions (cert: ParsedCertificate): PolicyExtensionsResult {
  let result = memo.get(cert)
  if (result === undefined) {
    result = readPolicyExtensions(cert)
    memo.set(cert, result)
  }
  return result
}

function readPolicyExtensions (cert: ParsedCertificate): PolicyExtensionsResult {
  let value: CertificatePolicyExtensions = NONE
  for (const ext of cert.extensions) {
    try {
      switch (ext.oid) {
        case OID.certificatePolicies: value = { ...value, policies: readCertificatePolicies(ext.value) }; break
        case OID.policyMappings: value = { ...value, mappings: readPolicyMappings(ext.value) }; break
        case OID.policyConstraints: value = { ...value, ...readPolicyConstraints(ext.value), policyConstraintsNonCritical: !ext.critical }; break
        case OID.inhibitAnyPolicy: value = { ...value, inhibitAnyPolicy: skipCerts(readOne(ext.value), 0x02) }; break
      }
    } catch (err) {
      const detail = err instanceof DerError || err instanceof PolicySyntaxError ? err.message : 'unreadable'
      return { ok: false, message: `extension ${ext.oid} is malformed: ${detail}` }
    }
  }
  return { ok: true, value: value === NONE ? NONE : Object.freeze(value) }
}

class PolicySyntaxError extends Error {}

function oid (tlv: Tlv | undefined, what: string): string {
  if (tlv === undefined || tlv.tag !== 0x06) throw new PolicySyntaxError(`${what} is not an OBJECT IDENTIFIER`)
  return oidText(tlv.value)
}

function sequenceOf (bytes: Uint8Array, what: string): Tlv[] {
  const outer = readOne(bytes)
  if (outer.tag !== 0x30) throw new PolicySyntaxError(`${what} is not a SEQUENCE`)
  const items = children(outer.value)
  // RFC 5280: SEQUENCE SIZE (1..MAX).
  if (items.length === 0) throw new PolicySyntaxError(`empty ${what}`)
  return items
}

/**
 * certificatePolicies ::= SEQUENCE SIZE (1..MAX) OF PolicyInformation
 * PolicyInformation ::= SEQUENCE { policyIdentifier OID, policyQualifiers SEQUENCE SIZE (1..MAX) OF PolicyQualifierInfo OPTIONAL }
 * PolicyQualifierInfo ::= SEQUENCE { policyQualifierId OID, qualifier ANY }
 * RFC 5280 4.2.1.4: a policy OID MUST NOT appear more than once.
 */
function readCertificatePolicies (bytes: Uint8Array): string[] {
  const out: string[] = []
  const seen = new Set<string>()
  for (const info of sequenceOf(bytes, 'certificatePolicies')) {
    const parts = info.tag === 0x30 ? children(info.value) : []
    if (parts.length < 1 || parts.length > 2) throw new PolicySyntaxError('PolicyInformation is not a SEQUENCE of one or two fields')
    const id = oid(parts[0], 'policyIdentifier')
    if (seen.has(id)) throw new PolicySyntaxError(`policy ${id} appears twice`)
    seen.add(id)
    const qualifiers = parts[1]
    if (qualifiers !== undefined) {
      const list = qualifiers.tag === 0x30 ? children(qualifiers.value) : null
      if (list === null || list.length === 0) throw new PolicySyntaxError('policyQualifiers is not a non-empty SEQUENCE')
      for (const q of list) {
        const fields = q.tag === 0x30 ? children(q.value) : []
        if (fields.length !== 2) throw new PolicySyntaxError('PolicyQualifierInfo is not a SEQUENCE { OID, ANY }')
        oid(fields[0], 'policyQualifierId')
      }
    }
    out.push(id)
  }
  return out
}

/** PolicyMappings ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { issuerDomainPolicy OID, subjectDomainPolicy OID } */
function readPolicyMappings (bytes: Uint8Array): PolicyMapping[] {
  return sequenceOf(bytes, 'policyMappings').map((pair) => {
    const parts = pair.tag === 0x30 ? children(pair.value) : []
    if (parts.length !== 2) throw new PolicySyntaxError('a policy mapping is not a SEQUENCE of two OIDs')
    return { issuerDomainPolicy: oid(parts[0], 'issuerDomainPolicy'), subjectDomainPolicy: oid(parts[1], 'subjectDomainPolicy') }
  })
}

/**
 * PolicyConstraints ::= SEQUENCE { requireExplicitPolicy [0] SkipCerts OPTIONAL, inhibitPolicyMapping [1] SkipCerts OPTIONAL }
 * RFC 5280 4.2.1.11: conforming CAs MUST NOT issue an empty sequence.
 */
function readPolicyConstraints (bytes: Uint8Array): { requireExplicitPolicy: number | null, inhibitPolicyMapping: number | null } {
  const outer = readOne(bytes)
  if (outer.tag !== 0x30) throw new PolicySyntaxError('policyConstraints is not a SEQUENCE')
  const fields = children(outer.value)
  if (fields.length === 0) throw new PolicySyntaxError('empty policyConstraints')
  let requireExplicitPolicy: number | null = null
  let inhibitPolicyMapping: number | null = null
  let last = -1
  for (const field of fields) {
    const tagNumber = field.tag === 0x80 ? 0 : field.tag === 0x81 ? 1 : -1
    if (tagNumber <= last) throw new PolicySyntaxError('policyConstraints fields out of order or unknown')
    last = tagNumber
    if (tagNumber === 0) requireExplicitPolicy = skipCerts(field, 0x80)
    else inhibitPolicyMapping = skipCerts(field, 0x81)
  }
  return { requireExplicitPolicy, inhibitPolicyMapping }
}

/** SkipCerts ::= INTEGER (0..MAX), minimal DER; values beyond any path length are capped. */
function skipCerts (tlv: Tlv, tag: number): number {
  if (tlv.tag !== tag) throw new PolicySyntaxError('SkipCerts is not an INTEGER')
  const v = tlv.value
  if (v.length === 0) throw new PolicySyntaxError('empty INTEGER')
  if ((v[0]! & 0x80) !== 0) throw new PolicySyntaxError('negative SkipCerts')
  if (v.length > 1 && v[0] === 0 && (v[1]! & 0x80) === 0) throw new PolicySyntaxError('non-minimal INTEGER')
  let n = 0
  for (const b of v) {
    n = n * 256 + b
    if (n > SKIP_CERTS_CEILING) return SKIP_CERTS_CEILING
  }
  return n
}
