/**
 * decode: ALB header text -> DER certificates.
 *
 * ALB URL-encodes the PEM chain, leaving `+`, `=` and `/` literal (and its own example encodes `=` as
 * `%3D`): every `%XX` is decoded and `+` is never a space. The decoded text must be a sequence of
 * `CERTIFICATE` PEM blocks separated by whitespace and nothing else. Everything is attacker-written,
 * so every deviation is an error with a reason, never a best-effort guess.
 *
 * `decodeHeader` tries two fast decoders first. `decodeAlb` takes exactly the form ALB sends (the
 * markers spelled `-----BEGIN%20CERTIFICATE-----` / `-----END%20CERTIFICATE-----`, `%0A` line
 * breaks, literal base64) and lets native string operations do the work: `indexOf` for the
 * markers, one `replaceAll` for the line breaks, `Buffer.from(body, 'base64')`, and a check that
 * the bytes encode back to the same text (which proves the body was strict base64). The one-pass decoder `decodeOnePass` takes the other forms common
 * encoders produce (`%0D` `%20` `%09` `%2B` `%2F` `%3D`, literal markers), going from the
 * percent-encoded text to DER bytes with no intermediate string. Neither decides a refusal: on
 * anything else they hand the value to the reference decoder below (`percentDecode` then
 * `splitPem`), which accepts every strictly valid variant and gives the reason for a refusal. So
 * the fast paths cannot accept what the strict decoder refuses, and unusual but valid spellings
 * still work.
 */
import type { MalformedReason } from '../types.js'

export type DecodeResult =
  | { ok: true, certificates: Uint8Array[] }
  | { ok: false, reason: MalformedReason, message: string }

const BEGIN = '-----BEGIN '
const END_CERT = '-----END CERTIFICATE-----'
const DASHES = '-----'

function hexValue (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

function fail (reason: MalformedReason, message: string): DecodeResult {
  return { ok: false, reason, message }
}

/** Percent-decodes `value` into ASCII text; null when it is not strictly valid. */
export function percentDecode (value: string): string | null {
  const first = value.indexOf('%')
  if (first === -1) return isPemText(value) ? value : null
  let out = ''
  let last = 0
  for (let i = first; i < value.length; i++) {
    if (value.charCodeAt(i) !== 0x25) continue
    const hi = hexValue(value.charCodeAt(i + 1))
    const lo = hexValue(value.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) return null
    out += value.slice(last, i) + String.fromCharCode(hi * 16 + lo)
    i += 2
    last = i + 1
  }
  out += value.slice(last)
  return isPemText(out) ? out : null
}

/** PEM is printable ASCII plus line breaks and tabs; anything else (NUL, bytes >= 0x80) is refused. */
function isPemText (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c > 0x7e || (c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09)) return false
  }
  return true
}

function isSpace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}

const BASE64_BODY = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * Splits decoded PEM text into DER certificates.
 * Only `CERTIFICATE` blocks separated by whitespace are accepted.
 */
export function splitPem (text: string, maxCertificates: number): DecodeResult {
  const certificates: Uint8Array[] = []
  let i = 0
  const n = text.length
  for (;;) {
    while (i < n && isSpace(text.charCodeAt(i))) i++
    if (i >= n) break
    if (!text.startsWith(BEGIN, i)) {
      return fail('bad-pem', `unexpected text at offset ${i}: expected "-----BEGIN CERTIFICATE-----"`)
    }
    const labelStart = i + BEGIN.length
    const labelEnd = text.indexOf(DASHES, labelStart)
    if (labelEnd === -1 || labelEnd - labelStart > 64) return fail('bad-pem', 'unterminated PEM header line')
    const label = text.slice(labelStart, labelEnd)
    if (label !== 'CERTIFICATE') {
      return fail('not-a-certificate', `PEM block "${label.replace(/[^ -~]/g, '?').slice(0, 40)}" is not a CERTIFICATE`)
    }
    const bodyStart = labelEnd + DASHES.length
    const bodyEnd = text.indexOf(END_CERT, bodyStart)
    if (bodyEnd === -1) return fail('bad-pem', 'PEM block without "-----END CERTIFICATE-----"')
    if (certificates.length >= maxCertificates) {
      return fail('too-many-certificates', `more than ${maxCertificates} certificates in the header`)
    }
    const body = text.slice(bodyStart, bodyEnd).replace(/[ \t\r\n]+/g, '')
    if (body.length === 0 || body.length % 4 !== 0 || !BASE64_BODY.test(body)) {
      return fail('bad-base64', `certificate ${certificates.length + 1} is not valid base64`)
    }
    certificates.push(Buffer.from(body, 'base64'))
    i = bodyEnd + END_CERT.length
  }
  if (certificates.length === 0) return fail('bad-pem', 'no certificate in the header')
  return { ok: true, certificates }
}

