/**
 * material: what a source hands the verifier, and the header reading every header source shares.
 *
 * A source turns one request into either nothing (no certificate), a refusal it can decide without
 * parsing (a repeated singleton line, a forged flag, a proxy that says it failed), or "present":
 * the exact text it read (the verdict cache compares it in full) and a `decode` step run only on a
 * cache miss, which yields a chain to validate against `roots` or a proxy-verified leaf with the
 * claims the proxy made about it. Nothing here imports Fastify: the request is anything with
 * Node's `rawHeaders` (an `IncomingMessage`, a Fastify `request.raw`).
 */
import type { CertificateSource, FailureReason, VerifyErrorCode, VerifyFailure } from '../types.js'
import { InvalidOptionError } from '../errors.js'

/**
 * What a proxy that validated the chain says about the leaf, each as the header text it sent. Every
 * field given must agree with the leaf: the leaf is the source of truth, the text headers are
 * claims, and a disagreement means someone rewrote headers on the way (reason `header-mismatch`).
 * Shared by every verify-style source (ALB verify, CloudFront, API Gateway) and by the chain
 * sources that forward descriptions next to the certificate (XFCC `Hash`, `Subject`, `URI`, `DNS`).
 */
export interface LeafClaims {
  /** Hex serial; `serialColons` also accepts the `4a:3f:5c` spelling (CloudFront, API Gateway). */
  serialNumber?: string
  serialColons?: boolean
  /** RFC 2253 (RFC 4514) distinguished names, compared by RFC 5280 7.1 name matching. */
  issuer?: string
  subject?: string
  /** `NotBefore=<ISO 8601>;NotAfter=<ISO 8601>`. */
  validity?: string
  /** SHA-256 of the leaf DER, hex (colons allowed). */
  sha256?: string
  /** Names the leaf's subjectAltName must contain (XFCC `URI` and `DNS`). */
  uris?: readonly string[]
  dnsNames?: readonly string[]
}

/** The part of a request header sources read: Node's `rawHeaders` (name, value, name, value, ...). */
export interface SourceRequest {
  readonly rawHeaders: readonly string[]
  /** The connection (a `tls.TLSSocket` for the `tls` source). */
  readonly socket?: unknown
}

/** What `decode` yields: a chain (leaf first) the plugin validates, or a leaf the proxy validated. */
export type Decoded =
  | { readonly kind: 'chain', readonly certificates: readonly Uint8Array[], readonly claims?: LeafClaims }
  | { readonly kind: 'verified', readonly leaf: Uint8Array, readonly claims: LeafClaims }
  | VerifyFailure

export type Material =
  | { readonly kind: 'absent' }
  | {
    readonly kind: 'refused'
    readonly failure: VerifyFailure
    /**
     * The certificate(s) the request carried when the source refused it without validating (the
     * proxy said it failed, a flag contradicts the certificate): decoded only for the refusal log
     * line, never to decide.
     */
    readonly claimed?: () => Decoded
  }
  | {
    readonly kind: 'present'
    /** A short slice that differs between clients (narrows the cache lookup; never decides a hit). */
    readonly key: string
    /** Everything the verdict depends on: a cache hit needs this exact text. */
    readonly text: string
    readonly decode: () => Decoded
  }

export interface ReadLimits {
  /** Longest header value accepted (the plugin's `maxHeaderBytes`). */
  readonly maxHeaderBytes: number
  /** Most certificates in one chain (leaf + maxChainDepth + root). */
  readonly maxCertificates: number
}

export interface SourceReader<R = SourceRequest> {
  readonly name: CertificateSource
  /**
   * The certificate arrives in request headers, so the trusted-proxy rule applies (false for the
   * `tls` source, which reads the connection itself).
   */
  readonly fromHeaders: boolean
  /** True when the chain is validated here, so `roots` is required. */
  readonly needsRoots: boolean
  read (request: R, limits: ReadLimits): Material
}

export const ABSENT: Material = Object.freeze({ kind: 'absent' })

export function fail (code: VerifyErrorCode, reason: FailureReason, message: string): VerifyFailure {
  return { ok: false, code, reason, message }
}

export function malformed (reason: FailureReason, message: string): VerifyFailure {
  return fail('FST_MTLS_CERT_MALFORMED', reason, message)
}

export function refused (failure: VerifyFailure, claimed?: () => Decoded): Material {
  return claimed === undefined ? { kind: 'refused', failure } : { kind: 'refused', failure, claimed }
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * Headers Node's HTTP parser keeps only the first line of, or merges specially
 * (node:_http_incoming): they cannot carry a certificate.
 */
const NODE_SPECIAL = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization',
  'referer', 'retry-after', 'server', 'user-agent', 'set-cookie', 'cookie'])

/**
 * Resolves a source's header names: defaults overridden by `overrides` (lowercased). `optional`
 * keys may be set to `false` (not forwarded). Throws on an unknown key, a bad or shared name.
 */
