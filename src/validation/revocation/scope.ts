/**
 * scope: which CRL may speak for which certificate (RFC 5280 5.2.5, 4.2.1.13 and 6.3.3 (b), (c)).
 *
 * A certificate's cRLDistributionPoints and a CRL's issuingDistributionPoint are reduced to comparable
 * keys once: a GeneralName becomes `dn:<nameKey>` for a directoryName (RFC 5280 7.1 comparison) and
 * `<tag>:<hex>` for any other form (URIs compared octet for octet, as RFC 5280 6.3.3 (b)(2)(i) asks
 * only for "at least one name matches").
 */
import * as asn1js from 'asn1js'
import { children, readOne, type Tlv } from '../../x509/der.js'
import { directoryName } from '../../x509/general-names.js'
import { nameKey, parseName, type Rdns } from '../../x509/names.js'
import type { ParsedCertificate } from '../../x509/parse.js'

export const CRL_DISTRIBUTION_POINTS = '2.5.29.31'

/** ReasonFlags bits 1..8 (keyCompromise .. aACompromise), RFC 5280 4.2.1.13; bit 0 is "unused". */
export const ALL_REASONS = 0x1fe

/** A distribution point name: the names it stands for, as comparison keys. */
export type NameKeys = readonly string[]

export interface DistributionPoint {
  /** distributionPoint (fullName, or nameRelativeToCRLIssuer made absolute); null when absent. */
  readonly names: NameKeys | null
  /** reasons, as a bit mask of ALL_REASONS; null when absent (all reasons). */
  readonly reasons: number | null
  /** cRLIssuer directoryNames as nameKeys, plus every name as keys; null when absent. */
  readonly crlIssuers: { readonly dirKeys: readonly string[], readonly keys: NameKeys } | null
}

export interface IssuingDistributionPoint {
  readonly names: NameKeys | null
  readonly onlyContainsUserCerts: boolean
  readonly onlyContainsCACerts: boolean
  readonly onlySomeReasons: number | null
  readonly indirectCRL: boolean
  readonly onlyContainsAttributeCerts: boolean
  /** The extension value, to tell whether a delta CRL has the same scope as a complete one. */
  readonly der: Uint8Array
}

function generalNameKey (tlv: Tlv): string {
  if ((tlv.tag & 0xc0) !== 0x80) throw new Error('GeneralName is not context-tagged')
  if ((tlv.tag & 0x1f) === 4) return `dn:${nameKey(directoryName(tlv))}`
  return `${tlv.tag & 0x1f}:${Buffer.from(tlv.value).toString('hex')}`
}

function generalNames (value: Uint8Array): { keys: string[], dirKeys: string[] } {
  const keys: string[] = []
  const dirKeys: string[] = []
  const list = children(value)
  if (list.length === 0) throw new Error('empty GeneralNames')
  for (const tlv of list) {
    const key = generalNameKey(tlv)
    keys.push(key)
    if (key.startsWith('dn:')) dirKeys.push(key.slice(3))
  }
  return { keys, dirKeys }
}

/** Name + RDN (nameRelativeToCRLIssuer, RFC 5280 4.2.1.13): the RDN SET's contents re-read as a Name. */
function relativeName (base: Rdns, rdnSetContents: Uint8Array): string {
  const set = Buffer.concat([derHeader(0x31, rdnSetContents.length), rdnSetContents])
  const name = Buffer.concat([derHeader(0x30, set.length), set])
  const asn1 = asn1js.fromBER(name)
  if (asn1.offset !== name.length) throw new Error('bad nameRelativeToCRLIssuer')
  return `dn:${nameKey([...base, ...parseName(asn1.result)])}`
}

function derHeader (tag: number, length: number): Buffer {
  if (length < 0x80) return Buffer.from([tag, length])
  const bytes: number[] = []
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  return Buffer.from([tag, 0x80 | bytes.length, ...bytes])
}

/** DistributionPointName ::= CHOICE { fullName [0] GeneralNames, nameRelativeToCRLIssuer [1] RDN }. */
function distributionPointName (outer: Tlv, relativeTo: Rdns | null): NameKeys | null {
  const inner = readOne(outer.value)
  if (inner.tag === 0xa0) return generalNames(inner.value).keys
  if (inner.tag === 0xa1) {
    // Relative to a cRLIssuer that is not a directoryName: cannot be resolved, matches nothing.
    return relativeTo === null ? [] : [relativeName(relativeTo, inner.value)]
  }
  throw new Error('bad DistributionPointName')
}

/** ReasonFlags BIT STRING -> mask (bit n of the ASN.1 string = 1 << n). */
export function reasonFlags (value: Uint8Array): number {
  if (value.length === 0 || value[0]! > 7 || (value.length === 1 && value[0] !== 0)) throw new Error('bad ReasonFlags')
  let mask = 0
  for (let i = 1; i < value.length && i <= 2; i++) {
    for (let bit = 0; bit < 8; bit++) if ((value[i]! & (0x80 >> bit)) !== 0) mask |= 1 << ((i - 1) * 8 + bit)
  }
  return mask
}

