/**
 * name-constraints: RFC 5280 4.2.1.10 and 6.1.3 (b)-(c), 6.1.4 (g).
 *
 * Every CA certificate on the path, the trust anchor included, may carry permitted and excluded
 * subtrees. Instead of computing intersections of subtrees, each CA's permitted set is kept as its
 * own level: a name must fall inside some permitted subtree of its form at EVERY level that
 * constrains that form (which is exactly the intersection, and can never be widened by a sub-CA), and
 * inside no excluded subtree of any level. Forms this library cannot compare (otherName, x400Address,
 * ediPartyName, registeredID) fail closed when a constraint of that form meets a name of that form.
 */
import { children, readOne, type Tlv } from './der.js'
import { directoryName, GeneralNameTag, ia5, isValidDnsName, isValidMailbox } from './general-names.js'
import { nameKey, type Rdns } from './names.js'
import type { ParsedCertificate } from './parse.js'

export type Subtree =
  | { form: 'dns', value: string }
  | { form: 'email', value: string }
  | { form: 'uri', value: string }
  | { form: 'ip', address: Uint8Array, mask: Uint8Array }
  | { form: 'dn', rdnKeys: string[] }
  | { form: 'other', tag: number }

export interface NameConstraints {
  /** null when the extension has no permittedSubtrees. */
  readonly permitted: readonly Subtree[] | null
  readonly excluded: readonly Subtree[]
}

/** Most (name x subtree) comparisons for one path; beyond it the path is refused (nc-dos defence). */
export const COMPARISON_BUDGET = 1 << 16

const EMAIL_OID = '1.2.840.113549.1.9.1'

export function rdnKey (rdn: Rdns[number]): string {
  return nameKey([rdn])
}

function contiguousMask (mask: Uint8Array): boolean {
  let zero = false
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = (byte >> bit) & 1
      if (set && zero) return false
      if (!set) zero = true
    }
  }
  return true
}

function parseSubtree (tlv: Tlv): Subtree {
  if (tlv.tag !== 0x30) throw new Error('GeneralSubtree is not a SEQUENCE')
  const [base, ...rest] = children(tlv.value)
  if (base === undefined) throw new Error('GeneralSubtree without base')
  // minimum is DEFAULT 0 (so absent in DER) and maximum MUST be absent (RFC 5280 4.2.1.10).
  if (rest.length > 0) throw new Error('GeneralSubtree with minimum or maximum')
  if ((base.tag & 0xc0) !== 0x80) throw new Error('GeneralName is not context-tagged')
  const form = base.tag & 0x1f
  switch (form) {
    case GeneralNameTag.dNSName: {
      const value = ia5(base.value)
      // An empty constraint matches every name; otherwise a host name, no wildcard, no leading dot.
      if (value !== '' && !isValidDnsName(value, false)) throw new Error(`invalid dNSName constraint ${JSON.stringify(value)}`)
      return { form: 'dns', value: value.toLowerCase() }
    }
    case GeneralNameTag.rfc822Name: {
      const value = ia5(base.value)
      const ok = value.includes('@') ? isValidMailbox(value) : isValidDnsName(value.startsWith('.') ? value.slice(1) : value, false)
      if (!ok) throw new Error(`invalid rfc822Name constraint ${JSON.stringify(value)}`)
      return { form: 'email', value }
    }
    case GeneralNameTag.uniformResourceIdentifier: {
      const value = ia5(base.value)
      if (!isValidDnsName(value.startsWith('.') ? value.slice(1) : value, false)) throw new Error(`invalid URI constraint ${JSON.stringify(value)}`)
      return { form: 'uri', value: value.toLowerCase() }
    }
    case GeneralNameTag.iPAddress: {
      const bytes = base.value
      if (bytes.length !== 8 && bytes.length !== 32) throw new Error(`iPAddress constraint of ${bytes.length} octets`)
      const half = bytes.length / 2
      const mask = bytes.subarray(half)
      if (!contiguousMask(mask)) throw new Error('iPAddress constraint mask is not a prefix')
      return { form: 'ip', address: bytes.subarray(0, half), mask }
    }
    case GeneralNameTag.directoryName:
      return { form: 'dn', rdnKeys: directoryName(base).map(rdnKey) }
    case GeneralNameTag.otherName: case GeneralNameTag.x400Address: case GeneralNameTag.ediPartyName: case GeneralNameTag.registeredID:
      return { form: 'other', tag: form }
    default:
      throw new Error(`unknown GeneralName choice [${form}]`)
  }
}

