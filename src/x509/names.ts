/**
 * names: X.501 Name DER -> RDN list, RFC 4514 text, attribute map, and a comparison key.
 */
import * as asn1js from 'asn1js'
import { children, oidText, readOne, type Tlv } from './der.js'

export interface NameAttribute {
  readonly oid: string
  /** Text of a string-typed value; `#` + hex of the DER for any other type (RFC 4514 2.4). */
  readonly value: string
  /** True when `value` is text (a directory string type). */
  readonly isString: boolean
}

/** RDNs in DER order (most significant, e.g. C, first). */
export type Rdns = ReadonlyArray<readonly NameAttribute[]>

const SHORT_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'serialNumber',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'title',
  '2.5.4.42': 'GN',
  '2.5.4.46': 'dnQualifier',
  '2.5.4.65': 'pseudonym',
  '2.5.4.97': 'organizationIdentifier',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'emailAddress'
}

const OIDS_BY_NAME: Record<string, string> = Object.fromEntries(
  Object.entries(SHORT_NAMES).map(([oid, name]) => [name.toUpperCase(), oid])
)

/** Short name of an attribute type (dotted OID when it has none). */
export function attributeName (oid: string): string {
  return SHORT_NAMES[oid] ?? oid
}

/** OID of a short name (case-insensitive) or a dotted OID; undefined when unknown. */
export function attributeOid (name: string): string | undefined {
  if (/^\d+(\.\d+)+$/.test(name)) return name
  return OIDS_BY_NAME[name.toUpperCase()]
}

function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Throws when a string's octets are not a valid encoding of its type (X.690 8.23, RFC 3629): a
 * UTF8String of invalid UTF-8 (asn1js would read it byte by byte, so `M\xfcller` would equal
 * "Müller"), a BMPString of an odd length or with an unpaired surrogate, a UniversalString whose
 * length is not a multiple of 4 or that holds a value above U+10FFFF or a surrogate. OpenSSL and
 * Python's cryptography refuse these as well.
 */
function checkStringEncoding (block: asn1js.AsnType): void {
  const bytes = (block as asn1js.Utf8String).valueBlock.valueHexView
  if (block instanceof asn1js.Utf8String) {
    utf8.decode(bytes)
  } else if (block instanceof asn1js.BmpString) {
    if (bytes.length % 2 !== 0) throw new Error('BMPString of an odd number of octets')
    for (let i = 0; i < bytes.length; i += 2) {
      const unit = (bytes[i]! << 8) | bytes[i + 1]!
      if (unit >= 0xd800 && unit <= 0xdbff) {
        const low = i + 3 < bytes.length ? (bytes[i + 2]! << 8) | bytes[i + 3]! : 0
        if (low < 0xdc00 || low > 0xdfff) throw new Error('BMPString with an unpaired surrogate')
        i += 2
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        throw new Error('BMPString with an unpaired surrogate')
      }
    }
  } else if (block instanceof asn1js.UniversalString) {
    if (bytes.length % 4 !== 0) throw new Error('UniversalString length is not a multiple of 4')
    for (let i = 0; i < bytes.length; i += 4) {
      const cp = ((bytes[i]! << 24) | (bytes[i + 1]! << 16) | (bytes[i + 2]! << 8) | bytes[i + 3]!) >>> 0
      if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw new Error('UniversalString with an invalid character')
    }
  }
}

/** Text of a directory string value, null for any other type. Throws on an invalid encoding. */
export function stringValue (block: asn1js.AsnType): string | null {
  if (
    block instanceof asn1js.Utf8String || block instanceof asn1js.PrintableString ||
    block instanceof asn1js.IA5String || block instanceof asn1js.BmpString ||
    block instanceof asn1js.UniversalString || block instanceof asn1js.NumericString ||
    block instanceof asn1js.VisibleString || block instanceof asn1js.TeletexString
  ) {
    checkStringEncoding(block)
    return block.valueBlock.value
  }
  return null
}

/** Dotted text of an attribute type, refusing a non-minimal arc (`55 04 80 0a` is not `2.5.4.10`). */
function attributeType (type: asn1js.ObjectIdentifier): string {
  // X.690 8.19.2: "the leading octet of each subidentifier ... shall not have the value 0x80".
  return oidText(readOne(new Uint8Array(type.valueBeforeDecodeView)).value)
}

