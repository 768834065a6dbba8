import crypto from 'node:crypto'
import { isIP } from 'node:net'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { createSigner, keyIdentifier } from './keys.js'
import type { KeyPair, SignatureHash } from './keys.js'

// ---------------------------------------------------------------------------
// Distinguished names
// ---------------------------------------------------------------------------

/**
 * A distinguished name: either an RFC 4514 string ('CN=leaf,OU=Eng+OU=Ops,O=Example',
 * first RDN printed = LAST in DER) or a list of RDNs in DER order, each RDN a list of
 * [type, value] pairs.
 */
export type NameInput = string | Array<Array<[string, string]>>

const attributeOids: Record<string, string> = {
  CN: '2.5.4.3',
  SURNAME: '2.5.4.4',
  SERIALNUMBER: '2.5.4.5',
  C: '2.5.4.6',
  L: '2.5.4.7',
  ST: '2.5.4.8',
  STREET: '2.5.4.9',
  O: '2.5.4.10',
  OU: '2.5.4.11',
  TITLE: '2.5.4.12',
  GIVENNAME: '2.5.4.42',
  DC: '0.9.2342.19200300.100.1.25',
  UID: '0.9.2342.19200300.100.1.1',
  EMAILADDRESS: '1.2.840.113549.1.9.1'
}

const OID_PATTERN = /^[0-2](\.(0|[1-9]\d*))+$/

export function attributeOid (type: string): string {
  const trimmed = type.trim()
  const known = attributeOids[trimmed.toUpperCase()]
  if (known !== undefined) return known
  const dotted = trimmed.replace(/^oid\./i, '')
  if (OID_PATTERN.test(dotted)) return dotted
  throw new TypeError(`Unknown name attribute type: ${type}`)
}

// RFC 5280: countryName and serialNumber are PrintableString, domainComponent and
// emailAddress IA5String; everything else is a DirectoryString, for which UTF8String is used.
function attributeValue (oid: string, value: string): asn1js.BaseBlock {
  switch (oid) {
    case attributeOids.C:
    case attributeOids.SERIALNUMBER:
      return new asn1js.PrintableString({ value })
    case attributeOids.DC:
    case attributeOids.EMAILADDRESS:
      return new asn1js.IA5String({ value })
    default:
      return new asn1js.Utf8String({ value })
  }
}

interface Char { c: string; escaped: boolean }

function hexValue (chars: Char[], i: number): number | undefined {
  const pair = (chars[i]?.c ?? '') + (chars[i + 1]?.c ?? '')
  return /^[0-9a-fA-F]{2}$/.test(pair) ? parseInt(pair, 16) : undefined
}

/** Tokenize an RFC 4514 string, resolving '\x' and '\XX' escapes (hex pairs are UTF-8 bytes). */
function unescape (input: string): Char[] {
  const raw = Array.from(input, (c) => ({ c, escaped: false }))
  const out: Char[] = []
  for (let i = 0; i < raw.length; i++) {
    const ch = raw[i] as Char
    if (ch.c !== '\\') {
      out.push(ch)
      continue
    }
    if (hexValue(raw, i + 1) !== undefined) {
      const bytes: number[] = []
      while (raw[i]?.c === '\\' && hexValue(raw, i + 1) !== undefined) {
        bytes.push(hexValue(raw, i + 1) as number)
        i += 3
      }
      i--
      for (const c of Buffer.from(bytes).toString('utf8')) out.push({ c, escaped: true })
      continue
    }
    const next = raw[i + 1]
    if (next === undefined) throw new TypeError(`Dangling escape in name: ${input}`)
    out.push({ c: next.c, escaped: true })
    i++
  }
  return out
}

function split (chars: Char[], separator: string): Char[][] {
  const parts: Char[][] = [[]]
  for (const ch of chars) {
    if (!ch.escaped && ch.c === separator) parts.push([])
    else (parts[parts.length - 1] as Char[]).push(ch)
  }
  return parts
}

function trim (chars: Char[]): string {
  let start = 0
  let end = chars.length
  while (start < end && !(chars[start] as Char).escaped && (chars[start] as Char).c === ' ') start++
  while (end > start && !(chars[end - 1] as Char).escaped && (chars[end - 1] as Char).c === ' ') end--
  return chars.slice(start, end).map((ch) => ch.c).join('')
}

