/**
 * der: a minimal, strict DER walker for the structures read on the hot path or in bulk (name
 * constraints, general names, CRL entry lists). asn1js builds an object graph with schema checks
 * and takes seconds on a NameConstraints with thousands of subtrees or a CRL with 100k entries;
 * walking TLVs over the bytes is linear and allocation-light. Every deviation from DER throws.
 */

export interface Tlv {
  /** Identifier octet (class, constructed bit, tag number < 31). */
  readonly tag: number
  /** The whole TLV. */
  readonly der: Uint8Array
  /** The contents octets. */
  readonly value: Uint8Array
}

export class DerError extends Error {}

/**
 * Checks the identifier and length octets of the TLV at `offset` in their DER form (X.690 8.1.2 with
 * low tag numbers only; 10.1: definite length, minimal, here at most 4 octets) and returns the offset
 * just past its contents, which must not pass `end`. The one length decoder of this module (readTlv
 * and scanTree); it allocates nothing, as scanTree requires.
 */
function valueEnd (bytes: Uint8Array, offset: number, end: number): number {
  if (offset + 2 > end) throw new DerError('truncated TLV')
  const tag = bytes[offset]!
  if ((tag & 0x1f) === 0x1f) throw new DerError('high tag numbers are not used here')
  let length = bytes[offset + 1]!
  let start = offset + 2
  if (length & 0x80) {
    const count = length & 0x7f
    if (count === 0 || count > 4) throw new DerError('indefinite or oversized length')
    if (start + count > end) throw new DerError('truncated length')
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!
    if (length < 0x80 || (count > 1 && bytes[start] === 0)) throw new DerError('non-minimal length')
    start += count
  }
  const next = start + length
  if (next > end) throw new DerError('truncated value')
  return next
}

/** Offset of the contents of the TLV at `offset`, once valueEnd has accepted its header. */
function valueStart (bytes: Uint8Array, offset: number): number {
  const first = bytes[offset + 1]!
  return offset + 2 + ((first & 0x80) === 0 ? 0 : first & 0x7f)
}

/** Reads the TLV at `offset`; returns it and the offset just past it. */
export function readTlv (bytes: Uint8Array, offset = 0): { tlv: Tlv, next: number } {
  const end = valueEnd(bytes, offset, bytes.length)
  const start = valueStart(bytes, offset)
  return { tlv: { tag: bytes[offset]!, der: bytes.subarray(offset, end), value: bytes.subarray(start, end) }, next: end }
}

/** The single TLV that makes up `bytes` exactly. */
export function readOne (bytes: Uint8Array): Tlv {
  const { tlv, next } = readTlv(bytes, 0)
  if (next !== bytes.length) throw new DerError('trailing data')
  return tlv
}

/** The TLVs inside a constructed value. */
export function children (value: Uint8Array): Tlv[] {
  const out: Tlv[] = []
  let offset = 0
  while (offset < value.length) {
    const { tlv, next } = readTlv(value, offset)
    out.push(tlv)
    offset = next
  }
  return out
}

/** Dotted text of an OBJECT IDENTIFIER's contents. */
export function oidText (value: Uint8Array): string {
  if (value.length === 0) throw new DerError('empty OID')
  const parts: number[] = []
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const b = value[i]!
    if (n === 0 && b === 0x80) throw new DerError('non-minimal OID arc')
    n = n * 128 + (b & 0x7f)
    if ((b & 0x80) === 0) {
      if (parts.length === 0) parts.push(n < 80 ? Math.floor(n / 40) : 2, n < 80 ? n % 40 : n - 80)
      else parts.push(n)
      n = 0
    } else if (i === value.length - 1) throw new DerError('truncated OID')
  }
  return parts.join('.')
}

/** UTCTime or GeneralizedTime (DER forms: `Z`, seconds present) -> epoch milliseconds. */
export function timeValue (tlv: Tlv): number {
  return timeAt(tlv.value, tlv.tag, 0, tlv.value.length)
}

function digits (bytes: Uint8Array, at: number, count: number): number {
  let n = 0
  for (let i = at; i < at + count; i++) {
    const d = bytes[i]! - 0x30
    if (d < 0 || d > 9) return -1
    n = n * 10 + d
  }
  return n
}

