/**
 * verify-mode: ALB verify mode. The load balancer validated the chain and sends five headers: serial
 * number (hex), issuer and subject (RFC 2253), validity (`NotBefore=...;NotAfter=...`) and the leaf
 * (URL-encoded PEM). The leaf is the source of truth: the identity is built from it, and the four
 * text headers must agree with it (a disagreement means someone rewrote headers on the way: 400).
 * Validity at `now`, every per-certificate structure rule passthrough applies to its leaf (malformed
 * or duplicate extensions, serial, names, critical extensions, key policy) and the leaf rules (EKU,
 * keyUsage, not a CA) are enforced again; `verifyChain`
 * also rebuilds and checks the path to configured roots as defence in depth.
 */
import type { Problem } from '../validation/checks.js'
import { decodeHeader } from '../sources/decode.js'
import type { LeafClaims } from '../sources/material.js'
import { buildIdentity } from '../identity.js'
import { CertificateParseError, parseCertificate, type ParsedCertificate } from '../x509/parse.js'
import { buildPath, checkLeafCertificate } from '../validation/path.js'
import { checkPathPolicies, leafPolicies } from '../validation/policies.js'
import { parseDistinguishedName, sameDistinguishedName } from '../x509/rfc2253.js'
import type { CertificateSource, ClientCertificate, TlsInfo, VerifierOptions, VerifyFailure, VerifyResult } from '../types.js'
import { cacheKey, Validations } from './cache.js'
import { failure, MAX_CERTIFICATE_BYTES, MISSING, resolveSettings, verdictValidFrom, verdictValidUntil, type Settings, type TrustMaterial, type Verdict, type VerifierStats } from './verifier.js'
import { InvalidOptionError } from '../errors.js'

/** One header as a header map holds it: absent, once, or repeated. */
export type HeaderValue = string | readonly string[] | undefined

/** The verify-mode headers of one request (see `readAlbVerifyHeaders`). */
export interface AlbVerifyValues {
  serialNumber?: HeaderValue
  issuer?: HeaderValue
  subject?: HeaderValue
  validity?: HeaderValue
  leaf?: HeaderValue
  tlsVersion?: HeaderValue
  cipherSuite?: HeaderValue
}

export interface AlbVerifyOptions extends Omit<VerifierOptions, 'roots'> {
  /** Needed only with `verifyChain` or `crls`. */
  roots?: VerifierOptions['roots']
  /**
   * Defence in depth: build and check the path leaf -> `intermediates` -> `roots` here as well, with
   * every passthrough-mode rule (signatures, CA constraints, key sizes, ...). Default false. Implied
   * by `crls`: revocation of the leaf and its intermediates is checked on that path.
   */
  verifyChain?: boolean
}

export interface AlbVerifyVerifier {
  /** Verifies the verify-mode headers of one request. */
  verify (values: AlbVerifyValues): Promise<VerifyResult>
  verifySync (values: AlbVerifyValues): VerifyResult
  /** Swaps the trust material atomically, as `Verifier.reload` does (and drops cached verdicts). */
  reload (material: TrustMaterial): void
  /** Counters: validations run, cache hits, and what the verdict cache holds. */
  stats (): VerifierStats
}

export type { LeafClaims }

export interface VerifyModeSettings extends Settings {
  verifyChain: boolean
}

export function resolveVerifyModeSettings (options: AlbVerifyOptions): VerifyModeSettings {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options must be an object')
  if (options.verifyChain !== undefined && typeof options.verifyChain !== 'boolean') throw new InvalidOptionError('verifyChain must be a boolean')
  // crlPolicy.onMissing 'reject' asks for revocation even with no CRL (then every path is refused).
  const hasCrls = (options.crls !== undefined && !(Array.isArray(options.crls) && options.crls.length === 0)) ||
    (options.crlPolicy !== null && typeof options.crlPolicy === 'object' && options.crlPolicy.onMissing === 'reject')
  // Revocation needs the path (the leaf's issuer, the intermediates) and trusted CRL issuers: roots.
  const verifyChain = options.verifyChain === true || hasCrls
  if (hasCrls && options.verifyChain !== true && (options.roots === undefined || (Array.isArray(options.roots) && options.roots.length === 0))) {
    throw new InvalidOptionError('crls in verify mode need roots (and intermediates) to find and check the CRL issuers: give the CA bundle of the ALB trust store')
  }
  const settings = resolveSettings(options as VerifierOptions, !verifyChain)
  return { ...settings, verifyChain }
}

