/**
 * general-names: GeneralNames (RFC 5280 4.2.1.6) from DER, with the der walker rather than pkijs so a
 * certificate with thousands of names costs linear time. Syntax checks on the text forms live here too.
 */
import { children, oidText, readOne, type Tlv } from './der.js'
import { parseNameDer, type Rdns } from './names.js'

export interface GeneralNames {
  dns: string[]
  uri: string[]
  email: string[]
  ip: string[]
  /** Raw iPAddress octets, parallel to `ip`. */
  ipBytes: Uint8Array[]
  directoryNames: Rdns[]
  /** Count of name forms this library does not interpret (otherName, x400, EDI, registeredID). */
  other: number
  /** Context tag numbers (0, 3, 5, 8) of those forms, in order. */
  otherForms: number[]
}

/** Context-specific tags of GeneralName's choices (RFC 5280 4.2.1.6). */
export const GeneralNameTag = {
  otherName: 0,
  rfc822Name: 1,
  dNSName: 2,
  x400Address: 3,
  directoryName: 4,
  ediPartyName: 5,
  uniformResourceIdentifier: 6,
  iPAddress: 7,
  registeredID: 8
} as const

/**
 * The one identifier octet RFC 5280 4.2.1.6 allows for each GeneralName choice (module
 * PKIX1Implicit88, IMPLICIT tags): a constructed [0] otherName, [3] x400Address, [4] directoryName
 * (EXPLICIT: Name is a CHOICE) and [5] ediPartyName; a primitive [1] rfc822Name, [2] dNSName,
 * [6] uniformResourceIdentifier (IA5String), [7] iPAddress (OCTET STRING) and [8] registeredID
 * (OBJECT IDENTIFIER). Index = tag number.
 */
const GENERAL_NAME_TAGS = [0xa0, 0x81, 0x82, 0xa3, 0xa4, 0xa5, 0x86, 0x87, 0x88]

/**
 * The choice (tag number) of one GeneralName, refusing any other identifier octet: a constructed
 * `[6]` is not a URI (OpenSSL, Go and Python refuse the certificate; reading it by its tag number
 * alone would hand out `spiffe://...` from bytes no decoder calls a URI), nor is a universal or
 * private tag, nor a primitive `[4]`.
 */
export function generalNameForm (name: Tlv): number {
  const form = name.tag & 0x1f
  if (GENERAL_NAME_TAGS[form] !== name.tag) {
    throw new Error(`GeneralName with identifier 0x${name.tag.toString(16).padStart(2, '0')} (RFC 5280 allows ${GENERAL_NAME_TAGS[form] === undefined ? 'no such choice' : `0x${GENERAL_NAME_TAGS[form]!.toString(16)} for [${form}]`})`)
  }
  // Structures inside the constructed choices, as far as this library relies on them.
  if (form === GeneralNameTag.otherName) {
    // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
    const parts = children(name.value)
    if (parts.length !== 2 || parts[0]!.tag !== 0x06 || parts[1]!.tag !== 0xa0) throw new Error('bad otherName')
    oidText(parts[0]!.value)
    readOne(parts[1]!.value)
  } else if (form === GeneralNameTag.registeredID) {
    oidText(name.value)
  } else if (form === GeneralNameTag.x400Address || form === GeneralNameTag.ediPartyName) {
    children(name.value)
  }
  return form
}

export function ia5 (value: Uint8Array): string {
  for (const b of value) if (b > 0x7e || b < 0x20) throw new Error('IA5String with a control or non-ASCII character')
  return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1')
}

/** A directoryName's Name (the explicit [4] wraps one Name SEQUENCE). */
export function directoryName (tlv: Tlv): Rdns {
  return parseNameDer(readOne(tlv.value))
}

/** IPv4 dotted text, or RFC 5952 IPv6 text; other lengths as hex. */
export function formatIp (bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.')
  if (bytes.length !== 16) return Buffer.from(bytes).toString('hex')
  const groups: number[] = []
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!)
  let bestStart = -1
  let bestLen = 0
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen && j - i > 1) { bestStart = i; bestLen = j - i }
    i = j
  }
  const hex = groups.map((g) => g.toString(16))
  if (bestStart === -1) return hex.join(':')
  return hex.slice(0, bestStart).join(':') + '::' + hex.slice(bestStart + bestLen).join(':')
}

/** Parses a GeneralNames SEQUENCE (the subjectAltName extension value). Throws on malformed DER. */
export function parseGeneralNames (der: Uint8Array): GeneralNames {
  const seq = readOne(der)
  if (seq.tag !== 0x30) throw new Error('GeneralNames is not a SEQUENCE')
  const out: GeneralNames = { dns: [], uri: [], email: [], ip: [], ipBytes: [], directoryNames: [], other: 0, otherForms: [] }
  for (const name of children(seq.value)) {
    const form = generalNameForm(name)
    switch (form) {
      case GeneralNameTag.rfc822Name: out.email.push(ia5(name.value)); break
      case GeneralNameTag.dNSName: out.dns.push(ia5(name.value)); break
      case GeneralNameTag.uniformResourceIdentifier: out.uri.push(ia5(name.value)); break
      case GeneralNameTag.iPAddress: out.ipBytes.push(name.value); out.ip.push(formatIp(name.value)); break
      case GeneralNameTag.directoryName: out.directoryNames.push(directoryName(name)); break
      case GeneralNameTag.otherName: case GeneralNameTag.x400Address: case GeneralNameTag.ediPartyName: case GeneralNameTag.registeredID:
        out.other++
        out.otherForms.push(form)
        break
      default: throw new Error(`unknown GeneralName choice [${form}]`)
    }
  }
  return out
}

const LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i

/**
 * A dNSName as RFC 5280 4.2.1.6 / RFC 1034 preferred syntax allows it: LDH labels of 1-63 octets,
 * at most 253 octets, not an IPv4 literal; `*` allowed only as the whole leftmost label when
 * `wildcard` is true.
 */
export function isValidDnsName (name: string, wildcard: boolean): boolean {
  if (name.length === 0 || name.length > 253) return false
  const labels = name.split('.')
  for (const [i, label] of labels.entries()) {
    if (wildcard && i === 0 && label === '*' && labels.length > 2) continue
    if (!LABEL.test(label)) return false
  }
  // An all-numeric last label would make this an IP address literal, not a host name.
  return !/^\d+$/.test(labels[labels.length - 1]!)
}

/** addr-spec `local@domain` with a host-name domain; the local part is dot-atom or quoted. */
export function isValidMailbox (address: string): boolean {
  const at = address.lastIndexOf('@')
  if (at <= 0) return false
  const local = address.slice(0, at)
  const domain = address.slice(at + 1)
  const dotAtom = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/
  const quoted = /^"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"$/
  return (dotAtom.test(local) || quoted.test(local)) && isValidDnsName(domain, false)
}
