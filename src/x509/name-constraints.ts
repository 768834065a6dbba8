/**
 * name-constraints (reading): the nameConstraints extension value, RFC 5280 4.2.1.10.
 *
 * Only the encoding is judged here (what RFC 5280 allows in a GeneralSubtree); the rules that apply
 * the subtrees to a path live in validation/name-constraints.ts.
 */
import { children, readOne, type Tlv } from './der.js'
import { directoryName, generalNameForm, GeneralNameTag, ia5, isValidDnsName, isValidMailbox } from './general-names.js'
import { nameKey, type Rdns } from './names.js'

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
  const form = generalNameForm(base)
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
