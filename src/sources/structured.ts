/**
 * structured: the pieces of RFC 8941 (Structured Field Values) that certificate headers use, and
 * strict base64. RFC 9440 `Client-Cert` is an Item whose value is a Byte Sequence
 * (`:<base64 DER>:`, RFC 8941 3.3.5) and `Client-Cert-Chain` a List of them (RFC 8941 3.1).
 * Parameters are not used by RFC 9440 and are refused here. The base64 inside a byte sequence
 * follows RFC 8941 4.2.7: characters outside the alphabet fail, but missing `=` padding and
 * non-zero pad bits do not (parsers "SHOULD NOT fail" on those); every spelling decodes to the
 * same DER, which is what gets validated.
 */

import { boundedSplit } from './material.js'

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Strict base64 (RFC 4648 4) to bytes: the alphabet, `=` padding only at the end, a length that is
 * a multiple of 4, and canonical (the bytes encode back to the same text). Null on anything else.
 */
export function strictBase64 (text: string): Uint8Array | null {
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64.test(text)) return null
  const bytes = Buffer.from(text, 'base64')
  return bytes.toString('base64') === text ? bytes : null
}

/** Optional whitespace around a field value or list member (RFC 9110 5.6.3: SP / HTAB). */
function trimOws (text: string): string {
  return text.replace(/^[ \t]+|[ \t]+$/g, '')
}

const SF_BASE64 = /^([A-Za-z0-9+/]*)(={0,2})$/

/**
 * The content of a Byte Sequence (RFC 8941 4.2.7 steps 5-7): only the base64 alphabet, `=` only at
 * the end; padding synthesized when missing and pad bits ignored (both SHOULD NOT fail), a length
 * that no padding can complete (one character over a quantum) refused. Null on failure.
 */
export function sfBase64 (text: string): Uint8Array | null {
  const m = SF_BASE64.exec(text)
  if (m === null) return null
  const body = m[1]!.length
  const pad = m[2]!.length
  if (body === 0 || body % 4 === 1 || (pad !== 0 && (body + pad) % 4 !== 0)) return null
  return Buffer.from(text, 'base64')
}

/** One Byte Sequence (RFC 8941 4.2.7): `:base64:`, surrounding whitespace allowed. Null when not one. */
export function parseByteSequence (text: string): Uint8Array | null {
  const t = trimOws(text)
  if (t.length < 2 || t.charCodeAt(0) !== 0x3a || t.charCodeAt(t.length - 1) !== 0x3a) return null
  return sfBase64(t.slice(1, -1))
}

/**
 * A List of Byte Sequences (RFC 8941 4.2.1): members separated by `,` with optional whitespace; an
 * empty field is the empty list. Null when a member is not a byte sequence (or a trailing comma);
 * `max` bounds the members decoded (the caller refuses a longer list).
 */
export function parseByteSequenceList (text: string, max: number): Uint8Array[] | null | 'too-many' {
  if (trimOws(text) === '') return []
  // Members are counted before any is cut or decoded (a byte sequence holds no comma).
  const members = boundedSplit(text, ',', max)
  if (members === null) return 'too-many'
  const out: Uint8Array[] = []
  for (const member of members) {
    const bytes = parseByteSequence(member)
    if (bytes === null) return null
    out.push(bytes)
  }
  return out
}

/** The RFC 9440 form of DER bytes (what a proxy writes). */
export function toByteSequence (der: Uint8Array): string {
  return `:${Buffer.from(der).toString('base64')}:`
}
