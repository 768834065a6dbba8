/**
 * source-verifier: one verifier for every source other than ALB's two modes. The source reads the
 * request (sources/); this decides. A chain goes through the validator every chain-carrying source
 * shares (`validateChain`: parse, path to `roots`, RFC 5280 checks); a proxy-verified leaf goes
 * through the check every verify-style source shares (`validateVerifiedLeaf`: the proxy's claims
 * against the leaf, validity and leaf rules, or the whole path with `verifyChain`). Verdicts are
 * cached on the exact text the source read. No Fastify here.
 */
import { CertificateParseError, parseCertificate, type ParsedCertificate } from '../x509/parse.js'
import type { ReadLimits, SourceReader, SourceRequest, Material, Decoded } from '../sources/material.js'
import { apiGatewaySource, type ApiGatewayEvent } from '../sources/api-gateway.js'
import type { VerifyResult } from '../types.js'
import { InvalidOptionError } from '../errors.js'
import { Validations } from './cache.js'
import { failure, MAX_CERTIFICATE_BYTES, MISSING, validateChain, type TrustMaterial, type Verdict, type VerifierStats } from './verifier.js'
import { crossCheckClaims, refused, resolveVerifyModeSettings, validateVerifiedLeaf, type AlbVerifyOptions, type VerifyModeSettings } from './verify-mode.js'

/** Options of a source verifier: every verifier option; `roots` required when the source's chain is validated here. */
export type SourceVerifierOptions = AlbVerifyOptions

export interface SourceVerifier<R = SourceRequest> {
  /** The source's reader (what the plugin calls before the trusted-proxy decision). */
  readonly reader: SourceReader<R>
  /** Reads the certificate material of one request (no validation yet). */
  read (request: R): Material
  /** Decides on material read by `read` (cached). */
  check (material: Material): VerifyResult
  /**
   * The certificates `material` carries (DER, leaf first), unverified, for a refusal log line: the
   * material is decoded again, so call it on a refusal only, never to decide. Null when there is
   * none or it does not decode; never throws.
   */
  presented (material: Material): readonly Uint8Array[] | null
  /** `check(read(request))`. */
  verifySync (request: R): VerifyResult
  verify (request: R): Promise<VerifyResult>
  /** Swaps the trust material atomically, as `Verifier.reload` does. */
  reload (material: TrustMaterial): void
  stats (): VerifierStats
}

function hasRoots (options: SourceVerifierOptions): boolean {
  return options.roots !== undefined && !(Array.isArray(options.roots) && options.roots.length === 0)
}

function decide (settings: VerifyModeSettings, decoded: Decoded, now: number, source: SourceReader<unknown>['name']): Verdict {
  if ('ok' in decoded) return refused(decoded)
  if (decoded.kind === 'chain') {
    if (decoded.certificates.length === 0) return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-pem', 'no certificate'))
    if (decoded.certificates.length > settings.maxCertificates) {
      return refused(failure('FST_MTLS_CERT_MALFORMED', 'too-many-certificates', `more than ${settings.maxCertificates} certificates`))
    }
    const claims = decoded.claims
    return validateChain(settings, decoded.certificates, now, source, claims === undefined ? undefined : (leaf) => crossCheckClaims(leaf, claims))
  }
  if (decoded.leaf.byteLength > MAX_CERTIFICATE_BYTES) {
    return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `the leaf is larger than ${MAX_CERTIFICATE_BYTES} bytes`))
  }
  let leaf: ParsedCertificate
  try {
    leaf = parseCertificate(decoded.leaf)
  } catch (err) {
    const detail = err instanceof CertificateParseError ? err.message : 'unreadable'
    return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `the leaf is not a valid X.509 certificate: ${detail}`))
  }
  return validateVerifiedLeaf(settings, leaf, decoded.claims, now, source)
}

/**
 * Creates a verifier for one source. `reader` is made from the options (it needs to know whether
 * roots are configured): pass a factory.
 */
