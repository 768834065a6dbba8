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
  const text = Buffer.from(tlv.value).toString('latin1')
  let m: RegExpExecArray | null
  let year: number
  if (tlv.tag === 0x17) {
    m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (m === null) throw new DerError('bad UTCTime')
    year = Number(m[1])
    year += year < 50 ? 2000 : 1900
  } else if (tlv.tag === 0x18) {
    m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
    if (m === null) throw new DerError('bad GeneralizedTime')
    year = Number(m[1])
  } else {
    throw new DerError('not a time')
  }
  const [month, day, hour, minute, second] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number]
  const ms = Date.UTC(year, month - 1, day, hour, minute, second)
  const check = new Date(ms)
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new DerError('impossible date')
  }
  return ms
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
