/**
 * plugin: Fastify glue only. Options, one onRequest hook, `request.clientCert`, error mapping, logs.
 */
import type { FastifyError } from '@fastify/error'
import type { FastifyInstance, FastifyPluginCallback, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { createVerifier, type TrustMaterial, type Verifier } from '../verifier/verifier.js'
import { createAlbVerifyVerifier, createTlsAttacher, type AlbVerifyOptions, type AlbVerifyValues, type AlbVerifyVerifier } from '../verifier/verify-mode.js'
import type { ClientCertificate, TrustSource, VerifierOptions, VerifyFailure, VerifyResult } from '../types.js'
import { CertInvalidError, CertMalformedError, CertMissingError, InvalidOptionError, TrustStaleError } from '../errors.js'
import { authorize as applyRules, compileRules, type ClientCertRules, type CompiledRules } from './guards.js'
import { readAlbVerifyRawHeaders, resolveVerifyHeaderNames, type AlbVerifyHeaderNames } from '../sources/alb-verify.js'
import { compileTrustedProxies, type TrustedProxies } from '../sources/trusted-proxies.js'
import { refusalFields } from './refusal-log.js'
import { refusedChannel, verifiedChannel, type MtlsRefusedMessage, type MtlsVerifiedMessage } from './diagnostics.js'
import { checkOptionNames, checkRegisteredOnce } from './options-check.js'
import { logAnchors } from './startup-log.js'
import { albModeOf, type SourceOption } from '../sources/index.js'
import type { SourceVerifier } from '../verifier/source-verifier.js'
import { createSourceCheck } from './source-check.js'

interface CommonPluginOptions {
  /** Refuse requests without a certificate (401). Default true; a route may override with `config.mtls.required`. */
  required?: boolean
  /** Peers allowed to send the headers. Default: loopback and private ranges. Matched once per connection (a function is called once per socket). */
  trustedProxies?: TrustedProxies
  /**
   * Names of the verify-mode headers and of the TLS headers (`tlsVersion`, `cipherSuite`, read in
   * both modes), for listeners that rename them with ALB's header modification. Defaults: ALB's names.
   */
  verifyHeaders?: Partial<AlbVerifyHeaderNames>
  /**
   * Authorization rules (as for `requireClientCert`) applied to every request that carries a verified
   * certificate, in this plugin's onRequest hook. A route opts out with `config.mtls.authorize: false`.
   */
  authorize?: ClientCertRules
  /**
   * Trust material followed from elsewhere (`createS3TrustStore` of `fastify-alb-mtls/s3`): its
   * material replaces `roots`/`intermediates`/`crls`, its updates reload the verifier, and while it
   * reports the material too old an accepted certificate is refused (`FST_MTLS_TRUST_STALE`, 503).
   */
  trustSource?: TrustSource
}

/** ALB mutual TLS passthrough: the whole chain in one header, validated here. */
export interface PassthroughPluginOptions extends VerifierOptions, CommonPluginOptions {
  mode?: 'passthrough'
  /** Where the certificate comes from; `'alb-passthrough'` is the default. */
  source?: 'alb-passthrough'
  /** Header carrying the chain. Default `x-amzn-mtls-clientcert`. */
  header?: string
}

/** ALB mutual TLS verify: ALB validated the chain; the leaf and four headers describing it arrive. */
export interface VerifyPluginOptions extends AlbVerifyOptions, CommonPluginOptions {
  mode: 'verify'
  source?: 'alb-verify'
}

/** ALB verify mode spelled as a source (`mode: 'verify'` is the same). */
export interface AlbVerifySourcePluginOptions extends AlbVerifyOptions, CommonPluginOptions {
  source: 'alb-verify'
  mode?: 'verify'
}

/**
 * Any other proxy (CloudFront, RFC 9440, Envoy XFCC, nginx, Traefik, Google Cloud, Cloudflare,
 * base64 DER headers, Node's own TLS, a custom extractor): see the README section "Sources".
 * `roots` is required when the chain is validated here (every source but CloudFront, and nginx, GCP
 * and Cloudflare when their verification flag is forwarded).
 */
export interface SourcePluginOptions extends AlbVerifyOptions, CommonPluginOptions {
  source: Exclude<SourceOption, 'alb-passthrough' | 'alb-verify'>
  mode?: undefined
}

export type MtlsPluginOptions = PassthroughPluginOptions | VerifyPluginOptions | AlbVerifySourcePluginOptions | SourcePluginOptions

/** Per-route settings, under the route's `config.mtls`. */
export interface MtlsRouteConfig {
  /** Overrides the plugin's `required` for this route. */
  required?: boolean
  /** `false`: the plugin-level `authorize` rules do not apply to this route (route guards still do). */
  authorize?: false
}

export interface MtlsDecorator {
  /** The verifier the plugin uses (shares its options): a `Verifier` in passthrough mode, an `AlbVerifyVerifier` in verify mode. */
  readonly verifier: Verifier | AlbVerifyVerifier | SourceVerifier<any>
  /** Swaps the trust material without a restart; see Verifier.reload. */
  reload (material: TrustMaterial): void
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified client certificate, or null when none was presented and the route allows that. */
    clientCert: ClientCertificate | null
  }
  interface FastifyInstance {
    mtls: MtlsDecorator
  }
  interface FastifyContextConfig {
    mtls?: MtlsRouteConfig
  }
}