/**
 * timeValue on the contents `bytes[start, end)` of a TLV with identifier `tag`, without allocating
 * (CRLs hold one revocationDate per entry, RFC 5280 5.1.2.6). UTCTime: YYMMDDHHMMSSZ, years 50-99
 * are 19xx (RFC 5280 4.1.2.5.1); GeneralizedTime: YYYYMMDDHHMMSSZ (4.1.2.5.2).
 */
export function timeAt (bytes: Uint8Array, tag: number, start: number, end: number): number {
  let year: number
  let at: number
  if (tag === 0x17) {
    if (end - start !== 13 || bytes[end - 1] !== 0x5a) throw new DerError('bad UTCTime')
    year = digits(bytes, start, 2)
    if (year < 0) throw new DerError('bad UTCTime')
    year += year < 50 ? 2000 : 1900
    at = start + 2
  } else if (tag === 0x18) {
    if (end - start !== 15 || bytes[end - 1] !== 0x5a) throw new DerError('bad GeneralizedTime')
    year = digits(bytes, start, 4)
    if (year < 0) throw new DerError('bad GeneralizedTime')
    at = start + 4
  } else {
    throw new DerError('not a time')
  }
  const month = digits(bytes, at, 2)
  const day = digits(bytes, at + 2, 2)
  const hour = digits(bytes, at + 4, 2)
  const minute = digits(bytes, at + 6, 2)
  const second = digits(bytes, at + 8, 2)
  if (month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) throw new DerError(tag === 0x17 ? 'bad UTCTime' : 'bad GeneralizedTime')
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(ms)
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new DerError('impossible date')
  }
  return ms
}

/**
 * The header of the TLV at `offset`, which must end by `limit`, read without allocating: the
 * result is left in `header` (tag, contents start, end) until the next call; the tag is returned.
 * Same rules as readTlv (valueEnd decodes the length).
 */
export const header = { tag: 0, start: 0, end: 0 }
export function readHeader (bytes: Uint8Array, offset: number, limit: number): number {
  header.end = valueEnd(bytes, offset, limit)
  header.start = valueStart(bytes, offset)
  header.tag = bytes[offset]!
  return header.tag
}

/** Lowercase hex of an INTEGER's contents with leading zero octets removed ("0" for zero). */
export function integerHex (value: Uint8Array): string {
  let i = 0
  while (i < value.length - 1 && value[i] === 0) i++
  const hex = Buffer.from(value.buffer, value.byteOffset + i, value.byteLength - i).toString('hex')
  return hex === '' ? '0' : hex
}

/**
 * True when a DER tree (constructed values descended, primitive contents not) holds an OBJECT
 * IDENTIFIER with a non-minimal arc (a leading 0x80 octet, X.690 8.19.2) or a truncated one. Such an
 * OID reads as another OID to a lenient decoder (`55 1d 80 13` as basicConstraints 2.5.29.19);
 * OpenSSL refuses it. False as well for bytes that are not DER (the caller's own reader decides).
 */
export function hasBadOid (bytes: Uint8Array): boolean {
  try {
    return scanTree(bytes, Number.MAX_SAFE_INTEGER).badOid
  } catch {
    return false
  }
}

/**
 * One pass over a DER tree (constructed values descended, primitive contents not) that allocates
 * nothing: the number of elements, stopping as soon as it passes `limit`, and whether an OBJECT
 * IDENTIFIER has a non-minimal or truncated arc. Throws DerError on anything that is not DER.
 */
export function scanTree (bytes: Uint8Array, limit: number): { elements: number, badOid: boolean } {
  let elements = 0
  let badOid = false
  const ends: number[] = []
  let offset = 0
  let end = bytes.length
  for (;;) {
    if (offset === end) {
      if (ends.length === 0) break
      end = ends.pop()!
      continue
    }
    const next = valueEnd(bytes, offset, end)
    const start = valueStart(bytes, offset)
    const tag = bytes[offset]!
    if (++elements > limit) return { elements, badOid }
    if (tag === 0x06) {
      // X.690 8.19.2: no subidentifier starts with 0x80; the last octet ends a subidentifier.
      if (next === start || (bytes[next - 1]! & 0x80) !== 0) badOid = true
      for (let i = start, first = true; i < next; i++) {
        if (first && bytes[i] === 0x80) badOid = true
        first = (bytes[i]! & 0x80) === 0
      }
      offset = next
    } else if ((tag & 0x20) !== 0) {
      ends.push(end)
      end = next
      offset = start
    } else {
      offset = next
    }
  }
  return { elements, badOid }
}
