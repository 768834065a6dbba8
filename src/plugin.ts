/**
 * plugin: Fastify glue only. Options, one onRequest hook, `request.clientCert`, error mapping, logs.
 */
import type { FastifyError } from '@fastify/error'
import type { FastifyPluginCallback, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { createVerifier, type TrustMaterial, type Verifier } from './core/verifier.js'
import type { ClientCertificate, VerifierOptions, VerifyFailure } from './core/types.js'
import { CertInvalidError, CertMalformedError, CertMissingError, InvalidOptionError } from './errors.js'
import { authorize as applyRules, compileRules, type ClientCertRules, type CompiledRules } from './guards.js'
import { compileTrustedProxies, type TrustedProxies } from './sources/trusted-proxies.js'

export interface MtlsPluginOptions extends VerifierOptions {
  /** Refuse requests without a certificate (401). Default true; a route may override with `config.mtls.required`. */
  required?: boolean
  /** Peers allowed to send the header. Default: loopback and private ranges. */
  trustedProxies?: TrustedProxies
  /** Header carrying the chain. Default `x-amzn-mtls-clientcert`. */
  header?: string
  /**
   * Authorization rules (as for `requireClientCert`) applied to every request that carries a verified
   * certificate, in this plugin's onRequest hook. A route opts out with `config.mtls.authorize: false`.
   */
  authorize?: ClientCertRules
}

/** Per-route settings, under the route's `config.mtls`. */
export interface MtlsRouteConfig {
  /** Overrides the plugin's `required` for this route. */
  required?: boolean
  /** `false`: the plugin-level `authorize` rules do not apply to this route (route guards still do). */
  authorize?: false
}

export interface MtlsDecorator {
  /** The verifier the plugin uses (shares its options). */
  readonly verifier: Verifier
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

function headerName (value: unknown): string {
  if (value === undefined) return 'x-amzn-mtls-clientcert'
  if (typeof value !== 'string' || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)) {
    throw new InvalidOptionError('header must be an HTTP header name')
  }
  return value.toLowerCase()
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
  let verifier: Verifier, header: string, trusted: (address: string | undefined) => boolean
  let rules: CompiledRules | null
  try {
    verifier = createVerifier(options)
    header = headerName(options.header)
    trusted = compileTrustedProxies(options.trustedProxies)
    if (options.required !== undefined && typeof options.required !== 'boolean') throw new InvalidOptionError('required must be a boolean')
    rules = options.authorize === undefined ? null : compileRules(options.authorize, 'authorize')
  } catch (err) {
    done(err as Error)
    return
  }
  const required = options.required !== false

  fastify.decorateRequest('clientCert', null)
  fastify.decorate('mtls', Object.freeze({ verifier, reload: (material: TrustMaterial) => verifier.reload(material) }))
  fastify.addHook('onRoute', (route) => {
    const config = route.config as { mtls?: unknown } | undefined
    checkRouteConfig(config?.mtls, route.url)
  })

  const hook: onRequestHookHandler = function mtlsPassthrough (request, reply, next) {
    let value = request.headers[header]
    if (value !== undefined && !trusted(request.socket.remoteAddress)) {
      request.log.warn({ mtls: { remoteAddress: request.socket.remoteAddress } }, 'mtls: certificate header from an untrusted peer ignored')
      value = undefined
    }
    const result = verifier.verifySync(value)
    if (result.ok) {
      request.clientCert = result.certificate
      if (rules === null || request.routeOptions.config.mtls?.authorize === false) next()
      else applyRules(rules, request, result.certificate, next)
      return
    }
    if (result.code === 'FST_MTLS_CERT_MISSING' && !routeRequired(request, required)) {
      next()
      return
    }
    request.log.warn({ mtls: { code: result.code, reason: result.reason, detail: result.message } }, 'mtls: client certificate refused')
    next(errorFor(result))
  }
  fastify.addHook('onRequest', hook)
  done()
}

/** Fastify plugin: verifies the ALB passthrough header and sets `request.clientCert`. */
export const mtlsPassthrough = fp(plugin, { fastify: '5.x', name: 'fastify-alb-mtls' })