type VerifyErrorCtor = new () => FastifyError

const ERRORS: Record<VerifyFailure['code'], VerifyErrorCtor> = {
  FST_MTLS_CERT_MISSING: CertMissingError,
  FST_MTLS_CERT_MALFORMED: CertMalformedError,
  FST_MTLS_CERT_INVALID: CertInvalidError
}

/** The error a refused request ends with; `reason` is for logs and error handlers, never serialized. */
export function errorFor (result: VerifyFailure): FastifyError & { reason: string } {
  const err = new ERRORS[result.code]() as FastifyError & { reason: string }
  Object.defineProperty(err, 'reason', { value: result.reason, enumerable: false })
  return err
}

/**
 * Headers Node's HTTP parser keeps only the first line of (node:_http_incoming): a repeated line
 * would be dropped silently instead of refused, so they cannot carry the certificate.
 */
const FIRST_WINS = new Set(['age', 'authorization', 'content-length', 'content-type', 'etag', 'expires', 'from', 'host',
  'if-modified-since', 'if-unmodified-since', 'last-modified', 'location', 'max-forwards', 'proxy-authorization',
  'referer', 'retry-after', 'server', 'user-agent', 'set-cookie', 'cookie'])

function headerName (value: unknown): string {
  if (value === undefined) return 'x-amzn-mtls-clientcert'
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new InvalidOptionError('header must be an HTTP header name')
  }
  const name = value.toLowerCase()
  if (FIRST_WINS.has(name)) throw new InvalidOptionError(`header ${name} cannot carry certificates: Node merges or drops its repeated lines`)
  return name
}

/** Checks a route's `config.mtls` when the route is declared, so a typo fails at startup. */
function checkRouteConfig (config: unknown, url: string): void {
  if (config === undefined) return
  const fail = (message: string): never => { throw new InvalidOptionError(`route ${url}: config.mtls${message}`) }
  if (typeof config !== 'object' || config === null) fail(' must be an object')
  for (const [key, value] of Object.entries(config as Record<string, unknown>)) {
    if (key === 'required') {
      if (typeof value !== 'boolean') fail('.required must be a boolean')
    } else if (key === 'authorize') {
      if (value !== false) fail('.authorize can only be false (route rules go in requireClientCert)')
    } else {
      fail(`.${key} is not a setting (required, authorize)`)
    }
  }
}

function routeRequired (request: FastifyRequest, fallback: boolean): boolean {
  const required = request.routeOptions.config.mtls?.required
  return typeof required === 'boolean' ? required : fallback
}

const plugin: FastifyPluginCallback<MtlsPluginOptions> = (fastify, options, done) => {
  try {
    register(fastify, options)
  } catch (err) {
    done(err as Error)
    return
  }
  done()
}