/**
 * Parse an RFC 4514 string into RDNs in DER order. A value of the form '#<hex>'
 * (unescaped '#') is the hex DER encoding of the attribute value, inserted as-is.
 */
export function parseName (input: string): Array<Array<[string, string]>> {
  if (input.trim() === '') return []
  const rdns = split(unescape(input), ',').map((rdn) => split(rdn, '+').map((ava): [string, string] => {
    const eq = ava.findIndex((ch) => !ch.escaped && ch.c === '=')
    if (eq === -1) throw new TypeError(`Missing '=' in name component of ${input}`)
    const valueChars = ava.slice(eq + 1)
    const value = trim(valueChars)
    const firstNonSpace = valueChars.find((ch) => ch.escaped || ch.c !== ' ')
    // Keep '#hex' distinguishable from an escaped '\#' literal.
    return [trim(ava.slice(0, eq)), firstNonSpace !== undefined && !firstNonSpace.escaped && value.startsWith('#') ? `\0${value}` : value]
  }))
  return rdns.reverse()
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const length = Math.max(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const diff = (a[i] ?? 0) - (b[i] ?? 0)
    if (diff !== 0) return diff
  }
  return 0
}

/** DER-encode a Name. */
export function encodeName (input: NameInput): Uint8Array {
  const rdns = typeof input === 'string' ? parseName(input) : input
  const sequence = new asn1js.Sequence({
    value: rdns.map((rdn) => {
      const avas = rdn.map(([type, value]) => {
        const oid = attributeOid(type)
        let encodedValue: asn1js.BaseBlock
        if (value.startsWith('\0#')) {
          const hex = value.slice(2)
          const bytes = /^([0-9a-fA-F]{2})+$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0)
          const parsed = asn1js.fromBER(bytes)
          if (parsed.offset !== bytes.length || bytes.length === 0) throw new TypeError(`Invalid '#hex' value for ${type}`)
          encodedValue = parsed.result
        } else {
          encodedValue = attributeValue(oid, value)
        }
        return new Uint8Array(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: oid }), encodedValue] }).toBER())
      })
      // DER: the members of a SET OF are sorted by their encodings.
      avas.sort(compareBytes)
      const set = new asn1js.Set({ value: avas.map((der) => asn1js.fromBER(der).result) })
      return set
    })
  })
  return new Uint8Array(sequence.toBER())
}

export function nameToPkijs (input: NameInput): pkijs.RelativeDistinguishedNames {
  return pkijs.RelativeDistinguishedNames.fromBER(encodeName(input))
}

// ---------------------------------------------------------------------------
// DER helpers shared with crl.ts
// ---------------------------------------------------------------------------

export function toPem (der: Uint8Array, label = 'CERTIFICATE'): string {
  const base64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return `-----BEGIN ${label}-----\n${base64}\n-----END ${label}-----\n`
}

/** Minimal two's-complement DER INTEGER content octets. */
export function integerBytes (value: bigint): Uint8Array {
  const bytes: number[] = []
  let v = value
  for (;;) {
    const byte = Number(v & 0xffn)
    bytes.unshift(byte)
    v >>= 8n
    const signBit = (byte & 0x80) !== 0
    if ((v === 0n && !signBit) || (v === -1n && signBit)) break
  }
  return new Uint8Array(bytes)
}

export function toInteger (value: bigint): asn1js.Integer {
  return new asn1js.Integer({ valueHex: integerBytes(value) })
}

/** A serial number given as a bigint or a hex string ('0x', ':' and spaces allowed; a leading '-' negates). */
export function parseSerial (serial: bigint | string): bigint {
  if (typeof serial === 'bigint') return serial
  const negative = serial.trim().startsWith('-')
  const hex = serial.replace(/^\s*-?/, '').replace(/^0x/i, '').replace(/[:\s]/g, '')
  if (!/^[0-9a-fA-F]+$/.test(hex)) throw new TypeError(`Invalid hex serial number: ${serial}`)
  const value = BigInt(`0x${hex}`)
  return negative ? -value : value
}

