/**
 * names: X.501 Name DER -> RDN list, RFC 4514 text, attribute map, and a comparison key.
 */
import * as asn1js from 'asn1js'

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

/** Text of a directory string value, null for any other type. */
export function stringValue (block: asn1js.AsnType): string | null {
  if (
    block instanceof asn1js.Utf8String || block instanceof asn1js.PrintableString ||
    block instanceof asn1js.IA5String || block instanceof asn1js.BmpString ||
    block instanceof asn1js.UniversalString || block instanceof asn1js.NumericString ||
    block instanceof asn1js.VisibleString || block instanceof asn1js.TeletexString
  ) {
    return block.valueBlock.value
  }
  return null
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
      const text = stringValue(value)
      rdn.push(text === null
        ? { oid: type.valueBlock.toString(), value: '#' + toHex(new Uint8Array(value.valueBeforeDecodeView)), isString: false }
        : { oid: type.valueBlock.toString(), value: text, isString: true })
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
