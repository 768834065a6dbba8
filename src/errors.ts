/**
 * Error classes with stable codes. Framework-independent (`@fastify/error` does not import Fastify):
 * the core throws FST_MTLS_INVALID_OPTION; the plugin answers requests with the others.
 */
import createError from '@fastify/error'

/** 401: no client certificate where one is required. */
export const CertMissingError = createError('FST_MTLS_CERT_MISSING', 'Client certificate required', 401)
/** 400: the certificate header cannot be decoded or parsed. */
export const CertMalformedError = createError('FST_MTLS_CERT_MALFORMED', 'Client certificate header is malformed', 400)
/** 401: the chain does not lead to a configured root, or a check failed. */
export const CertInvalidError = createError('FST_MTLS_CERT_INVALID', 'Client certificate is not valid', 401)
/** 403: a valid certificate that an authorization rule refuses. */
export const ForbiddenError = createError('FST_MTLS_FORBIDDEN', 'Client certificate is not authorized for this resource', 403)
/** Thrown at registration or createVerifier() time for an option that cannot work. */
export const InvalidOptionError = createError('FST_MTLS_INVALID_OPTION', 'Invalid fastify-alb-mtls option: %s', 500, TypeError)
/** 503: the trust material of a trust source (fastify-alb-mtls/s3) is older than its staleness limit. */
export const TrustStaleError = createError('FST_MTLS_TRUST_STALE', 'Client certificates cannot be verified right now', 503)
/** A trust source cannot produce its first material (thrown by createS3TrustStore). */
export const TrustSourceError = createError('FST_MTLS_TRUST_SOURCE', 'Trust material cannot be loaded: %s', 500)