/** Lowercase hex of the magnitude, even number of digits, no sign byte ('-' prefix if negative). */
export function formatSerial (serial: bigint): string {
  const magnitude = serial < 0n ? -serial : serial
  let hex = magnitude.toString(16)
  if (hex.length % 2 === 1) hex = `0${hex}`
  return serial < 0n ? `-${hex}` : hex
}

function randomSerial (): bigint {
  const bytes = crypto.randomBytes(16)
  // Positive and exactly 16 content octets: clear the sign bit, set the next one.
  bytes[0] = ((bytes[0] as number) & 0x7f) | 0x40
  return BigInt(`0x${bytes.toString('hex')}`)
}

/** RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime otherwise; whole seconds only. */
export function toTime (date: Date): pkijs.Time {
  const value = new Date(Math.floor(date.getTime() / 1000) * 1000)
  const year = value.getUTCFullYear()
  return new pkijs.Time({ type: year >= 1950 && year < 2050 ? 0 : 1, value })
}

export interface RawExtension {
  oid: string
  critical?: boolean
  /** extnValue contents (the DER inside the OCTET STRING) */
  value: Uint8Array
}

export function extension (oid: string, value: asn1js.BaseBlock | Uint8Array, critical = false): pkijs.Extension {
  const der = value instanceof Uint8Array ? value : new Uint8Array(value.toBER())
  return new pkijs.Extension({ extnID: oid, critical, extnValue: toArrayBuffer(der) })
}

export function toArrayBuffer (bytes: Uint8Array): ArrayBuffer {
  return bytes.slice().buffer
}

export function flipLastBit (bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice()
  copy[copy.length - 1] = (copy[copy.length - 1] as number) ^ 0x01
  return copy
}

export const OID = {
  subjectKeyIdentifier: '2.5.29.14',
  keyUsage: '2.5.29.15',
  subjectAltName: '2.5.29.17',
  basicConstraints: '2.5.29.19',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  nameConstraints: '2.5.29.30',
  authorityKeyIdentifier: '2.5.29.35',
  extKeyUsage: '2.5.29.37',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54'
} as const

export function authorityKeyIdentifierExtension (keyId: Uint8Array): pkijs.Extension {
  return extension(OID.authorityKeyIdentifier, new pkijs.AuthorityKeyIdentifier({
    keyIdentifier: new asn1js.OctetString({ valueHex: toArrayBuffer(keyId) })
  }).toSchema())
}

// ---------------------------------------------------------------------------
// General names
// ---------------------------------------------------------------------------

function ipv6Bytes (text: string): number[] {
  let head = text
  const out: number[] = []
  // Embedded IPv4 in the last 32 bits ('::ffff:192.0.2.1').
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(head)
  let tail: number[] = []
  if (v4 !== null) {
    tail = (v4[1] as string).split('.').map(Number)
    head = head.slice(0, -(v4[1] as string).length) + '0:0'
  }
  const [left = '', right] = head.split('::')
  const groups = (part: string): string[] => part === '' ? [] : part.split(':')
  const l = groups(left)
  const r = right === undefined ? [] : groups(right)
  const fill = right === undefined ? 0 : 8 - l.length - r.length
  for (const g of [...l, ...Array<string>(fill).fill('0'), ...r]) {
    const n = parseInt(g, 16)
    out.push(n >> 8, n & 0xff)
  }
  if (tail.length === 4) out.splice(12, 4, ...tail)
  return out
}

/** IPv4 or IPv6 text to 4 or 16 octets. */
export function ipBytes (text: string): Uint8Array {
  const family = isIP(text)
  if (family === 4) return new Uint8Array(text.split('.').map(Number))
  if (family === 6) return new Uint8Array(ipv6Bytes(text))
  throw new TypeError(`Invalid IP address: ${text}`)
}