function malformed (reason: 'repeated-header' | 'header-too-large' | 'incomplete-headers' | 'bad-encoding' | 'header-mismatch', message: string): VerifyFailure {
  return failure('FST_MTLS_CERT_MALFORMED', reason, message)
}

/**
 * One value per header: its text, undefined when absent, or the refusal. `commaFree` headers cannot
 * legitimately hold the ", " Node joins repeated lines with. No allocation unless refused: this runs
 * five times on every request.
 */
function single (value: HeaderValue, name: string, max: number, commaFree: boolean): string | undefined | VerifyResult {
  let text: string | undefined
  if (value === undefined || typeof value === 'string') text = value
  else if (value.length === 1) text = value[0]
  else if (value.length === 0) text = undefined
  else return malformed('repeated-header', `the ${name} header appears more than once`)
  if (text === undefined) return undefined
  if (text.length > max) return malformed('header-too-large', `${name} header of ${text.length} bytes exceeds maxHeaderBytes ${max}`)
  if (commaFree && text.includes(',')) return malformed('repeated-header', `the ${name} header appears more than once`)
  return text
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?Z$/

function isoSeconds (text: string): number | null {
  if (!ISO.test(text)) return null
  const ms = Date.parse(text)
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000)
}

/** `NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z` -> seconds, or null. */
export function parseValidity (text: string): { notBefore: number, notAfter: number } | null {
  const m = /^NotBefore=([^;]+);NotAfter=([^;]+)$/.exec(text.trim())
  if (m === null) return null
  const notBefore = isoSeconds(m[1]!)
  const notAfter = isoSeconds(m[2]!)
  return notBefore === null || notAfter === null ? null : { notBefore, notAfter }
}

/** Hex serial as ALB prints it (`03A5B1`), compared case-insensitively without leading zeros. */
export function normalizeSerial (text: string): string | null {
  if (!/^[0-9a-fA-F]{1,128}$/.test(text)) return null
  return text.toLowerCase().replace(/^0+/, '') || '0'
}

const TLS_TOKEN = /^[A-Za-z0-9._-]{1,100}$/

/** TLS version and cipher suite when present and well-formed; anything else is left out. */
export function tlsInfo (version: HeaderValue, cipherSuite: HeaderValue): TlsInfo | undefined {
  const v = typeof version === 'string' && TLS_TOKEN.test(version) ? version : undefined
  const c = typeof cipherSuite === 'string' && TLS_TOKEN.test(cipherSuite) ? cipherSuite : undefined
  if (v === undefined && c === undefined) return undefined
  return Object.freeze({ ...(v !== undefined ? { version: v } : {}), ...(c !== undefined ? { cipherSuite: c } : {}) })
}

/** The identity with `tls` added (identities are frozen: this makes a new one). */
export function withTls (certificate: ClientCertificate, tls: TlsInfo | undefined): ClientCertificate {
  return tls === undefined ? certificate : Object.freeze({ ...certificate, tls })
}

/**
 * Adds ALB's TLS headers to verified identities. ALB sends the same values on every request of a
 * client, so the identity with them is made once per identity and combination, not per request.
 */
export function createTlsAttacher (): (result: VerifyResult, version: HeaderValue, cipherSuite: HeaderValue) => VerifyResult {
  const memo = new WeakMap<ClientCertificate, { version: HeaderValue, cipherSuite: HeaderValue, result: VerifyResult }>()
  return (result, version, cipherSuite) => {
    if (!result.ok || (version === undefined && cipherSuite === undefined)) return result
    const known = memo.get(result.certificate)
    if (known !== undefined && known.version === version && known.cipherSuite === cipherSuite) return known.result
    const tls = tlsInfo(version, cipherSuite)
    const withInfo: VerifyResult = tls === undefined ? result : { ok: true, certificate: withTls(result.certificate, tls) }
    memo.set(result.certificate, { version, cipherSuite, result: withInfo })
    return withInfo
  }
}