function flag (tlv: Tlv): boolean {
  if (tlv.value.length !== 1 || (tlv.value[0] !== 0xff && tlv.value[0] !== 0)) throw new Error('bad BOOLEAN')
  // DER: a DEFAULT FALSE field is absent rather than FALSE.
  if (tlv.value[0] === 0) throw new Error('BOOLEAN DEFAULT FALSE encoded as FALSE')
  return true
}

/** IssuingDistributionPoint (RFC 5280 5.2.5); `crlIssuer` resolves nameRelativeToCRLIssuer. */
export function parseIssuingDistributionPoint (value: Uint8Array, crlIssuer: Rdns): IssuingDistributionPoint {
  const seq = readOne(value)
  if (seq.tag !== 0x30) throw new Error('issuingDistributionPoint is not a SEQUENCE')
  let names: NameKeys | null = null
  let user = false
  let ca = false
  let reasons: number | null = null
  let indirect = false
  let attr = false
  let last = -1
  for (const field of children(seq.value)) {
    const n = field.tag & 0x1f
    if (n <= last) throw new Error('issuingDistributionPoint fields out of order')
    last = n
    if (field.tag === 0xa0) names = distributionPointName(field, crlIssuer)
    else if (field.tag === 0x81) user = flag(field)
    else if (field.tag === 0x82) ca = flag(field)
    else if (field.tag === 0x83) reasons = reasonFlags(field.value)
    else if (field.tag === 0x84) indirect = flag(field)
    else if (field.tag === 0x85) attr = flag(field)
    else throw new Error('unknown issuingDistributionPoint field')
  }
  // RFC 5280 5.2.5: at most one of the only* flags may be TRUE.
  if (Number(user) + Number(ca) + Number(attr) > 1) throw new Error('issuingDistributionPoint with more than one onlyContains flag')
  return { names, onlyContainsUserCerts: user, onlyContainsCACerts: ca, onlySomeReasons: reasons, indirectCRL: indirect, onlyContainsAttributeCerts: attr, der: value }
}

/** cRLDistributionPoints (RFC 5280 4.2.1.13). Throws on malformed DER. */
export function parseDistributionPoints (value: Uint8Array, certIssuer: Rdns): DistributionPoint[] {
  const seq = readOne(value)
  if (seq.tag !== 0x30) throw new Error('cRLDistributionPoints is not a SEQUENCE')
  const out: DistributionPoint[] = []
  for (const dp of children(seq.value)) {
    if (dp.tag !== 0x30) throw new Error('DistributionPoint is not a SEQUENCE')
    let nameTlv: Tlv | null = null
    let reasons: number | null = null
    let crlIssuers: { dirKeys: string[], keys: string[] } | null = null
    let crlIssuerName: Rdns | null = null
    for (const field of children(dp.value)) {
      if (field.tag === 0xa0 && nameTlv === null && reasons === null && crlIssuers === null) nameTlv = field
      else if (field.tag === 0x81 && reasons === null && crlIssuers === null) reasons = reasonFlags(field.value)
      else if (field.tag === 0xa2 && crlIssuers === null) {
        crlIssuers = generalNames(field.value)
        const dir = children(field.value).find((t) => t.tag === 0xa4)
        crlIssuerName = dir === undefined ? null : directoryName(dir)
      } else throw new Error('bad DistributionPoint field')
    }
    // RFC 5280 4.2.1.13: a DistributionPoint with only reasons is not allowed.
    if (nameTlv === null && crlIssuers === null) throw new Error('DistributionPoint with neither a name nor a cRLIssuer')
    const names = nameTlv === null ? null : distributionPointName(nameTlv, crlIssuers === null ? certIssuer : crlIssuerName)
    out.push({ names, reasons, crlIssuers })
  }
  if (out.length === 0) throw new Error('empty cRLDistributionPoints')
  return out
}

const dpCache = new WeakMap<ParsedCertificate, DistributionPoint[] | string | null>()

/** The certificate's distribution points; null without the extension; a string when malformed. */
export function distributionPointsOf (cert: ParsedCertificate): DistributionPoint[] | string | null {
  let dps = dpCache.get(cert)
  if (dps === undefined) {
    const ext = cert.extensions.find((e) => e.oid === CRL_DISTRIBUTION_POINTS)
    try {
      dps = ext === undefined ? null : parseDistributionPoints(ext.value, cert.issuer)
    } catch (err) {
      dps = `malformed cRLDistributionPoints: ${(err as Error).message}`
    }
    dpCache.set(cert, dps)
  }
  return dps
}

/** True when the two key lists share a name. */
export function intersects (a: NameKeys, b: NameKeys): boolean {
  return a.some((x) => b.includes(x))
}
