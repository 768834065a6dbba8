/**
 * parse-der: the fast reader behind parseCertificate. It walks a certificate in the canonical DER
 * form real CAs produce, over the bytes with the der walker, and returns null for anything else
 * (BER, odd but legal encodings, rare fields: issuer/subject unique IDs, RSASSA-PSS or explicit
 * curve parameters, non-canonical times, empty names, constructed name values). parse.ts then
 * runs the reference parser (asn1js + pkijs over the whole certificate), so this module never
 * decides a refusal and never accepts what the reference would refuse: every form taken here is one
 * the reference reads the same way (test/parse-fast.test.ts compares both on generated
 * certificates, the x509-limbo corpus and mutated DER).
 */
import * as asn1js from 'asn1js'
import { children, readOne, type Tlv } from './der.js'
import { stringValue, type NameAttribute, type Rdns } from './names.js'

export interface FastAlgorithm {
  readonly oid: string
  /** The parameters TLV: absent, NULL or an OBJECT IDENTIFIER (anything else is not read here). */
  readonly params: Tlv | undefined
  readonly der: Uint8Array
}

export interface FastExtension {
  readonly oid: string
  readonly critical: boolean
  /** Contents of extnValue. */
  readonly value: Uint8Array
  /** The whole Extension SEQUENCE. */
  readonly der: Uint8Array
}

export interface FastCertificate {
  readonly version: number
  readonly tbs: Uint8Array
  readonly serialBytes: Uint8Array
  readonly tbsSignature: FastAlgorithm
  readonly issuer: Rdns
  readonly issuerDer: Uint8Array
  readonly notBefore: Date
  readonly notAfter: Date
  readonly subject: Rdns
  readonly subjectDer: Uint8Array
  readonly spki: Uint8Array
  readonly spkiAlgorithm: FastAlgorithm
  readonly extensions: readonly FastExtension[] | null
  readonly signatureAlgorithm: FastAlgorithm
  readonly signature: Uint8Array
}

/** RSASSA-PSS: its parameters are a structure, read by the reference (signature.ts needs pkijs' form). */
const RSA_PSS = '1.2.840.113549.1.1.10'

/**
 * Dotted text of an OBJECT IDENTIFIER, or null for an encoding this reader leaves to asn1js
 * (non-minimal or truncated arcs, arcs of 2^28 or more, where number precision or asn1js' own
 * formatting could differ).
 */
export function oidFast (value: Uint8Array): string | null {
  const n = value.length
  if (n === 0 || n > 64) return null
  let text = ''
  let arc = 0
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const b = value[i]!
    if (bytes === 0 && b === 0x80) return null
    if (++bytes > 4) return null
    arc = arc * 128 + (b & 0x7f)
    if ((b & 0x80) !== 0) continue
    if (text === '') text = arc < 40 ? `0.${arc}` : arc < 80 ? `1.${arc - 40}` : `2.${arc - 80}`
    else text += `.${arc}`
    arc = 0
    bytes = 0
  }
  return bytes === 0 ? text : null
}

/** AlgorithmIdentifier with absent, NULL or OID parameters; null for anything else. */
function algorithm (tlv: Tlv): FastAlgorithm | null {
  if (tlv.tag !== 0x30) return null
  const parts = children(tlv.value)
  const id = parts[0]
  if (id === undefined || id.tag !== 0x06 || parts.length > 2) return null
  const oid = oidFast(id.value)
  if (oid === null || oid === RSA_PSS) return null
  const params = parts[1]
  if (params !== undefined && !(params.tag === 0x05 && params.value.length === 0) && params.tag !== 0x06) return null
  if (params?.tag === 0x06 && oidFast(params.value) === null) return null
  return { oid, params, der: tlv.der }
}

function isDigits (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * UTCTime `YYMMDDhhmmssZ` or GeneralizedTime `YYYYMMDDhhmmssZ` (years 1000 and later) naming a real
 * date and time; null for any other form or value. For these asn1js computes the same instant;
 * the forms it reads leniently (fractions, offsets, impossible dates that roll over) stay with it.
 */
export function timeFast (tlv: Tlv): Date | null {
  const utc = tlv.tag === 0x17
  if (!utc && tlv.tag !== 0x18) return null
  const v = tlv.value
  if (v.length !== (utc ? 13 : 15) || v[v.length - 1] !== 0x5a) return null
  const text = Buffer.from(v.buffer, v.byteOffset, v.length - 1).toString('latin1')
  if (!isDigits(text)) return null
  let year: number
  let at: number
  if (utc) {
    year = Number(text.slice(0, 2))
    year += year >= 50 ? 1900 : 2000
    at = 2
  } else {
    year = Number(text.slice(0, 4))
    if (year < 1000) return null
    at = 4
  }
  const month = Number(text.slice(at, at + 2))
  const day = Number(text.slice(at + 2, at + 4))
  const hour = Number(text.slice(at + 4, at + 6))
  const minute = Number(text.slice(at + 6, at + 8))
  const second = Number(text.slice(at + 8, at + 10))
  if (month < 1 || month > 12 || day < 1 || day > DAYS[month - 1]! || hour > 23 || minute > 59 || second > 59) return null
  if (month === 2 && day === 29 && !(year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0))) return null
  return new Date(Date.UTC(year, month - 1, day, hour, minute, second))
}

