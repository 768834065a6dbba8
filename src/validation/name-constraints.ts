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
import { rdnKey, type NameConstraints, type Subtree } from '../x509/name-constraints.js'
import type { ParsedCertificate } from '../x509/parse.js'

/** Most (name x subtree) comparisons for one path; beyond it the path is refused (nc-dos defence). */
export const COMPARISON_BUDGET = 1 << 16

const EMAIL_OID = '1.2.840.113549.1.9.1'

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