/** 'a.b.c.d/nn' or 'v6/nn' to address || mask octets (RFC 5280 4.2.1.10). A bare address means a host mask. */
export function cidrBytes (text: string): Uint8Array {
  const [address = '', prefixText] = text.split('/')
  const addr = ipBytes(address)
  const bits = addr.length * 8
  const prefix = prefixText === undefined ? bits : Number(prefixText)
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > bits) throw new TypeError(`Invalid prefix length in ${text}`)
  const mask = new Uint8Array(addr.length)
  for (let i = 0; i < prefix; i++) mask[i >> 3] = (mask[i >> 3] as number) | (0x80 >> (i & 7))
  return new Uint8Array([...addr.map((b, i) => b & (mask[i] as number)), ...mask])
}

export interface GeneralNamesInput {
  dns?: string[]
  uri?: string[]
  email?: string[]
  /** SAN: v4 or v6 address; name constraints: CIDR */
  ip?: string[]
  dirName?: NameInput[]
}
export type GeneralSubtrees = GeneralNamesInput

function generalNames (input: GeneralNamesInput, ip: (text: string) => Uint8Array): pkijs.GeneralName[] {
  return [
    ...(input.dns ?? []).map((value) => new pkijs.GeneralName({ type: 2, value })),
    ...(input.uri ?? []).map((value) => new pkijs.GeneralName({ type: 6, value })),
    ...(input.email ?? []).map((value) => new pkijs.GeneralName({ type: 1, value })),
    ...(input.ip ?? []).map((value) => new pkijs.GeneralName({ type: 7, value: new asn1js.OctetString({ valueHex: toArrayBuffer(ip(value)) }) })),
    ...(input.dirName ?? []).map((value) => new pkijs.GeneralName({ type: 4, value: nameToPkijs(value) }))
  ]
}

// ---------------------------------------------------------------------------
// Certificates
// ---------------------------------------------------------------------------

export type KeyUsage =
  | 'digitalSignature' | 'nonRepudiation' | 'keyEncipherment' | 'dataEncipherment'
  | 'keyAgreement' | 'keyCertSign' | 'cRLSign' | 'encipherOnly' | 'decipherOnly'
const keyUsageBits: readonly KeyUsage[] = [
  'digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment',
  'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly'
]

export type ExtendedKeyUsage = 'clientAuth' | 'serverAuth' | 'codeSigning' | 'emailProtection' | 'anyExtendedKeyUsage' | (string & {})
const ekuOids: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  anyExtendedKeyUsage: '2.5.29.37.0'
}

export interface CertificateSpec {
  subject: NameInput
  /** The subject's key. */
  key: KeyPair
  /** Omitted: self-signed with `key`. */
  issuer?: { certificate: IssuedCertificate; key: KeyPair }
  /** Hex string or bigint; default random positive 16 octets. */
  serialNumber?: bigint | string
  /** Default now - 1 h. */
  notBefore?: Date
  /** Default now + 30 days. */
  notAfter?: Date
  /** Default 3; v1 emits no extensions. */
  version?: 1 | 3
  /** Critical basicConstraints cA=TRUE. `false`/omitted: no basicConstraints (see `basicConstraints`). */
  ca?: boolean | { pathLength?: number }
  /** Explicit basicConstraints, overrides `ca`; `false` emits none. Default critical. */
  basicConstraints?: { ca: boolean; pathLength?: number; critical?: boolean } | false
  /** Default: CAs ['keyCertSign', 'cRLSign'], leaves ['digitalSignature']. `false` emits none. */
  keyUsage?: KeyUsage[] | false
  /** Default true. */
  keyUsageCritical?: boolean
  /** Default: leaves ['clientAuth'], CAs none. `false` or [] emits none. */
  extendedKeyUsage?: ExtendedKeyUsage[] | false
  /** Default false. */
  extendedKeyUsageCritical?: boolean
  /** `critical` defaults to true when the subject is empty (RFC 5280 4.2.1.6), false otherwise. */
  san?: GeneralNamesInput & { critical?: boolean }
  nameConstraints?: { permitted?: GeneralSubtrees; excluded?: GeneralSubtrees; critical?: boolean }
  /** certificatePolicies (RFC 5280 4.2.1.4), non-critical unless `critical`. See PolicySpec. */
  certificatePolicies?: PolicySpec[] | { policies: PolicySpec[]; critical?: boolean }
  /** policyMappings (4.2.1.5): [issuerDomainPolicy, subjectDomainPolicy] pairs. Default critical. */
  policyMappings?: Array<[string, string]> | { mappings: Array<[string, string]>; critical?: boolean }
  /** policyConstraints (4.2.1.11). Default critical; `{}` encodes the (forbidden) empty sequence. */
  policyConstraints?: { requireExplicitPolicy?: number; inhibitPolicyMapping?: number; critical?: boolean }
  /** inhibitAnyPolicy (4.2.1.14) SkipCerts. Default critical. */
  inhibitAnyPolicy?: number | { skipCerts: number; critical?: boolean }
  /** Default true: SHA-1 of the subject key bits (RFC 5280 method 1). */
  subjectKeyIdentifier?: boolean | Uint8Array
  /** Default true unless self-signed: the issuer's SKI (computed from the issuer key if it has none). */
  authorityKeyIdentifier?: boolean | Uint8Array
  /** Default SHA-256 (SHA-384 for p-384, SHA-512 for p-521); ignored for ed25519. */
  signatureHash?: SignatureHash
  /** RSASSA-PSS with MGF1(hash) and saltLength = hash length. */
  rsaPss?: boolean
  /** Appended as-is after the generated extensions (duplicates and unknown critical ones allowed). */
  extensions?: RawExtension[]
  /** Flip a bit of the signature. */
  corruptSignature?: boolean
}