/** PrintableString, UTF8String, IA5String: with ASCII content every decoder yields the same text. */
function asciiString (tlv: Tlv): string | null {
  if (tlv.tag !== 0x13 && tlv.tag !== 0x0c && tlv.tag !== 0x16) return null
  const v = tlv.value
  for (let i = 0; i < v.length; i++) if (v[i]! > 0x7f) return null
  return Buffer.from(v.buffer, v.byteOffset, v.length).toString('latin1')
}

/** One attribute value as names.ts reads it from asn1js; null when this reader leaves it to the reference. */
function attributeValue (oid: string, tlv: Tlv): NameAttribute | null {
  const ascii = asciiString(tlv)
  if (ascii !== null) return { oid, value: ascii, isString: true }
  // Constructed values are parsed by asn1js with its depth and node limits counted from the
  // certificate's top: not reproduced here.
  if ((tlv.tag & 0x20) !== 0) return null
  // Other primitive types through asn1js itself, as the reference reads them (a value asn1js
  // cannot read makes the reference refuse the certificate).
  const asn1 = asn1js.fromBER(tlv.der)
  if (asn1.offset !== tlv.der.length) return null
  const text = stringValue(asn1.result)
  return text === null
    ? { oid, value: '#' + Buffer.from(tlv.der.buffer, tlv.der.byteOffset, tlv.der.length).toString('hex'), isString: false }
    : { oid, value: text, isString: true }
}

/** A non-empty Name; null for an empty one or any structure names.ts would refuse. */
function name (tlv: Tlv): Rdns | null {
  if (tlv.tag !== 0x30 || tlv.value.length === 0) return null
  const rdns: NameAttribute[][] = []
  for (const set of children(tlv.value)) {
    if (set.tag !== 0x31 || set.value.length === 0) return null
    const rdn: NameAttribute[] = []
    for (const atv of children(set.value)) {
      if (atv.tag !== 0x30) return null
      const parts = children(atv.value)
      if (parts.length !== 2 || parts[0]!.tag !== 0x06) return null
      const oid = oidFast(parts[0]!.value)
      if (oid === null) return null
      const attribute = attributeValue(oid, parts[1]!)
      if (attribute === null) return null
      rdn.push(attribute)
    }
    rdns.push(rdn)
  }
  return rdns
}

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue OCTET STRING } */
function extensionList (wrapper: Tlv): FastExtension[] | null {
  const seq = readOne(wrapper.value)
  if (seq.tag !== 0x30 || seq.value.length === 0) return null
  const out: FastExtension[] = []
  for (const ext of children(seq.value)) {
    if (ext.tag !== 0x30) return null
    const parts = children(ext.value)
    if (parts.length !== 2 && parts.length !== 3) return null
    const [id, flag] = parts as [Tlv, Tlv]
    const value = parts[parts.length - 1]!
    if (id.tag !== 0x06 || value.tag !== 0x04) return null
    let critical = false
    if (parts.length === 3) {
      if (flag.tag !== 0x01 || flag.value.length !== 1 || (flag.value[0] !== 0 && flag.value[0] !== 0xff)) return null
      critical = flag.value[0] === 0xff
    }
    const oid = oidFast(id.value)
    if (oid === null) return null
    out.push({ oid, critical, value: value.value, der: ext.der })
  }
  return out
}

/** Reads a certificate whose envelope checkEnvelope (parse.ts) accepted; null when it leaves it to the reference. */
export function readCertificateFast (der: Uint8Array): FastCertificate | null {
  // No size limit of its own: checkEnvelope (parse.ts) bounds the elements of any certificate, and
  // the reference reads the same bounded tree (parseEmbedded off, so asn1js' node limit is never near).
  try {
    return read(der)
  } catch {
    return null
  }
}