/** One attribute value read from its own DER (a single TLV): text, or `#` + hex for other types. */
function attributeFromDer (oid: string, value: Tlv): NameAttribute {
  if ((value.tag & 0x20) !== 0) return { oid, value: '#' + toHex(value.der), isString: false }
  const asn1 = asn1js.fromBER(value.der, { parseEmbedded: false })
  if (asn1.offset !== value.der.length) throw new Error('bad attribute value')
  const text = stringValue(asn1.result)
  return text === null ? { oid, value: '#' + toHex(value.der), isString: false } : { oid, value: text, isString: true }
}

/**
 * A Name read with the der walker (linear, one small asn1js call per non-ASCII value): for names
 * inside extensions (directoryName), which a certificate may hold by the thousand.
 */
export function parseNameDer (seq: Tlv): Rdns {
  if (seq.tag !== 0x30) throw new Error('Name is not a SEQUENCE')
  const rdns: NameAttribute[][] = []
  for (const set of children(seq.value)) {
    if (set.tag !== 0x31 || set.value.length === 0) throw new Error('RDN is not a non-empty SET')
    const rdn: NameAttribute[] = []
    for (const atv of children(set.value)) {
      const parts = atv.tag === 0x30 ? children(atv.value) : []
      if (parts.length !== 2 || parts[0]!.tag !== 0x06) throw new Error('bad AttributeTypeAndValue')
      rdn.push(attributeFromDer(oidText(parts[0]!.value), parts[1]!))
    }
    rdns.push(rdn)
  }
  return rdns
}

/** Parses a Name from its asn1js SEQUENCE; throws on a structure that is not a Name. */
export function parseName (seq: asn1js.AsnType): Rdns {
  if (!(seq instanceof asn1js.Sequence)) throw new Error('Name is not a SEQUENCE')
  const rdns: NameAttribute[][] = []
  for (const set of seq.valueBlock.value) {
    if (!(set instanceof asn1js.Set) || set.valueBlock.value.length === 0) throw new Error('RDN is not a non-empty SET')
    const rdn: NameAttribute[] = []
    for (const atv of set.valueBlock.value) {
      if (!(atv instanceof asn1js.Sequence) || atv.valueBlock.value.length !== 2) throw new Error('bad AttributeTypeAndValue')
      const [type, value] = atv.valueBlock.value as [asn1js.AsnType, asn1js.AsnType]
      if (!(type instanceof asn1js.ObjectIdentifier)) throw new Error('attribute type is not an OID')
      const oid = attributeType(type)
      const text = stringValue(value)
      rdn.push(text === null
        ? { oid, value: '#' + toHex(new Uint8Array(value.valueBeforeDecodeView)), isString: false }
        : { oid, value: text, isString: true })
    }
    rdns.push(rdn)
  }
  return rdns
}

function escapeValue (value: string): string {
  let out = value.replace(/[\\"+,;<>]/g, (c) => '\\' + c).replace(/\0/g, '\\00')
  if (out.startsWith('#') || out.startsWith(' ')) out = '\\' + out
  if (out.endsWith(' ') && !out.endsWith('\\ ')) out = out.slice(0, -1) + '\\ '
  return out
}

/** RFC 4514 text: RDNs last-to-first, `,` between RDNs, `+` inside a multi-valued RDN. */
export function formatName (rdns: Rdns): string {
  const parts: string[] = []
  for (let i = rdns.length - 1; i >= 0; i--) {
    // Within a multi-valued RDN too, the last attribute comes first, as OpenSSL (and so ALB) prints it.
    const rdn = rdns[i]!
    const attrs: string[] = []
    for (let j = rdn.length - 1; j >= 0; j--) {
      const a = rdn[j]!
      attrs.push(`${attributeName(a.oid)}=${a.isString ? escapeValue(a.value) : a.value}`)
    }
    parts.push(attrs.join('+'))
  }
  return parts.join(',')
}

/** Attribute map by short name, values in certificate order. */
export function nameAttributes (rdns: Rdns): Record<string, string[]> {
  const out: Record<string, string[]> = Object.create(null)
  for (const rdn of rdns) {
    for (const a of rdn) {
      const key = attributeName(a.oid)
      ;(out[key] ??= []).push(a.value)
    }
  }
  return out
}

/**
 * A key equal for two names that RFC 5280 7.1 considers the same: string values compared
 * case-insensitively with whitespace folded (RFC 4518, simplified as OpenSSL does), RDN attributes in
 * any order.
 */
export function nameKey (rdns: Rdns): string {
  return JSON.stringify(rdns.map((rdn) => rdn
    .map((a) => [a.oid, a.isString ? a.value.trim().replace(/\s+/g, ' ').toLowerCase() : a.value])
    .sort()))
}
