/**
 * xfcc: Envoy / Istio `X-Forwarded-Client-Cert` (Envoy docs, "HTTP header manipulation").
 *
 * Grammar: elements separated by `,`, each a list of `key=value` pairs separated by `;`; keys are
 * case-insensitive; a value may be double-quoted (`"..."`, with `\"` for a quote inside) and must
 * be when it holds `,`, `;` or `=`. Envoy quotes `Cert`, `Chain` and `Subject` (the latter as OpenSSL's
 * RFC 2253 text, escapes included) and writes `By`, `Hash`, `URI` and `DNS` bare. Keys: `By` (the proxy's own URI SAN), `Hash` (hex SHA-256 of the
 * client's leaf DER), `Cert` (the leaf, URL-encoded PEM), `Chain` (the whole chain, URL-encoded PEM,
 * leaf first), `Subject` (RFC 2253), `URI` and `DNS` (one pair per SAN).
 *
 * Each proxy hop appends its element, so the LAST element is the one the nearest (trusted) proxy
 * wrote; earlier ones came from further away (or from the client when the edge proxy forwards
 * client-sent values). Only the last element is read. The chain (`Chain`, else `Cert`) is
 * validated here against `roots`; `Hash`, `Subject`, `URI` and `DNS` must agree with the leaf.
 * Safe only when the edge proxy uses `forward_client_cert_details: SANITIZE_SET` (or
 * `FORWARD_ONLY` behind a proxy that sets it): with `APPEND_FORWARD` a client may send its own.
 */
import { decodeHeader } from './decode.js'
import {
  ABSENT, cacheText, createHeaderCollector, isFailure, keySlice, malformed, refused, resolveHeaderNames, single,
  type Decoded, type LeafClaims, type Material, type SourceReader, type SourceRequest
} from './material.js'
import type { VerifyFailure } from '../types.js'

export interface XfccHeaderNames {
  /** Default `x-forwarded-client-cert`. */
  xfcc: string
}

export const DEFAULT_XFCC_HEADERS: Readonly<XfccHeaderNames> = Object.freeze({ xfcc: 'x-forwarded-client-cert' })

/** One element: keys lowercased, each with every value it had (URI and DNS repeat). */
export type XfccElement = Map<string, string[]>

/** Most elements and pairs read: a longer header is refused (each hop adds one element). */
const MAX_ELEMENTS = 16
const MAX_PAIRS = 64

/**
 * Parses an XFCC value into its elements; a refusal on any syntax error. One pass, linear in the
 * value's length.
 */
export function parseXfcc (value: string): XfccElement[] | VerifyFailure {
  const bad = (why: string): VerifyFailure => malformed('bad-encoding', `X-Forwarded-Client-Cert: ${why}`)
  const elements: XfccElement[] = []
  let element: XfccElement = new Map()
  let pairs = 0
  let i = 0
  const n = value.length
  for (;;) {
    while (i < n && (value[i] === ' ' || value[i] === '\t')) i++
    const keyStart = i
    while (i < n && value[i] !== '=' && value[i] !== ';' && value[i] !== ',') i++
    const key = value.slice(keyStart, i).trim().toLowerCase()
    if (i >= n || value[i] !== '=' || key === '' || !/^[a-z0-9_-]+$/.test(key)) return bad('expected key=value')
    i++
    let text = ''
    if (value[i] === '"') {
      i++
      for (;;) {
        if (i >= n) return bad('unterminated quoted value')
        const c = value[i]!
        // A backslash escapes the next character (so `\\"` ends the value): `\"` stands for a quote;
        // any other pair is kept as written, so the RFC 2253 escapes of a Subject (`\,`, `\\`, which
        // Envoy writes between the quotes as OpenSSL printed them) reach the name parser intact.
        if (c === '\\' && i + 1 < n) {
          text += value[i + 1] === '"' ? '"' : value.slice(i, i + 2)
          i += 2
          continue
        }
        if (c === '"') { i++; break }
        text += c
        i++
      }
      while (i < n && (value[i] === ' ' || value[i] === '\t')) i++
    } else {
      const start = i
      while (i < n && value[i] !== ';' && value[i] !== ',') {
        if (value[i] === '"' || value[i] === '=') return bad('unquoted value holds " or =')
        i++
      }
      text = value.slice(start, i).trim()
    }
    if (++pairs > MAX_PAIRS) return bad(`more than ${MAX_PAIRS} pairs`)
    const seen = element.get(key)
    if (seen === undefined) element.set(key, [text])
    else seen.push(text)
    if (i >= n) break
    if (value[i] === ',') {
      elements.push(element)
      if (elements.length >= MAX_ELEMENTS) return bad(`more than ${MAX_ELEMENTS} elements`)
      element = new Map()
    } else if (value[i] !== ';') {
      return bad('expected ; or , after a value')
    }
    i++
  }
  elements.push(element)
  return elements
}