export function resolveHeaderNames<K extends string> (
  source: string,
  defaults: Readonly<Record<K, string | false>>,
  overrides: unknown,
  optional: readonly K[] = []
): Record<K, string | false> {
  if (overrides !== undefined && (overrides === null || typeof overrides !== 'object' || Array.isArray(overrides))) {
    throw new InvalidOptionError(`${source}: headers must be an object of header names`)
  }
  const out: Record<K, string | false> = { ...defaults }
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in defaults)) throw new InvalidOptionError(`${source}: unknown header key ${key} (use ${Object.keys(defaults).join(', ')})`)
    if (value === undefined) continue
    if (value === false && optional.includes(key as K)) {
      out[key as K] = false
      continue
    }
    if (typeof value !== 'string' || !TOKEN.test(value)) throw new InvalidOptionError(`${source}: headers.${key} must be an HTTP header name`)
    const name = value.toLowerCase()
    if (NODE_SPECIAL.has(name)) throw new InvalidOptionError(`${source}: header ${name} cannot carry certificates: Node merges or drops its repeated lines`)
    out[key as K] = name
  }
  const names = Object.values(out).filter((n) => n !== false)
  if (new Set(names).size !== names.length) throw new InvalidOptionError(`${source}: two headers share a name`)
  return out
}

/**
 * Reads the named headers out of `rawHeaders`, every line kept (a repeated line stays visible even
 * where Node would join the lines with ", "). Index i of the result is the lines of `names[i]`.
 * Cost: one pass over the request's headers, one lowercase per header line.
 */
export function createHeaderCollector (names: ReadonlyArray<string | false>): (rawHeaders: readonly string[]) => Array<string[] | undefined> {
  const index = new Map<string, number>()
  names.forEach((name, i) => { if (name !== false) index.set(name, i) })
  // Most request headers cannot be ours by length alone: no lowercase copy, no hash for them.
  const lengths = new Set([...index.keys()].map((n) => n.length))
  return (rawHeaders) => {
    const out: Array<string[] | undefined> = new Array(names.length)
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!
      if (!lengths.has(name.length)) continue
      const at = index.get(name.toLowerCase())
      if (at === undefined) continue
      const seen = out[at]
      if (seen === undefined) out[at] = [rawHeaders[i + 1]!]
      else seen.push(rawHeaders[i + 1]!)
    }
    return out
  }
}

/**
 * A singleton header (RFC 9110 5.3: a field that is not a list cannot be combined): absent, its
 * one line, or a refusal for a repeated line (`repeated-header`) or an oversized one.
 */
export function single (lines: readonly string[] | undefined, name: string, max: number): string | undefined | VerifyFailure {
  if (lines === undefined) return undefined
  if (lines.length > 1) return malformed('repeated-header', `the ${name} header appears more than once`)
  const value = lines[0]!
  if (value.length > max) return malformed('header-too-large', `${name} header of ${value.length} bytes exceeds maxHeaderBytes ${max}`)
  return value
}

/**
 * A list header (RFC 9110 5.3): its lines combined with ", ", within `max` bytes in total. The
 * size is summed before anything is joined, so thousands of lines cost one pass over their lengths.
 */
export function list (lines: readonly string[] | undefined, name: string, max: number): string | undefined | VerifyFailure {
  if (lines === undefined) return undefined
  let size = 2 * (lines.length - 1)
  for (const line of lines) {
    size += line.length
    if (size > max) return malformed('header-too-large', `${name} header lines exceed maxHeaderBytes ${max} together`)
  }
  return lines.length === 1 ? lines[0]! : lines.join(', ')
}

/**
 * Splits `text` at `separator` into at most `max` parts; null when there are more (counted with
 * indexOf before any part is cut, so a value of separators costs no array of empty strings).
 */
export function boundedSplit (text: string, separator: string, max: number): string[] | null {
  let count = 1
  for (let at = text.indexOf(separator); at !== -1; at = text.indexOf(separator, at + separator.length)) {
    if (++count > max) return null
  }
  return text.split(separator)
}

export function isFailure (value: unknown): value is VerifyFailure {
  return typeof value === 'object' && value !== null && (value as { ok?: unknown }).ok === false
}

/** Length-prefixed so no two different tuples make the same text (absent is `-`). */
export function cacheText (values: ReadonlyArray<string | undefined>): string {
  let out = ''
  for (const v of values) out += v === undefined ? '-' : `${v.length}:${v}`
  return out
}

const END = '-----END'

/**
 * The cache key slice of a certificate-carrying value: characters just before the first END
 * marker (PEM forms), else just before the end (base64 forms): the leaf's signature bytes.
 */
export function keySlice (value: string): string {
  const end = value.indexOf(END, 40)
  if (end !== -1) return value.slice(end - 40, end - 8)
  return value.length <= 48 ? value : value.slice(value.length - 40, value.length - 8)
}

/** A proxy-written reason, safe to log: printable ASCII, at most 200 characters. */
export function printable (text: string): string {
  return text.slice(0, 200).replace(/[^ -~]/g, '?')
}

/** Counts certificates against the limit: a refusal when there are too many. */
export function tooMany (count: number, limits: ReadLimits): VerifyFailure | null {
  return count > limits.maxCertificates
    ? malformed('too-many-certificates', `more than ${limits.maxCertificates} certificates in the headers`)
    : null
}