/** A certificate policy: its OID, optionally with a CPS pointer and/or a user notice (qualifiers). */
export type PolicySpec = string | { oid: string; cps?: string; userNotice?: string }

const ID_QT_CPS = '1.3.6.1.5.5.7.2.1'
const ID_QT_UNOTICE = '1.3.6.1.5.5.7.2.2'

function policyInformation (spec: PolicySpec): asn1js.Sequence {
  const { oid, cps, userNotice } = typeof spec === 'string' ? { oid: spec, cps: undefined, userNotice: undefined } : spec
  const qualifiers: asn1js.Sequence[] = []
  if (cps !== undefined) qualifiers.push(new asn1js.Sequence({ value: [new asn1js.ObjectIdentifier({ value: ID_QT_CPS }), new asn1js.IA5String({ value: cps })] }))
  if (userNotice !== undefined) {
    qualifiers.push(new asn1js.Sequence({
      value: [new asn1js.ObjectIdentifier({ value: ID_QT_UNOTICE }), new asn1js.Sequence({ value: [new asn1js.Utf8String({ value: userNotice })] })]
    }))
  }
  return new asn1js.Sequence({
    value: [new asn1js.ObjectIdentifier({ value: oid }), ...(qualifiers.length > 0 ? [new asn1js.Sequence({ value: qualifiers })] : [])]
  })
}

/** An INTEGER with an implicit context tag [n] (SkipCerts in policyConstraints). */
function taggedSkipCerts (tag: number, value: number): asn1js.Primitive {
  const bytes = new Uint8Array(new asn1js.Integer({ value }).valueBlock.valueHexView)
  return new asn1js.Primitive({ idBlock: { tagClass: 3, tagNumber: tag }, valueHex: toArrayBuffer(bytes) })
}