export function createSourceVerifier<R> (makeReader: (context: { validates: boolean }) => SourceReader<R>, options: SourceVerifierOptions): SourceVerifier<R> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options must be an object')
  // Whether nginx/GCP/Cloudflare validate the chain here rather than believe the proxy's flag.
  // Sticky: roots added by a reload switch validation on; roots removed later never switch it off
  // (the chain then fails closed as untrusted instead of falling back to the proxy's word).
  let validates = hasRoots(options)
  const reader = makeReader({ get validates () { return validates } })
  const resolve = (opts: SourceVerifierOptions): VerifyModeSettings => {
    if (reader.needsRoots && !hasRoots(opts)) {
      throw new InvalidOptionError(`roots is required with source ${reader.name}: the proxy forwards certificates it does not vouch for, so the chain is validated here`)
    }
    return resolveVerifyModeSettings(opts)
  }
  let current = { ...options }
  let settings = resolve(current)
  const validations = new Validations(options.cache)
  const limits = (): ReadLimits => ({ maxHeaderBytes: settings.maxHeaderBytes, maxCertificates: settings.maxCertificates })
  let readLimits = limits()

  const run = (material: Material & { kind: 'present' }, now: number): Verdict => {
    try {
      return decide(settings, material.decode(), now, reader.name)
    } catch (err) {
      // Defence in depth: a parser bug on hostile input must refuse, never accept or crash.
      return refused(failure('FST_MTLS_CERT_MALFORMED', 'bad-der', `unexpected error while reading the certificate: ${(err as Error).message}`))
    }
  }

  const read = (request: R): Material => {
    try {
      return reader.read(request, readLimits)
    } catch (err) {
      return { kind: 'refused', failure: failure('FST_MTLS_CERT_MALFORMED', 'bad-encoding', `unexpected error while reading the request: ${(err as Error).message}`) }
    }
  }
  const check = (material: Material): VerifyResult => {
    if (material.kind === 'absent') return MISSING
    if (material.kind === 'refused') return material.failure
    return validations.run(material.key, material.text, settings.clock(), run, material)
  }
  const presented = (material: Material): readonly Uint8Array[] | null => {
    const decode = material.kind === 'present' ? material.decode : material.kind === 'refused' ? material.claimed : undefined
    if (decode === undefined) return null
    try {
      const decoded = decode()
      if ('ok' in decoded) return null
      return decoded.kind === 'chain' ? (decoded.certificates.length === 0 ? null : decoded.certificates) : [decoded.leaf]
    } catch {
      return null
    }
  }
  return {
    reader,
    read,
    check,
    presented,
    verifySync: (request) => check(read(request)),
    verify: async (request) => check(read(request)),
    reload (material) {
      if (material === null || typeof material !== 'object') throw new InvalidOptionError('reload expects an object such as { roots, crls }')
      const next = { ...current, ...material }
      const nextSettings = resolve(next)
      current = next
      settings = nextSettings
      validates ||= hasRoots(next)
      readLimits = limits()
      validations.clear()
    },
    stats: () => validations.stats()
  }
}

/**
 * A framework-free verifier for Amazon API Gateway mutual TLS: give it the Lambda event. API Gateway
 * validated the chain against its truststore; the leaf it forwards is checked again here (validity,
 * leaf rules, its serial number; the whole path to `roots` with `verifyChain`).
 *
 * ```ts
 * const verifier = createApiGatewayVerifier({})
 * export const handler = async (event) => {
 *   const result = verifier.verifySync(event)
 *   if (!result.ok) return { statusCode: result.code === 'FST_MTLS_CERT_MALFORMED' ? 400 : 401 }
 *   return { statusCode: 200, body: result.certificate.subject }
 * }
 * ```
 */
export function createApiGatewayVerifier (options: SourceVerifierOptions = {}): SourceVerifier<ApiGatewayEvent> {
  return createSourceVerifier(() => apiGatewaySource(), options)
}