const SINGLE_KEYS = ['by', 'hash', 'cert', 'chain', 'subject']

/** The nearest proxy's element -> chain (leaf first) and the claims to check against the leaf. */
export function decodeXfccElement (element: XfccElement, maxCertificates: number): Decoded {
  for (const key of SINGLE_KEYS) {
    if ((element.get(key)?.length ?? 0) > 1) return malformed('repeated-header', `X-Forwarded-Client-Cert: ${key} appears more than once in one element`)
  }
  const cert = element.get('cert')?.[0]
  const chain = element.get('chain')?.[0]
  if (cert === undefined && chain === undefined) {
    return malformed('incomplete-headers', 'X-Forwarded-Client-Cert has no Cert or Chain (set forward_client_cert_details with set_current_client_cert_details cert: true or chain: true)')
  }
  let certificates: Uint8Array[]
  if (chain !== undefined) {
    const decoded = decodeHeader(chain, maxCertificates)
    if (!decoded.ok) return malformed(decoded.reason, `X-Forwarded-Client-Cert Chain: ${decoded.message}`)
    certificates = decoded.certificates
    if (cert !== undefined) {
      const leaf = decodeHeader(cert, 1)
      if (!leaf.ok) return malformed(leaf.reason, `X-Forwarded-Client-Cert Cert: ${leaf.message}`)
      if (!Buffer.from(leaf.certificates[0]!).equals(certificates[0]!)) {
        return malformed('header-mismatch', 'X-Forwarded-Client-Cert Cert is not the first certificate of Chain (possible header tampering)')
      }
    }
  } else {
    const decoded = decodeHeader(cert!, 1)
    if (!decoded.ok) return malformed(decoded.reason, `X-Forwarded-Client-Cert Cert: ${decoded.message}`)
    certificates = decoded.certificates
  }
  const claims: LeafClaims = {
    ...(element.has('hash') ? { sha256: element.get('hash')![0]! } : {}),
    ...(element.has('subject') ? { subject: element.get('subject')![0]! } : {}),
    ...(element.has('uri') ? { uris: element.get('uri')!.filter((u) => u !== '') } : {}),
    ...(element.has('dns') ? { dnsNames: element.get('dns')!.filter((d) => d !== '') } : {})
  }
  return { kind: 'chain', certificates, claims }
}

export function xfccSource (headers?: Partial<XfccHeaderNames>): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('xfcc', DEFAULT_XFCC_HEADERS, headers) as XfccHeaderNames
  const collect = createHeaderCollector([names.xfcc])
  return {
    name: 'xfcc',
    fromHeaders: true,
    needsRoots: true,
    read (request, limits): Material {
      const [lines] = collect(request.rawHeaders)
      // Envoy writes one line; a second one was not written by the proxy that wrote the first.
      const value = single(lines, 'X-Forwarded-Client-Cert', limits.maxHeaderBytes)
      if (isFailure(value)) return refused(value)
      if (value === undefined || value.trim() === '') return ABSENT
      return {
        kind: 'present',
        key: keySlice(value.slice(value.lastIndexOf(',') + 1)),
        text: cacheText([value]),
        decode: (): Decoded => {
          const elements = parseXfcc(value)
          if (isFailure(elements)) return elements
          return decodeXfccElement(elements[elements.length - 1]!, limits.maxCertificates)
        }
      }
    }
  }
}