function policyExtensions (spec: CertificateSpec): pkijs.Extension[] {
  const out: pkijs.Extension[] = []
  if (spec.certificatePolicies !== undefined) {
    const { policies, critical } = Array.isArray(spec.certificatePolicies) ? { policies: spec.certificatePolicies, critical: false } : spec.certificatePolicies
    out.push(extension(OID.certificatePolicies, new asn1js.Sequence({ value: policies.map(policyInformation) }), critical ?? false))
  }
  if (spec.policyMappings !== undefined) {
    const { mappings, critical } = Array.isArray(spec.policyMappings) ? { mappings: spec.policyMappings, critical: true } : spec.policyMappings
    out.push(extension(OID.policyMappings, new asn1js.Sequence({
      value: mappings.map(([issuerDomain, subjectDomain]) => new asn1js.Sequence({
        value: [new asn1js.ObjectIdentifier({ value: issuerDomain }), new asn1js.ObjectIdentifier({ value: subjectDomain })]
      }))
    }), critical ?? true))
  }
  if (spec.policyConstraints !== undefined) {
    const pc = spec.policyConstraints
    out.push(extension(OID.policyConstraints, new asn1js.Sequence({
      value: [
        ...(pc.requireExplicitPolicy !== undefined ? [taggedSkipCerts(0, pc.requireExplicitPolicy)] : []),
        ...(pc.inhibitPolicyMapping !== undefined ? [taggedSkipCerts(1, pc.inhibitPolicyMapping)] : [])
      ]
    }), pc.critical ?? true))
  }
  if (spec.inhibitAnyPolicy !== undefined) {
    const { skipCerts, critical } = typeof spec.inhibitAnyPolicy === 'number' ? { skipCerts: spec.inhibitAnyPolicy, critical: true } : spec.inhibitAnyPolicy
    out.push(extension(OID.inhibitAnyPolicy, new asn1js.Integer({ value: skipCerts }), critical ?? true))
  }
  return out
}

export interface IssuedCertificate {
  der: Uint8Array
  pem: string
  subject: NameInput
  spec: CertificateSpec
  subjectKeyIdentifier?: Uint8Array
  /** See formatSerial: lowercase hex of the value, even length, without a DER sign byte. */
  serialNumber: string
}

function keyUsageValue (usages: KeyUsage[]): asn1js.BitString {
  const bits = usages.map((usage) => {
    const bit = keyUsageBits.indexOf(usage)
    if (bit === -1) throw new TypeError(`Unknown keyUsage: ${usage}`)
    return bit
  })
  if (bits.length === 0) return new asn1js.BitString({ valueHex: new ArrayBuffer(0), unusedBits: 0 })
  // DER named bit list: trailing zero bits are dropped.
  const highest = Math.max(...bits)
  const bytes = new Uint8Array((highest >> 3) + 1)
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] as number) | (0x80 >> (bit & 7))
  return new asn1js.BitString({ valueHex: toArrayBuffer(bytes), unusedBits: 7 - (highest & 7) })
}

function ekuOid (usage: string): string {
  const oid = ekuOids[usage] ?? usage
  if (!OID_PATTERN.test(oid)) throw new TypeError(`Unknown extendedKeyUsage: ${usage}`)
  return oid
}

function subtrees (input: GeneralSubtrees | undefined): pkijs.GeneralSubtree[] | undefined {
  if (input === undefined) return undefined
  return generalNames(input, cidrBytes).map((base) => new pkijs.GeneralSubtree({ base }))
}

function isEmptyName (name: NameInput): boolean {
  return typeof name === 'string' ? name.trim() === '' : name.length === 0
}

