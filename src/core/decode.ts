/**
 * decode: ALB header text -> DER certificates.
 *
 * ALB URL-encodes the PEM chain, leaving `+`, `=` and `/` literal (and its own example encodes `=` as
 * `%3D`): every `%XX` is decoded and `+` is never a space. The decoded text must be a sequence of
 * `CERTIFICATE` PEM blocks separated by whitespace and nothing else. Everything is attacker-written,
 * so every deviation is an error with a reason, never a best-effort guess.
 */
import type { MalformedReason } from './types.js'

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

/** Decodes an ALB `X-Amzn-Mtls-Clientcert` value into DER certificates, leaf first. */
export function decodeHeader (value: string, maxCertificates: number): DecodeResult {
  const text = percentDecode(value)
  if (text === null) return fail('bad-encoding', 'header is not strictly percent-encoded ASCII PEM')
  return splitPem(text, maxCertificates)
}