/** Parses the nameConstraints extension value. Throws on anything RFC 5280 does not allow. */
export function parseNameConstraints (value: Uint8Array): NameConstraints {
  const seq = readOne(value)
  if (seq.tag !== 0x30) throw new Error('NameConstraints is not a SEQUENCE')
  let permitted: Subtree[] | null = null
  let excluded: Subtree[] = []
  let last = -1
  for (const part of children(seq.value)) {
    const which = part.tag === 0xa0 ? 0 : part.tag === 0xa1 ? 1 : -1
    if (which <= last) throw new Error('unexpected field in NameConstraints')
    last = which
    const subtrees = children(part.value).map(parseSubtree)
    // GeneralSubtrees ::= SEQUENCE SIZE (1..MAX): an empty list is malformed.
    if (subtrees.length === 0) throw new Error('empty GeneralSubtrees')
    if (which === 0) permitted = subtrees
    else excluded = subtrees
  }
  // RFC 5280: "Conforming CAs MUST NOT issue certificates where name constraints is an empty sequence."
  if (permitted === null && excluded.length === 0) throw new Error('empty NameConstraints')
  return { permitted, excluded }
}

/** One name of a certificate, as constraints see it. */
type Name =
  | { form: 'dns', value: string }
  | { form: 'email', value: string }
  | { form: 'uri', value: string }
  | { form: 'ip', address: Uint8Array }
  | { form: 'dn', rdnKeys: string[] }
  | { form: 'other', tag: number }

function namesOf (cert: ParsedCertificate): Name[] {
  const names: Name[] = []
  if (cert.subject.length > 0) names.push({ form: 'dn', rdnKeys: cert.subject.map(rdnKey) })
  // RFC 5280 4.2.1.10: rfc822Name constraints also apply to emailAddress attributes of the subject.
  for (const rdn of cert.subject) for (const a of rdn) if (a.oid === EMAIL_OID) names.push({ form: 'email', value: a.value })
  const san = cert.san
  if (san !== null) {
    for (const value of san.dns) names.push({ form: 'dns', value: value.toLowerCase() })
    for (const value of san.email) names.push({ form: 'email', value })
    for (const value of san.uri) names.push({ form: 'uri', value })
    for (const address of san.ipBytes) names.push({ form: 'ip', address })
    for (const dn of san.directoryNames) names.push({ form: 'dn', rdnKeys: dn.map(rdnKey) })
    for (const tag of san.otherForms) names.push({ form: 'other', tag })
  }
  return names
}

/** `name` equals `base` or is a subdomain of it (case already folded). */
function withinDomain (name: string, base: string): boolean {
  return base === '' || name === base || name.endsWith('.' + base)
}

function dnsMatches (name: string, constraint: string, excluding: boolean): boolean {
  if (!name.startsWith('*.')) return withinDomain(name, constraint)
  const base = name.slice(2)
  if (withinDomain(base, constraint)) return true
  // A wildcard covers one more label: for exclusion it must not be able to reach the subtree.
  return excluding && constraint.endsWith('.' + base) && !constraint.slice(0, -base.length - 1).includes('.')
}

function emailMatches (address: string, constraint: string): boolean {
  const at = address.lastIndexOf('@')
  if (at < 0) return false
  const domain = address.slice(at + 1).toLowerCase()
  if (constraint.includes('@')) {
    const cAt = constraint.lastIndexOf('@')
    return address.slice(0, at) === constraint.slice(0, cAt) && domain === constraint.slice(cAt + 1).toLowerCase()
  }
  const c = constraint.toLowerCase()
  return c.startsWith('.') ? domain.endsWith(c) : domain === c
}