function register (fastify: FastifyInstance, options: MtlsPluginOptions): void {
  checkRegisteredOnce(fastify)
  if (options !== null && typeof options === 'object') checkOptionNames(options)
  // `source` selects the proxy format; ALB's two keep `mode` as their spelling.
  const source = options.source
  const albMode = source === undefined ? null : albModeOf(source)
  if (albMode !== null && options.mode !== undefined && options.mode !== albMode) throw new InvalidOptionError(`mode ${String(options.mode)} contradicts source ${String(source)}`)
  if (source !== undefined && albMode === null && options.mode !== undefined) throw new InvalidOptionError('mode is for ALB only: leave it out with another source')
  const mode = options.mode ?? albMode ?? 'passthrough'
  if (mode !== 'passthrough' && mode !== 'verify') throw new InvalidOptionError("mode must be 'passthrough' or 'verify'")
  const names = resolveVerifyHeaderNames(options.verifyHeaders)
  const trusted = compileTrustedProxies(options.trustedProxies)
  // A socket's peer address never changes: match it once per connection, not once per request
  // (matching parses the address, which costs more than a whole verdict-cache hit).
  const peers = new WeakMap<object, boolean>()
  const trustedPeer = (socket: FastifyRequest['socket']): boolean => {
    let ok = peers.get(socket)
    if (ok === undefined) {
      ok = trusted(socket.remoteAddress)
      peers.set(socket, ok)
    }
    return ok
  }
  if (options.required !== undefined && typeof options.required !== 'boolean') throw new InvalidOptionError('required must be a boolean')
  const required = options.required !== false
  const rules: CompiledRules | null = options.authorize === undefined ? null : compileRules(options.authorize, 'authorize')
  const trust = options.trustSource
  if (trust !== undefined && (trust === null || typeof trust.current !== 'function' || typeof trust.follow !== 'function' || typeof trust.staleness !== 'function')) {
    throw new InvalidOptionError('trustSource must be a trust source such as createS3TrustStore() returns')
  }
  // The trust source's material wins over roots/intermediates/crls given beside it.
  if (trust !== undefined) options = { ...options, ...trust.current() } as MtlsPluginOptions

  let verifier: Verifier | AlbVerifyVerifier | SourceVerifier<any>
  let check: (request: FastifyRequest) => VerifyResult
  // What a refusal log line reads the client's claimed leaf from (see refusalFields): ALB's
  // certificate header, or the material another source read. Called on refusals only.
  let presentedOf: (request: FastifyRequest) => unknown
  if (source !== undefined && albMode === null) {
    for (const albOnly of ['header', 'verifyHeaders']) {
      if ((options as unknown as Record<string, unknown>)[albOnly] !== undefined) throw new InvalidOptionError(`${albOnly} is for ALB: name another source's headers with source: { name, headers }`)
    }
    const sourceCheck = createSourceCheck(source, options, trustedPeer)
    verifier = sourceCheck.verifier
    check = sourceCheck.check
    presentedOf = sourceCheck.refusedMaterial
  } else if (mode === 'verify') {
    presentedOf = (request) => request.headers[names.leaf]
    const verifyVerifier = createAlbVerifyVerifier(options as AlbVerifyOptions)
    verifier = verifyVerifier
    check = (request) => {
      let values: AlbVerifyValues = readAlbVerifyRawHeaders(request.raw.rawHeaders, names)
      if (!trustedPeer(request.socket) && Object.values(values).some((v) => v !== undefined)) {
        request.log.warn({ mtls: { remoteAddress: request.socket.remoteAddress } }, 'mtls: certificate headers from an untrusted peer ignored')
        values = {}
      }
      return verifyVerifier.verifySync(values)
    }
  } else {
    const attachTls = createTlsAttacher()
    const passthrough = createVerifier(options as PassthroughPluginOptions)
    const header = headerName((options as PassthroughPluginOptions).header)
    presentedOf = (request) => request.headers[header]
    verifier = passthrough
    check = (request) => {
      let value = request.headers[header]
      const isTrusted = trustedPeer(request.socket)
      if (value !== undefined && !isTrusted) {
        request.log.warn({ mtls: { remoteAddress: request.socket.remoteAddress } }, 'mtls: certificate header from an untrusted peer ignored')
        value = undefined
      }
      const result = passthrough.verifySync(value)
      // TLS headers are believed from trusted peers only, like the certificate.
      return isTrusted ? attachTls(result, request.headers[names.tlsVersion], request.headers[names.cipherSuite]) : result
    }
  }

  fastify.decorateRequest('clientCert', null)
  logAnchors(fastify.log, options.roots)
  fastify.decorate('mtls', Object.freeze({
    verifier,
    reload: (material: TrustMaterial) => {
      verifier.reload(material)
      logAnchors(fastify.log, material.roots)
    }
  }))
  if (trust !== undefined) {
    const unfollow = trust.follow({ reload: (material) => { verifier.reload(material as TrustMaterial); logAnchors(fastify.log, (material as TrustMaterial).roots) }, log: fastify.log })
    fastify.addHook('onClose', (_instance, closed) => {
      unfollow()
      closed()
    })
  }
  fastify.addHook('onRoute', (route) => {
    const config = route.config as { mtls?: unknown } | undefined
    checkRouteConfig(config?.mtls, route.url)
  })

  const hook: onRequestHookHandler = function mtlsClientCert (request, reply, next) {
    // diagnostics_channel: timing and cache counters only while someone listens.
    const observed = verifiedChannel.hasSubscribers || refusedChannel.hasSubscribers
    const hitsBefore = observed ? verifier.stats().hits : 0
    const started = observed ? performance.now() : 0
    const result = check(request)
    if (result.ok && trust !== undefined) {
      // Never accept on material older than the trust source's limit (its last confirmation is too old).
      const stale = trust.staleness()
      if (stale !== null) {
        request.log.error({ mtls: { code: 'FST_MTLS_TRUST_STALE', reason: 'trust-stale', detail: stale } }, 'mtls: trust material too old: certificate not accepted')
        if (refusedChannel.hasSubscribers) {
          const { subject, issuer, serialNumber, fingerprint256 } = result.certificate
          refusedChannel.publish({
            request,
            code: 'FST_MTLS_TRUST_STALE',
            reason: 'trust-stale',
            albStatus: null,
            client: { subject, issuer, serialNumber, fingerprint256 },
            identity: result.certificate,
            cacheHit: verifier.stats().hits > hitsBefore,
            durationMs: performance.now() - started
          } satisfies MtlsRefusedMessage)
        }
        const err = new TrustStaleError()
        Object.defineProperty(err, 'reason', { value: 'trust-stale', enumerable: false })
        next(err)
        return
      }
    }
    const durationMs = observed ? performance.now() - started : 0
    const cacheHit = observed && verifier.stats().hits > hitsBefore
    if (result.ok) {
      if (verifiedChannel.hasSubscribers) {
        verifiedChannel.publish({ request, identity: result.certificate, cacheHit, durationMs } satisfies MtlsVerifiedMessage)
      }
      request.clientCert = result.certificate
      if (rules === null || request.routeOptions.config.mtls?.authorize === false) next()
      else applyRules(rules, request, result.certificate, next)
      return
    }
    if (result.code === 'FST_MTLS_CERT_MISSING' && !routeRequired(request, required)) {
      next()
      return
    }
    const fields = refusalFields(result, presentedOf(request))
    if (refusedChannel.hasSubscribers) {
      refusedChannel.publish({
        request, code: result.code, reason: result.reason, albStatus: fields.albStatus, client: fields.client ?? null, cacheHit, durationMs
      } satisfies MtlsRefusedMessage)
    }
    if (result.reason === 'header-mismatch') {
      request.log.error({ mtls: { ...fields, remoteAddress: request.socket.remoteAddress } },
        'mtls: verify-mode headers disagree with the leaf certificate: possible header tampering')
    } else {
      request.log.warn({ mtls: fields }, 'mtls: client certificate refused')
    }
    next(errorFor(result))
  }
  fastify.addHook('onRequest', hook)
}

/** Fastify plugin: verifies the ALB mTLS headers (passthrough or verify mode) and sets `request.clientCert`. */
export const mtlsPassthrough = fp(plugin, { fastify: '5.x', name: 'fastify-alb-mtls' })
