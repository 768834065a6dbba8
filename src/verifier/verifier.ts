/**
 * verifier: `createVerifier(options)` turns raw ALB header text into a verified identity or a typed
 * failure. No Fastify here: usable from Express, Hono or a plain `http` server.
 */
import { cacheKey, Validations, type Verdict, type VerifierStats } from './cache.js'
import { EKU_OIDS } from '../validation/checks.js'
import { createRevocation, crlName, crlUsableAt, loadCrlMaterial, revocationBudget, type ParsedCrl, type Revocation } from '../validation/crl.js'
import { formatName } from '../x509/names.js'
import { decodeHeader } from '../sources/decode.js'
import { buildIdentity } from '../identity.js'
import { CertificateParseError, parseCertificate, parseIssuerCertificate, type ParsedCertificate } from '../x509/parse.js'
import { buildPath, type PathPolicy, type PathRule, type TrustAnchors } from '../validation/path.js'
import { leafPolicies, policyRule, resolvePolicyOptions, type PolicySettings } from '../validation/policies.js'
import { indexAnchors, loadCertificates } from '../trust/trust-store.js'
import type { CertificateSource, FailureReason, VerifierOptions, VerifyErrorCode, VerifyFailure, VerifyResult } from '../types.js'
import { InvalidOptionError, refuseUnknownSettings } from '../errors.js'

export interface Verifier {
  /** Verifies an `X-Amzn-Mtls-Clientcert` value (as received: URL-encoded PEM, leaf first). */
  verify (header: string | readonly string[] | undefined): Promise<VerifyResult>
  /** The same, synchronously (validation does no I/O). */
  verifySync (header: string | readonly string[] | undefined): VerifyResult
  /**
   * Swaps the trust material atomically. The new material is fully loaded and checked first: when it
   * is bad this throws and the old material stays in force. Calls already running finish on the old
   * set; the next call sees the new one.
   */
  reload (material: TrustMaterial): void
  /** Counters: validations run, cache hits, and what the verdict cache holds. */
  stats (): VerifierStats
}

/** What `reload` can replace. Omitted fields keep their current value. */
export type TrustMaterial = Partial<Pick<VerifierOptions, 'roots' | 'intermediates' | 'crls'>>

export interface Settings {
  policy: PathPolicy
  maxHeaderBytes: number
  maxCertificates: number
  now: () => Date
  /** The same clock in epoch milliseconds, without a Date per call when `now` is not set. */
  clock: () => number
  anchors: TrustAnchors
  /** Configured (untrusted) intermediates, offered to path building after the header's own. */
  intermediates: readonly ParsedCertificate[]
  revocation: Revocation
  /** True when CRLs are configured. */
  hasCrls: boolean
  /** Certificate policy inputs (option `policies`) and the path rule applying them (RFC 5280 6.1). */
  policies: PolicySettings
  policyRule: PathRule
}

/**
 * No client certificate comes near this (ALB caps the whole header at 16 KB); parsing a crafted
 * giant one (thousands of names, x509-limbo `nc-dos`) costs the ASN.1 parser hundreds of ms.
 */
export const MAX_CERTIFICATE_BYTES = 32 * 1024

export const MISSING: VerifyFailure = Object.freeze({ ok: false, code: 'FST_MTLS_CERT_MISSING', reason: 'missing', message: 'no client certificate' })

export type { Verdict, VerifierStats }

export function failure (code: VerifyErrorCode, reason: FailureReason, message: string): VerifyFailure {
  return { ok: false, code, reason, message }
}