function buildExtensions (spec: CertificateSpec, selfSigned: boolean, subjectKeyId: Uint8Array | undefined): pkijs.Extension[] {
  const extensions: pkijs.Extension[] = []
  const bc = spec.basicConstraints !== undefined
    ? spec.basicConstraints
    : spec.ca !== undefined && spec.ca !== false
      ? { ca: true, pathLength: typeof spec.ca === 'object' ? spec.ca.pathLength : undefined }
      : false
  const isCa = bc !== false && bc.ca
  if (bc !== false) {
    extensions.push(extension(OID.basicConstraints, new pkijs.BasicConstraints({
      cA: bc.ca,
      ...(bc.pathLength !== undefined ? { pathLenConstraint: bc.pathLength } : {})
    }).toSchema(), bc.critical ?? true))
  }

  const keyUsage = spec.keyUsage ?? (isCa ? ['keyCertSign', 'cRLSign'] : ['digitalSignature'])
  if (keyUsage !== false) extensions.push(extension(OID.keyUsage, keyUsageValue(keyUsage), spec.keyUsageCritical ?? true))

  const eku = spec.extendedKeyUsage ?? (isCa ? [] : ['clientAuth'])
  if (eku !== false && eku.length > 0) {
    extensions.push(extension(OID.extKeyUsage, new pkijs.ExtKeyUsage({ keyPurposes: eku.map(ekuOid) }).toSchema(), spec.extendedKeyUsageCritical ?? false))
  }

  if (spec.san !== undefined) {
    const altNames = generalNames(spec.san, ipBytes)
    extensions.push(extension(OID.subjectAltName, new pkijs.AltName({ altNames }).toSchema(), spec.san.critical ?? isEmptyName(spec.subject)))
  }

  if (spec.nameConstraints !== undefined) {
    const permittedSubtrees = subtrees(spec.nameConstraints.permitted)
    const excludedSubtrees = subtrees(spec.nameConstraints.excluded)
    extensions.push(extension(OID.nameConstraints, new pkijs.NameConstraints({
      ...(permittedSubtrees !== undefined ? { permittedSubtrees } : {}),
      ...(excludedSubtrees !== undefined ? { excludedSubtrees } : {})
    }).toSchema(), spec.nameConstraints.critical ?? true))
  }

  extensions.push(...policyExtensions(spec))

  if (subjectKeyId !== undefined) {
    extensions.push(extension(OID.subjectKeyIdentifier, new asn1js.OctetString({ valueHex: toArrayBuffer(subjectKeyId) })))
  }

  const aki = spec.authorityKeyIdentifier ?? !selfSigned
  if (aki !== false) {
    const keyId = aki instanceof Uint8Array
      ? aki
      : spec.issuer !== undefined
        ? spec.issuer.certificate.subjectKeyIdentifier ?? keyIdentifier(spec.issuer.key)
        : subjectKeyId ?? keyIdentifier(spec.key)
    extensions.push(authorityKeyIdentifierExtension(keyId))
  }

  for (const raw of spec.extensions ?? []) extensions.push(extension(raw.oid, raw.value, raw.critical ?? false))
  return extensions
}

/** The exact DER subject of an issued certificate (so issuer names match byte for byte). */
export function subjectOf (certificate: IssuedCertificate): pkijs.RelativeDistinguishedNames {
  return pkijs.Certificate.fromBER(certificate.der).subject
}

export async function createCertificate (spec: CertificateSpec): Promise<IssuedCertificate> {
  const now = Date.now()
  const selfSigned = spec.issuer === undefined
  const signingKey = spec.issuer?.key ?? spec.key
  const signer = createSigner(signingKey, spec.signatureHash, spec.rsaPss ?? false)
  const version = spec.version ?? 3
  const serial = spec.serialNumber !== undefined ? parseSerial(spec.serialNumber) : randomSerial()

  const subjectKeyIdSetting = spec.subjectKeyIdentifier ?? true
  const subjectKeyId = version === 1 || subjectKeyIdSetting === false
    ? undefined
    : subjectKeyIdSetting === true ? keyIdentifier(spec.key) : subjectKeyIdSetting

  const subject = nameToPkijs(spec.subject)
  const cert = new pkijs.Certificate({
    version: version === 3 ? 2 : 0,
    serialNumber: toInteger(serial),
    signature: signer.algorithm,
    issuer: spec.issuer !== undefined ? subjectOf(spec.issuer.certificate) : subject,
    notBefore: toTime(spec.notBefore ?? new Date(now - 3600_000)),
    notAfter: toTime(spec.notAfter ?? new Date(now + 30 * 86400_000)),
    subject,
    subjectPublicKeyInfo: pkijs.PublicKeyInfo.fromBER(spec.key.spki)
  })
  if (version === 3) {
    const extensions = buildExtensions(spec, selfSigned, subjectKeyId)
    if (extensions.length > 0) cert.extensions = extensions
  }

  const tbs = new Uint8Array(cert.encodeTBS().toBER())
  let signature = signer.sign(tbs)
  if (spec.corruptSignature === true) signature = flipLastBit(signature)
  cert.tbsView = tbs
  cert.signatureAlgorithm = signer.algorithm
  cert.signatureValue = new asn1js.BitString({ valueHex: toArrayBuffer(signature) })

  const der = new Uint8Array(cert.toSchema().toBER())
  return {
    der,
    pem: toPem(der),
    subject: spec.subject,
    spec,
    ...(subjectKeyId !== undefined ? { subjectKeyIdentifier: subjectKeyId } : {}),
    serialNumber: formatSerial(serial)
  }
}