/** Base64 alphabet value of each one-byte character code, -1 for any other character. */
const B64 = new Int32Array(256).fill(-1)
for (let k = 0; k < 64; k++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(k)] = k

const BEGIN_ENCODED = '-----BEGIN%20CERTIFICATE-----'
const BEGIN_LITERAL = '-----BEGIN CERTIFICATE-----'
const END_ENCODED = '-----END%20CERTIFICATE-----'
const END_LITERAL = '-----END CERTIFICATE-----'

/** `s[i..i+2]` is `%0A`, `%0D`, `%09` or `%20` (either hex case). */
function isEncodedSpace (s: string, i: number): boolean {
  const h = s.charCodeAt(i + 1)
  const l = s.charCodeAt(i + 2) | 0x20
  return (h === 0x30 && (l === 0x61 || l === 0x64 || l === 0x39)) || (h === 0x32 && l === 0x30)
}

const LINE_BREAK = '%0A'

/**
 * The exact form ALB sends, with native string operations: per block, the text between the encoded
 * markers with its `%0A` line breaks removed must be canonical base64 (so `splitPem`'s regex and
 * length rule hold, and its `Buffer.from` gives the same bytes); blocks are separated by `%0A` only. Returns null on anything else.
 *
 * Why this cannot accept what the reference refuses or decode differently: once the `%0A` are
 * removed, no `%` is left (canonical base64 has none), so every `%` of the body started a `%0A`, which
 * the reference decodes to a line break at the same places and then strips as whitespace; the
 * markers decode to the reference's markers, and the first END marker is the one the reference
 * finds (an earlier decoded one would have left `-` or `%` in the body).
 */
export function decodeAlb (s: string, maxCertificates: number): Uint8Array[] | null {
  const n = s.length
  const certificates: Uint8Array[] = []
  let i = 0
  while (i < n) {
    if (certificates.length >= maxCertificates || !s.startsWith(BEGIN_ENCODED, i)) return null
    const bodyStart = i + BEGIN_ENCODED.length
    const bodyEnd = s.indexOf(END_ENCODED, bodyStart)
    if (bodyEnd === -1) return null
    const body = s.slice(bodyStart, bodyEnd).replaceAll(LINE_BREAK, '')
    // Node's base64 decoder skips characters outside the alphabet, so the bytes alone prove
    // nothing; that they encode back to exactly `body` does: then `body` is canonical base64 (only
    // the alphabet, `=` padding only at the end, a length that is a multiple of 4), which
    // BASE64_BODY accepts. Cheaper than the regex, which costs twice the decoding. Non-canonical
    // but valid bodies (non-zero trailing bits) go on to the one-pass decoder.
    const der = Buffer.from(body, 'base64')
    if (body.length === 0 || der.toString('base64') !== body) return null
    certificates.push(der)
    i = bodyEnd + END_ENCODED.length
    while (s.startsWith(LINE_BREAK, i)) i += LINE_BREAK.length
  }
  return certificates.length === 0 ? null : certificates
}

/**
 * The fast decoders in turn: the ALB form with native operations, then the one-pass decoder for the
 * other common spellings. Null when neither takes the value (the reference decoder decides).
 */
export function decodeFast (s: string, maxCertificates: number): Uint8Array[] | null {
  return decodeAlb(s, maxCertificates) ?? decodeOnePass(s, maxCertificates)
}