/** The claims against the leaf: a syntax error or a disagreement, or null when they agree. */
export function crossCheckClaims (leaf: ParsedCertificate, claimed: LeafClaims): VerifyFailure | null {
  const serial = claimed.serialNumber === undefined
    ? undefined
    : normalizeSerial(claimed.serialColons === true ? colonFree(claimed.serialNumber.trim()) : claimed.serialNumber.trim())
  if (serial === null) return malformed('bad-encoding', 'serial number header is not hexadecimal')
  const issuer = claimed.issuer === undefined ? undefined : parseDistinguishedName(claimed.issuer)
  if (issuer === null) return malformed('bad-encoding', 'issuer header is not an RFC 2253 name')
  const subject = claimed.subject === undefined ? undefined : parseDistinguishedName(claimed.subject)
  if (subject === null) return malformed('bad-encoding', 'subject header is not an RFC 2253 name')
  const validity = claimed.validity === undefined ? undefined : parseValidity(claimed.validity)
  if (validity === null) return malformed('bad-encoding', 'validity header is not NotBefore=<ISO 8601>;NotAfter=<ISO 8601>')
  const sha256 = claimed.sha256 === undefined ? undefined : colonFree(claimed.sha256.trim()).toLowerCase()
  if (sha256 !== undefined && !/^[0-9a-f]{64}$/.test(sha256)) return malformed('bad-encoding', 'SHA-256 header is not 64 hex digits')

  const mismatch = (what: string): VerifyFailure => malformed('header-mismatch', `${what} header disagrees with the leaf certificate (possible header tampering)`)
  if (serial !== undefined && serial !== (leaf.serialNumber.replace(/^0+/, '') || '0')) return mismatch('serial number')
  if (issuer !== undefined && !sameDistinguishedName(issuer, leaf.issuer)) return mismatch('issuer')
  if (subject !== undefined && !sameDistinguishedName(subject, leaf.subject)) return mismatch('subject')
  if (validity !== undefined && (validity.notBefore !== Math.floor(leaf.notBefore.getTime() / 1000) ||
    validity.notAfter !== Math.floor(leaf.notAfter.getTime() / 1000))) return mismatch('validity')
  if (sha256 !== undefined && sha256 !== leaf.fingerprint256) return mismatch('SHA-256')
  for (const uri of claimed.uris ?? []) if (!(leaf.san?.uri ?? []).includes(uri)) return mismatch('URI')
  for (const dns of claimed.dnsNames ?? []) if (!(leaf.san?.dns ?? []).some((d) => d.toLowerCase() === dns.toLowerCase())) return mismatch('DNS')
  return null
}

/** `4a:3f:5c` -> `4a3f5c` when every group is two hex digits; anything else unchanged (then refused). */
function colonFree (text: string): string {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2})+$/.test(text) ? text.replaceAll(':', '') : text
}

/** The five verify-mode headers of one request, each read once. */
interface VerifyModeHeaders { leaf: string, serialNumber: string, issuer: string, subject: string, validity: string }

/** Reads the headers: a failure for a missing, repeated or oversized one, else their text. */
function readHeaders (settings: VerifyModeSettings, values: AlbVerifyValues): VerifyResult | VerifyModeHeaders {
  const max = settings.maxHeaderBytes
  const leaf = single(values.leaf, 'leaf', max, true)
  if (typeof leaf === 'object') return leaf
  const serialNumber = single(values.serialNumber, 'serial number', max, true)
  if (typeof serialNumber === 'object') return serialNumber
  const validity = single(values.validity, 'validity', max, true)
  if (typeof validity === 'object') return validity
  const issuer = single(values.issuer, 'issuer', max, false)
  if (typeof issuer === 'object') return issuer
  const subject = single(values.subject, 'subject', max, false)
  if (typeof subject === 'object') return subject
  if (leaf === undefined || leaf === '') {
    if (serialNumber === undefined && issuer === undefined && subject === undefined && validity === undefined) return MISSING
    return malformed('incomplete-headers', 'verify-mode headers without the leaf certificate header')
  }
  if (serialNumber === undefined || issuer === undefined || subject === undefined || validity === undefined) {
    return malformed('incomplete-headers', 'leaf certificate header without all of serial number, issuer, subject and validity')
  }
  return { leaf, serialNumber, issuer, subject, validity }
}

export function refused (result: VerifyResult): Verdict {
  return { result, validFrom: 0, validUntil: 0 }
}

