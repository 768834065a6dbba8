/**
 * client-cert: a typed, non-null identity for handlers behind `requireClientCert` (or a plugin with
 * `required: true`), so they need no `request.clientCert?.` null checks.
 */
import type { FastifyRequest } from 'fastify'
import type { ClientCertificate } from '../types.js'
import { CertMissingError, NotRegisteredError } from '../errors.js'

/** A request whose certificate was verified: `request.clientCert` is not null. */
export type RequestWithClientCert<R extends FastifyRequest = FastifyRequest> = R & { clientCert: ClientCertificate }

/** True when the request carries a verified certificate; narrows `request.clientCert` to non-null. */
export function hasClientCert<R extends FastifyRequest> (request: R): request is RequestWithClientCert<R> {
  return request.clientCert !== null && request.clientCert !== undefined
}

/**
 * The verified certificate of a request, never null. Behind `requireClientCert` (or the plugin's
 * `required: true`) it always returns; elsewhere a request without a certificate throws
 * `FST_MTLS_CERT_MISSING` (401), and an app without the plugin throws `FST_MTLS_NOT_REGISTERED` (500).
 */
export function clientCertOf (request: FastifyRequest): ClientCertificate {
  const cert = request.clientCert as ClientCertificate | null | undefined
  if (cert === undefined) throw new NotRegisteredError('request.clientCert is not decorated: register the plugin before using clientCertOf()')
  if (cert === null) throw new CertMissingError()
  return cert
}