function read (der: Uint8Array): FastCertificate | null {
  const [tbsTlv, sigAlgTlv, sigTlv] = children(readOne(der).value) as [Tlv, Tlv, Tlv]
  const fields = children(tbsTlv.value)
  let i = 0
  let version = 1
  const first = fields[0]
  if (first?.tag === 0xa0) {
    const v = readOne(first.value)
    if (v.tag !== 0x02 || v.value.length !== 1 || v.value[0]! > 2) return null
    version = v.value[0]! + 1
    i = 1
  }
  const serial = fields[i]
  const tbsSig = fields[i + 1]
  const issuerTlv = fields[i + 2]
  const validity = fields[i + 3]
  const subjectTlv = fields[i + 4]
  const spkiTlv = fields[i + 5]
  const rest = fields.slice(i + 6)
  if (serial?.tag !== 0x02 || serial.value.length === 0 || tbsSig === undefined || issuerTlv === undefined ||
    validity?.tag !== 0x30 || subjectTlv === undefined || spkiTlv?.tag !== 0x30) return null
  // Only the extensions may follow; issuerUniqueID / subjectUniqueID are left to the reference.
  if (rest.length > 1 || (rest.length === 1 && rest[0]!.tag !== 0xa3)) return null

  const tbsSignature = algorithm(tbsSig)
  const signatureAlgorithm = algorithm(sigAlgTlv)
  if (tbsSignature === null || signatureAlgorithm === null) return null
  const issuer = name(issuerTlv)
  const subject = name(subjectTlv)
  if (issuer === null || subject === null) return null
  const times = children(validity.value)
  if (times.length !== 2) return null
  const notBefore = timeFast(times[0]!)
  const notAfter = timeFast(times[1]!)
  if (notBefore === null || notAfter === null) return null
  const spkiParts = children(spkiTlv.value)
  if (spkiParts.length !== 2) return null
  const spkiAlgorithm = algorithm(spkiParts[0]!)
  const key = spkiParts[1]!
  if (spkiAlgorithm === null || key.tag !== 0x03 || key.value.length < 2 || key.value[0] !== 0) return null
  const extensions = rest.length === 1 ? extensionList(rest[0]!) : null
  if (rest.length === 1 && extensions === null) return null

  return {
    version,
    tbs: tbsTlv.der,
    serialBytes: serial.value,
    tbsSignature,
    issuer,
    issuerDer: issuerTlv.der,
    notBefore,
    notAfter,
    subject,
    subjectDer: subjectTlv.der,
    spki: spkiTlv.der,
    spkiAlgorithm,
    extensions,
    signatureAlgorithm,
    signature: sigTlv.value.subarray(1)
  }
}

/* Canonical forms of the extensions parse.ts interprets. Each returns null for any other encoding,
 * which parse.ts then reads through pkijs exactly as the reference does. */

/** A non-negative INTEGER of at most 3 octets, minimally encoded (asn1js reads longer ones as hex only). */
function smallInteger (tlv: Tlv): number | null {
  const v = tlv.value
  if (tlv.tag !== 0x02 || v.length === 0 || v.length > 3 || (v[0]! & 0x80) !== 0 || (v.length > 1 && v[0] === 0 && v[1]! < 0x80)) return null
  let n = 0
  for (const b of v) n = n * 256 + b
  return n
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
export function basicConstraintsFast (value: Uint8Array): { ca: boolean, pathLength: number | null } | null {
  const seq = readOne(value)
  if (seq.tag !== 0x30) return null
  const parts = children(seq.value)
  let ca = false
  let k = 0
  const flag = parts[0]
  if (flag?.tag === 0x01) {
    if (flag.value.length !== 1 || (flag.value[0] !== 0 && flag.value[0] !== 0xff)) return null
    ca = flag.value[0] === 0xff
    k = 1
  }
  if (parts.length === k) return { ca, pathLength: null }
  if (parts.length !== k + 1) return null
  const pathLength = smallInteger(parts[k]!)
  return pathLength === null ? null : { ca, pathLength }
}

/** KeyUsage ::= BIT STRING: the bytes after the unused-bits octet. */
export function keyUsageBytesFast (value: Uint8Array): Uint8Array | null {
  const bits = readOne(value)
  if (bits.tag !== 0x03 || bits.value.length === 0 || bits.value[0]! > 7) return null
  return bits.value.subarray(1)
}

/** ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId */
export function extKeyUsageFast (value: Uint8Array): string[] | null {
  const seq = readOne(value)
  if (seq.tag !== 0x30 || seq.value.length === 0) return null
  const out: string[] = []
  for (const id of children(seq.value)) {
    if (id.tag !== 0x06) return null
    const oid = oidFast(id.value)
    if (oid === null) return null
    out.push(oid)
  }
  return out
}

/** SubjectKeyIdentifier ::= OCTET STRING (non-empty) */
export function subjectKeyIdentifierFast (value: Uint8Array): Uint8Array | null {
  const id = readOne(value)
  return id.tag === 0x04 && id.value.length > 0 ? id.value : null
}

/** AuthorityKeyIdentifier carrying a keyIdentifier [0] only (the usual form; any other goes to pkijs). */
export function authorityKeyIdentifierFast (value: Uint8Array): Uint8Array | null {
  const seq = readOne(value)
  if (seq.tag !== 0x30) return null
  const parts = children(seq.value)
  return parts.length === 1 && parts[0]!.tag === 0x80 && parts[0]!.value.length > 0 ? parts[0]!.value : null
}
