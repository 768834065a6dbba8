/**
 * Error classes with stable codes. Framework-independent (`@fastify/error` does not import Fastify):
 * the core throws FST_MTLS_INVALID_OPTION; the plugin answers requests with the others.
 *
 * Each class is annotated with the named type `FastifyErrorConstructor`: without the annotation the
 * emitted declarations spell it `createError.FastifyErrorConstructor`, a namespace that does not
 * resolve under `moduleResolution: "bundler"` (and silently becomes `any` with skipLibCheck).
 *
 * The 400/401/403 errors capture no stack trace: they are expected answers to a client, logged as
 * one line with the refusal's fields (refusal-log.ts), never as a stack.
 */
import createError, { type FastifyErrorConstructor } from '@fastify/error'

/** 401: no client certificate where one is required. */
export const CertMissingError: FastifyErrorConstructor<{ code: 'FST_MTLS_CERT_MISSING', statusCode: 401 }> =
  createError('FST_MTLS_CERT_MISSING', 'Client certificate required', 401, Error, false)
/** 400: the certificate header cannot be decoded or parsed. */
export const CertMalformedError: FastifyErrorConstructor<{ code: 'FST_MTLS_CERT_MALFORMED', statusCode: 400 }> =
  createError('FST_MTLS_CERT_MALFORMED', 'Client certificate header is malformed', 400, Error, false)
/** 401: the chain does not lead to a configured root, or a check failed. */
export const CertInvalidError: FastifyErrorConstructor<{ code: 'FST_MTLS_CERT_INVALID', statusCode: 401 }> =
  createError('FST_MTLS_CERT_INVALID', 'Client certificate is not valid', 401, Error, false)
/** 403: a valid certificate that an authorization rule refuses. */
export const ForbiddenError: FastifyErrorConstructor<{ code: 'FST_MTLS_FORBIDDEN', statusCode: 403 }> =
  createError('FST_MTLS_FORBIDDEN', 'Client certificate is not authorized for this resource', 403, Error, false)
/** Thrown at registration or createVerifier() time for an option that cannot work. */
export const InvalidOptionError: FastifyErrorConstructor<{ code: 'FST_MTLS_INVALID_OPTION', statusCode: 500 }, [string]> =
  createError('FST_MTLS_INVALID_OPTION', 'Invalid fastify-alb-mtls option: %s', 500, TypeError)
/**
 * 500: a route guarded by `requireClientCert` runs in an app (or encapsulation context) where the
 * plugin is not registered, so no certificate was ever verified. A deployment mistake, not a client's.
 */
export const NotRegisteredError: FastifyErrorConstructor<{ code: 'FST_MTLS_NOT_REGISTERED', statusCode: 500 }, [string]> =
  createError('FST_MTLS_NOT_REGISTERED', 'fastify-alb-mtls is not registered: %s', 500)
/** 503: the trust material of a trust source (fastify-alb-mtls/s3) is older than its staleness limit. */
export const TrustStaleError: FastifyErrorConstructor<{ code: 'FST_MTLS_TRUST_STALE', statusCode: 503 }> =
  createError('FST_MTLS_TRUST_STALE', 'Client certificates cannot be verified right now', 503)
/** A trust source cannot produce its first material (thrown by createS3TrustStore). */
export const TrustSourceError: FastifyErrorConstructor<{ code: 'FST_MTLS_TRUST_SOURCE', statusCode: 500 }, [string]> =
  createError('FST_MTLS_TRUST_SOURCE', 'Trust material cannot be loaded: %s', 500)

/**
 * Refuses keys of a nested option object that the option does not have (`crlPolicy: { onMising }`):
 * JavaScript would ignore a misspelt setting, and with it the strictness it asked for.
 */
export function refuseUnknownSettings (value: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new InvalidOptionError(`${what}: unknown setting ${JSON.stringify(key)} (known: ${known.join(', ')})`)
  }
}