/** Full check of one request's headers at `now` (the cache-miss path). The identity has no `tls` yet. */
function validateHeaders (settings: VerifyModeSettings, headers: VerifyModeHeaders, now: number): Verdict {
  const decoded = decodeHeader(headers.leaf, 1)
  if (!decoded.ok) return refused(failure('FST_MTLS_CERT_MALFORMED', decoded.reason, decoded.message))
  if (decoded.certificates[0]!.byteLength > MAX_CERTIFICATE_BYTES) {
    return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `the leaf is larger than ${MAX_CERTIFICATE_BYTES} bytes`))
  }
  let leaf: ParsedCertificate
  try {
    leaf = parseCertificate(decoded.certificates[0]!)
  } catch (err) {
    const detail = err instanceof CertificateParseError ? err.message : 'unreadable'
    return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `the leaf is not a valid X.509 certificate: ${detail}`))
  }

  return validateVerifiedLeaf(settings, leaf, headers, now, 'alb-verify')
}

/**
 * The check every verify-style source shares, once its leaf is parsed: the proxy's claims against
 * the leaf, then validity at `now` and the leaf rules, or (`verifyChain`) the whole path to `roots`.
 */
export function validateVerifiedLeaf (settings: VerifyModeSettings, leaf: ParsedCertificate, claims: LeafClaims, now: number, source: CertificateSource): Verdict {
  const inconsistent = crossCheckClaims(leaf, claims)
  if (inconsistent !== null) return refused(inconsistent)

  let path: ParsedCertificate[] = [leaf]
  let policies: readonly string[]
  if (settings.verifyChain) {
    const result = buildPath(leaf, settings.intermediates, settings.anchors, settings.policy, now, [settings.revocation.check, settings.policyRule])
    if (!result.ok) return refused(failure('FST_MTLS_CERT_INVALID', result.problem.reason, result.problem.message))
    path = result.path
    policies = leafPolicies(path, settings.policies)
  } else {
    // The same per-certificate rules passthrough applies to its leaf: a malformed or duplicated
    // extension refuses the leaf here too, never reads as absent or as its last copy.
    const problem: Problem | null = checkLeafCertificate(leaf, now, settings.policy)
    if (problem !== null) return refused(failure('FST_MTLS_CERT_INVALID', problem.reason, problem.message))
    // Only the leaf is at hand: its policies are processed as if its issuer were the anchor (the
    // CAs' policies, mappings and constraints are not seen; verifyChain processes the whole path).
    const outcome = checkPathPolicies(path, settings.policies, false)
    if (!outcome.ok) return refused(failure('FST_MTLS_CERT_INVALID', outcome.problem.reason, outcome.problem.message))
    policies = outcome.policies
  }
  return {
    result: { ok: true, certificate: buildIdentity(path, source, 'load-balancer', policies) },
    validFrom: verdictValidFrom(path, settings),
    validUntil: verdictValidUntil(path, settings)
  }
}

/**
 * The cache's "header" for one request: the five values, length-prefixed so no two different
 * tuples can make the same text. A hit therefore requires all five to equal the validated ones: a
 * rewritten issuer or subject next to a known leaf is checked again, never served from the cache.
 */
function cacheText (h: VerifyModeHeaders): string {
  return `${h.leaf.length}:${h.leaf}${h.serialNumber.length}:${h.serialNumber}${h.issuer.length}:${h.issuer}` +
    `${h.subject.length}:${h.subject}${h.validity.length}:${h.validity}`
}

/** Creates a framework-independent verifier for ALB verify-mode headers. */
export function createAlbVerifyVerifier (options: AlbVerifyOptions): AlbVerifyVerifier {
  let current = { ...options }
  let settings = resolveVerifyModeSettings(current)
  const validations = new Validations(options.cache)
  const validate = (headers: VerifyModeHeaders, now: number): Verdict => validateHeaders(settings, headers, now)
  const attachTls = createTlsAttacher()

  const verifySync = (values: AlbVerifyValues): VerifyResult => {
    try {
      if (values === null || typeof values !== 'object') return MISSING
      const headers = readHeaders(settings, values)
      if ('ok' in headers) return headers
      const result = validations.run(cacheKey(headers.leaf), cacheText(headers), settings.clock(), validate, headers)
      return attachTls(result, values.tlsVersion, values.cipherSuite)
    } catch (err) {
      return failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `unexpected error while reading the certificate: ${(err as Error).message}`)
    }
  }
  return {
    verifySync,
    verify: async (values) => verifySync(values),
    reload (material) {
      if (material === null || typeof material !== 'object') throw new InvalidOptionError('reload expects an object such as { roots }')
      const next = { ...current, ...material }
      const nextSettings = resolveVerifyModeSettings(next)
      current = next
      settings = nextSettings
      validations.clear()
    },
    stats: () => validations.stats()
  }
}