function integerOption (value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${name} must be an integer from ${min} to ${max}`)
  }
  return value
}

function ekuOption (value: VerifierOptions['extendedKeyUsage'], allowAny: boolean): readonly string[] | false {
  if (value === undefined) return [EKU_OIDS.clientAuth!]
  if (value === false) return false
  if (!Array.isArray(value)) throw new InvalidOptionError('extendedKeyUsage must be an array of EKU names or OIDs, or false')
  const oids = value.map((name: unknown) => {
    if (typeof name === 'string' && EKU_OIDS[name] !== undefined) return EKU_OIDS[name]
    if (typeof name === 'string' && /^\d+(\.\d+)+$/.test(name)) return name
    throw new InvalidOptionError(`extendedKeyUsage: unknown usage ${String(name)} (use ${Object.keys(EKU_OIDS).join(', ')} or a dotted OID)`)
  })
  if (!allowAny && oids.includes(EKU_OIDS.anyExtendedKeyUsage!)) {
    // Requiring a usage that is refused on sight would accept only leaves without the extension.
    throw new InvalidOptionError('extendedKeyUsage: anyExtendedKeyUsage cannot be required while leaves carrying it are refused (set allowAnyExtendedKeyUsage: true)')
  }
  return oids
}

interface CrlPolicy { onExpired: 'reject' | 'ignore', onMissing: 'allow' | 'reject', requireCrlNumber: boolean }

function crlPolicyOption (value: VerifierOptions['crlPolicy']): CrlPolicy {
  if (value === undefined) return { onExpired: 'reject', onMissing: 'allow', requireCrlNumber: true }
  if (value === null || typeof value !== 'object' || (value.onExpired !== undefined && value.onExpired !== 'reject' && value.onExpired !== 'ignore') ||
    (value.onMissing !== undefined && value.onMissing !== 'allow' && value.onMissing !== 'reject') ||
    (value.requireCrlNumber !== undefined && typeof value.requireCrlNumber !== 'boolean')) {
    throw new InvalidOptionError("crlPolicy must be { onExpired?: 'reject' | 'ignore', onMissing?: 'allow' | 'reject', requireCrlNumber?: boolean }")
  }
  refuseUnknownSettings(value, ['onExpired', 'onMissing', 'requireCrlNumber'], 'crlPolicy')
  return { onExpired: value.onExpired ?? 'reject', onMissing: value.onMissing ?? 'allow', requireCrlNumber: value.requireCrlNumber ?? true }
}

/** A CRL that cannot be used now is a configuration error, said at load time rather than per request. */
function rejectUnusableCrls (crls: readonly ParsedCrl[], now: number, { onExpired, requireCrlNumber }: CrlPolicy): void {
  for (const crl of crls) {
    // RFC 5280 5.2.3: conforming issuers MUST include cRLNumber (x509-limbo crl::crlnumber-missing).
    // 6.3.3 can use a complete CRL without it, so an operator whose CA omits it may opt in.
    if (crl.crlNumber === null && requireCrlNumber) {
      throw new InvalidOptionError(`crls: ${crlName(crl)} of ${formatName(crl.issuer)} has no cRLNumber (RFC 5280 5.2.3); ` +
        'for a CA that omits it (v1 CRLs, openssl ca -gencrl without a crlnumber file) set crlPolicy: { requireCrlNumber: false }')
    }
    const problem = crlUsableAt(crl, now)
    if (problem === null || (problem.reason === 'stale' && onExpired === 'ignore')) continue
    const issuer = formatName(crl.issuer)
    throw new InvalidOptionError(`crls: ${crlName(crl)} of ${issuer} cannot be used now: ${problem.message}` +
      (problem.reason === 'stale' ? " (publish a fresh CRL, or set crlPolicy: { onExpired: 'ignore' })" : ''))
  }
}

/**
 * Validates options up front: a mistake throws here, never at request time. `rootsOptional` is for
 * ALB verify mode, where the load balancer already validated the chain.
 */
export function resolveSettings (options: VerifierOptions, rootsOptional = false): Settings {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options must be an object')
  const noRoots = options.roots === undefined || (Array.isArray(options.roots) && options.roots.length === 0)
  if (noRoots && !rootsOptional) {
    throw new InvalidOptionError('roots is required: the CA certificates client certificates must chain to')
  }
  const roots = noRoots ? [] : loadCertificates(options.roots, 'roots')
  if (roots.length === 0 && !noRoots) throw new InvalidOptionError('roots holds no certificate')
  const intermediates = options.intermediates === undefined ? [] : loadCertificates(options.intermediates, 'intermediates')
  if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError('now must be a function returning a Date')
  if (options.clockTolerance !== undefined && (typeof options.clockTolerance !== 'number' || !(options.clockTolerance >= 0) || options.clockTolerance > 86400)) {
    throw new InvalidOptionError('clockTolerance must be a number of seconds from 0 to 86400')
  }
  const maxChainDepth = integerOption(options.maxChainDepth, 'maxChainDepth', 4, 0, 16)
  if (options.allowAnyExtendedKeyUsage !== undefined && typeof options.allowAnyExtendedKeyUsage !== 'boolean') {
    throw new InvalidOptionError('allowAnyExtendedKeyUsage must be a boolean')
  }
  const allowAnyExtendedKeyUsage = options.allowAnyExtendedKeyUsage === true
  const policy: PathPolicy = {
    clockToleranceMs: (options.clockTolerance ?? 0) * 1000,
    ignoreExpiry: options.ignoreExpiry === true,
    extendedKeyUsage: ekuOption(options.extendedKeyUsage, allowAnyExtendedKeyUsage),
    allowAnyExtendedKeyUsage,
    maxChainDepth,
    minRsaKeyBits: integerOption(options.minRsaKeyBits, 'minRsaKeyBits', 2048, 1024, 16384),
    allowSha1: options.allowSha1 === true
  }
  const policies = resolvePolicyOptions(options.policies)
  const crlPolicy = crlPolicyOption(options.crlPolicy)
  const { onExpired, onMissing } = crlPolicy
  const now = options.now ?? (() => new Date())
  const { crls, certificates: crlCertificates } = loadCrlMaterial(options.crls)
  rejectUnusableCrls(crls, now().getTime(), crlPolicy)
  return {
    policy,
    // CRLs of configured roots are verified at load; the others when a path needs them (RFC 5280 6.3).
    revocation: createRevocation(crls, [...roots, ...intermediates], policy, { onExpired, onMissing, certificates: crlCertificates, anchors: roots }),
    hasCrls: crls.length > 0,
    maxHeaderBytes: integerOption(options.maxHeaderBytes, 'maxHeaderBytes', 16384, 256, 1 << 20),
    // leaf + intermediates + the root, which clients may include.
    maxCertificates: maxChainDepth + 2,
    now,
    clock: options.now === undefined ? Date.now : () => now().getTime(),
    anchors: indexAnchors(roots),
    intermediates,
    policies,
    policyRule: policyRule(policies)
  }
}

/**
 * Latest time a successful verdict may be reused: the earliest notAfter on the path (plus the
 * tolerance the expiry check grants), and the earliest nextUpdate of the CRLs that applied to it.
 */
export function verdictValidUntil (path: readonly ParsedCertificate[], settings: Settings): number {
  let until = settings.revocation.validUntil(path)
  if (settings.policy.ignoreExpiry) return until
  for (const cert of path) until = Math.min(until, cert.notAfter.getTime() + settings.policy.clockToleranceMs)
  return until
}

/** Earliest time a successful verdict may be reused: the latest notBefore on the path, less the tolerance. */
export function verdictValidFrom (path: readonly ParsedCertificate[], settings: Settings): number {
  let from = Number.NEGATIVE_INFINITY
  for (const cert of path) from = Math.max(from, cert.notBefore.getTime() - settings.policy.clockToleranceMs)
  return from
}

function reject (result: VerifyFailure): Verdict {
  return { result, validFrom: 0, validUntil: 0 }
}

/** Full validation of one header at `now` (epoch ms): the cache-miss path. */
export function validate (settings: Settings, header: string | readonly string[] | undefined, now: number): Verdict {
  if (header === undefined) return reject(MISSING)
  if (typeof header !== 'string') {
    // Node joins repeated custom headers with ", " but some layers hand an array: never pick one.
    return reject(failure('FST_MTLS_CERT_MALFORMED', 'repeated-header', 'the certificate header appears more than once'))
  }
  if (header.length === 0) return reject(MISSING)
  if (header.length > settings.maxHeaderBytes) {
    return reject(failure('FST_MTLS_CERT_MALFORMED', 'header-too-large', `header of ${header.length} bytes exceeds maxHeaderBytes ${settings.maxHeaderBytes}`))
  }
  if (header.includes(',')) {
    return reject(failure('FST_MTLS_CERT_MALFORMED', 'repeated-header', 'the certificate header appears more than once'))
  }
  const decoded = decodeHeader(header, settings.maxCertificates)
  if (!decoded.ok) return reject(failure('FST_MTLS_CERT_MALFORMED', decoded.reason, decoded.message))
  return validateChain(settings, decoded.certificates, now, 'alb-passthrough')
}

/**
 * The validator every chain-carrying source shares: DER certificates as the proxy forwarded them
 * (leaf first, the rest a hint) -> parse -> path to a configured root (RFC 5280 6.1) -> identity.
 * `check` runs on the parsed leaf before path building (a source's cross-check of its own claims).
 */
export function validateChain (
  settings: Settings,
  certificates: readonly Uint8Array[],
  now: number,
  source: CertificateSource,
  check?: (leaf: ParsedCertificate) => VerifyFailure | null
): Verdict {
  const parsed: ParsedCertificate[] = []
  for (const [i, der] of certificates.entries()) {
    if (der.byteLength > MAX_CERTIFICATE_BYTES) {
      return reject(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `certificate ${i + 1} is larger than ${MAX_CERTIFICATE_BYTES} bytes`))
    }
    try {
      // Issuers repeat across clients: parsed once per distinct DER. The leaf is new each time.
      parsed.push(i === 0 ? parseCertificate(der) : parseIssuerCertificate(der))
    } catch (err) {
      const detail = err instanceof CertificateParseError ? err.message : 'unreadable'
      return reject(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `certificate ${i + 1} is not a valid X.509 certificate: ${detail}`))
    }
  }
  const [leaf, ...intermediates] = parsed as [ParsedCertificate, ...ParsedCertificate[]]
  const inconsistent = check?.(leaf) ?? null
  if (inconsistent !== null) return reject(inconsistent)
  const candidates = settings.intermediates.length === 0
    ? intermediates
    : [...intermediates, ...settings.intermediates.filter((c) => !intermediates.some((h) => h.fingerprint256 === c.fingerprint256))]
  // The request's chain may carry CRL signers (RFC 5280 6.3.3 (f)): offered to revocation too.
  const budget = revocationBudget()
  const revocationRule = (path: readonly ParsedCertificate[], t: number): ReturnType<Revocation['check']> => settings.revocation.check(path, t, candidates, budget)
  const result = buildPath(leaf, candidates, settings.anchors, settings.policy, now, [revocationRule, settings.policyRule])
  if (!result.ok) return reject(failure('FST_MTLS_CERT_INVALID', result.problem.reason, result.problem.message))
  return {
    result: { ok: true, certificate: buildIdentity(result.path, source, 'fastify-alb-mtls', leafPolicies(result.path, settings.policies)) },
    validFrom: verdictValidFrom(result.path, settings),
    validUntil: verdictValidUntil(result.path, settings)
  }
}

/**
 * Creates a framework-independent verifier for ALB passthrough headers.
 *
 * Verdicts are cached (see cache.ts): a hit costs a short key slice, one map lookup and one string
 * comparison. Validation itself is synchronous, so concurrent requests with the same new header
 * cannot overlap: the first one validates and stores the verdict before any other is looked up
 * (single flight, also for `verify()`, whose promise is created after the synchronous work).
 */
export function createVerifier (options: VerifierOptions): Verifier {
  let current = { ...options }
  let settings = resolveSettings(current)
  const validations = new Validations(options.cache)

  const validateGuarded = (header: string | readonly string[] | undefined, now: number): Verdict => {
    try {
      return validate(settings, header, now)
    } catch (err) {
      // Defence in depth: a parser bug on hostile input must refuse, never accept or crash.
      return reject(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `unexpected error while reading the certificate: ${(err as Error).message}`))
    }
  }

  const verifySync = (header: string | readonly string[] | undefined): VerifyResult => {
    const now = settings.clock()
    if (typeof header === 'string' && header.length !== 0 && header.length <= settings.maxHeaderBytes) {
      return validations.run(cacheKey(header), header, now, validateGuarded, header)
    }
    return validations.uncached(validateGuarded, header, now)
  }

  return {
    verifySync,
    verify: async (header) => verifySync(header),
    reload (material) {
      if (material === null || typeof material !== 'object') throw new InvalidOptionError('reload expects an object such as { roots, crls }')
      const next = { ...current, ...material }
      const nextSettings = resolveSettings(next)
      current = next
      settings = nextSettings
      validations.clear()
    },
    stats: () => validations.stats()
  }
}