/** The host of an absolute URI with an authority, lowercased; null when it has none. */
export function uriHost (uri: string): string | null {
  const m = /^[a-z][a-z0-9+.-]*:\/\/(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)/i.exec(uri)
  if (m === null || m[1] === '' || m[1] === undefined) return null
  return m[1].toLowerCase()
}

function uriMatches (uri: string, constraint: string): boolean {
  const host = uriHost(uri)
  if (host === null) return false
  return constraint.startsWith('.') ? host.endsWith(constraint) : host === constraint
}

function ipMatches (address: Uint8Array, c: { address: Uint8Array, mask: Uint8Array }): boolean {
  if (address.length !== c.address.length) return false
  for (let i = 0; i < address.length; i++) {
    if ((address[i]! & c.mask[i]!) !== (c.address[i]! & c.mask[i]!)) return false
  }
  return true
}

function dnMatches (name: string[], constraint: string[]): boolean {
  if (constraint.length > name.length) return false
  for (let i = 0; i < constraint.length; i++) if (name[i] !== constraint[i]) return false
  return true
}

function matches (name: Name, subtree: Subtree, excluding: boolean): boolean {
  switch (name.form) {
    case 'dns': return subtree.form === 'dns' && dnsMatches(name.value, subtree.value, excluding)
    case 'email': return subtree.form === 'email' && emailMatches(name.value, subtree.value)
    case 'uri': return subtree.form === 'uri' && uriMatches(name.value, subtree.value)
    case 'ip': return subtree.form === 'ip' && ipMatches(name.address, subtree)
    case 'dn': return subtree.form === 'dn' && dnMatches(name.rdnKeys, subtree.rdnKeys)
    case 'other': return false
  }
}

function sameForm (name: Name, subtree: Subtree): boolean {
  if (name.form !== subtree.form) return false
  return name.form !== 'other' || (subtree.form === 'other' && subtree.tag === name.tag)
}

function describe (name: Name): string {
  switch (name.form) {
    case 'dn': return 'the subject or a directoryName'
    case 'ip': return 'an iPAddress'
    case 'other': return `a name of form [${name.tag}]`
    default: return `${name.form} ${JSON.stringify(name.value)}`
  }
}

/**
 * Checks a whole path (leaf first, anchor last) against every name constraint on it. Returns null when
 * all names are allowed, else a message.
 */
export function checkNameConstraints (path: readonly ParsedCertificate[]): string | null {
  const levels: NameConstraints[] = []
  let budget = COMPARISON_BUDGET
  for (let i = path.length - 1; i >= 0; i--) {
    const cert = path[i]!
    const isAnchor = i === path.length - 1
    // Self-issued intermediates are not checked (RFC 5280 6.1.3 (b)); the leaf always is.
    if (!isAnchor && levels.length > 0 && (i === 0 || !cert.selfIssued)) {
      const names = namesOf(cert)
      let subtrees = 0
      for (const level of levels) subtrees += (level.permitted?.length ?? 0) + level.excluded.length
      budget -= names.length * subtrees
      if (budget < 0) return 'too many name-constraint comparisons on this path'
      for (const name of names) {
        for (const level of levels) {
          for (const subtree of level.excluded) {
            if (sameForm(name, subtree) && (name.form === 'other' || matches(name, subtree, true))) {
              return `${describe(name)} of certificate ${cert.serialNumber} is in an excluded subtree`
            }
          }
          if (level.permitted === null) continue
          let constrained = false
          let allowed = false
          for (const subtree of level.permitted) {
            if (!sameForm(name, subtree)) continue
            constrained = true
            if (matches(name, subtree, false)) { allowed = true; break }
          }
          if (constrained && !allowed) return `${describe(name)} of certificate ${cert.serialNumber} is outside the permitted subtrees`
        }
      }
    }
    if (i > 0 && cert.nameConstraints !== null) levels.push(cert.nameConstraints)
  }
  return null
}