/**
 * One pass from the percent-encoded value to DER. Returns null when the value is not in the forms
 * it knows (the caller then runs the reference decoder); never returns bytes the reference would
 * refuse or decode differently. Whole 4-character groups are decoded at once; line breaks, padding
 * and the END marker take the per-character path.
 */
export function decodeOnePass (s: string, maxCertificates: number): Uint8Array[] | null {
  const n = s.length
  // 3 bytes per 4 base64 characters is an upper bound for everything the header can hold. From
  // Node's buffer pool: a fresh Uint8Array of this size costs a zeroed off-heap allocation.
  const out = Buffer.allocUnsafe((n >>> 2) * 3 + 3)
  const certificates: Uint8Array[] = []
  let o = 0
  let i = 0
  for (;;) {
    // Whitespace between blocks.
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 0x25 && isEncodedSpace(s, i)) i += 3
      else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
      else break
    }
    if (i >= n) break
    if (certificates.length >= maxCertificates) return null
    if (s.startsWith(BEGIN_ENCODED, i)) i += BEGIN_ENCODED.length
    else if (s.startsWith(BEGIN_LITERAL, i)) i += BEGIN_LITERAL.length
    else return null
    const start = o
    let acc = 0
    let bits = 0
    let chars = 0
    let pad = 0
    for (;;) {
      if (bits === 0 && pad === 0) {
        // Aligned on a base64 quantum: decode whole groups while all four are alphabet characters.
        while (i + 4 <= n) {
          const a = s.charCodeAt(i)
          const b = s.charCodeAt(i + 1)
          const c = s.charCodeAt(i + 2)
          const d = s.charCodeAt(i + 3)
          if ((a | b | c | d) > 0xff) break
          const x = (B64[a]! << 18) | (B64[b]! << 12) | (B64[c]! << 6) | B64[d]!
          if (x < 0) break
          out[o] = x >>> 16
          out[o + 1] = x >>> 8
          out[o + 2] = x
          o += 3
          i += 4
          chars += 4
        }
      }
      if (i >= n) return null
      let c = s.charCodeAt(i++)
      if (c === 0x25) {
        if (isEncodedSpace(s, i - 1)) { i += 2; continue }
        const h = s.charCodeAt(i)
        const l = s.charCodeAt(i + 1) | 0x20
        if (h === 0x32 && l === 0x62) c = 0x2b
        else if (h === 0x32 && l === 0x66) c = 0x2f
        else if (h === 0x33 && l === 0x64) c = 0x3d
        else return null
        i += 2
      } else if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) {
        continue
      } else if (c === 0x2d) {
        i--
        if (s.startsWith(END_ENCODED, i)) i += END_ENCODED.length
        else if (s.startsWith(END_LITERAL, i)) i += END_LITERAL.length
        else return null
        break
      }
      if (c === 0x3d) {
        if (++pad > 2) return null
        chars++
        continue
      }
      const v = c <= 0xff ? B64[c]! : -1
      if (v < 0 || pad !== 0) return null
      chars++
      acc = ((acc << 6) | v) & 0xffffff
      bits += 6
      if (bits >= 8) {
        bits -= 8
        out[o++] = acc >>> bits
      }
    }
    if (chars === 0 || (chars & 3) !== 0) return null
    certificates.push(out.subarray(start, o))
  }
  return certificates.length === 0 ? null : certificates
}

/** Decodes an ALB `X-Amzn-Mtls-Clientcert` value into DER certificates, leaf first. */
export function decodeHeader (value: string, maxCertificates: number): DecodeResult {
  const fast = decodeFast(value, maxCertificates)
  if (fast !== null) return { ok: true, certificates: fast }
  return decodeReference(value, maxCertificates)
}

/** The strict two-step decoder: the definition of what is accepted, and the reason for a refusal. */
export function decodeReference (value: string, maxCertificates: number): DecodeResult {
  const text = percentDecode(value)
  if (text === null) return fail('bad-encoding', 'header is not strictly percent-encoded ASCII PEM')
  return splitPem(text, maxCertificates)
}
