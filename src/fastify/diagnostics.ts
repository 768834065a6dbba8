/**
 * diagnostics: audit and metrics without patching the plugin, on `node:diagnostics_channel`.
 *
 * - `fastify-alb-mtls:verified`: a request carried a certificate that verified.
 * - `fastify-alb-mtls:refused`: a request was refused (401/400 by the plugin, 403 by a rule).
 *
 * Messages are built only while someone subscribes (`channel.hasSubscribers`), so an app that does
 * not listen pays one property read per request.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import type { FastifyRequest } from 'fastify'
import type { ClientCertificate, FailureReason, UnavailableReason, VerifyErrorCode } from '../types.js'
import type { AlbTlsVerifyStatus, ClaimedCertificate } from './refusal-log.js'

export const VERIFIED_CHANNEL = 'fastify-alb-mtls:verified'
export const REFUSED_CHANNEL = 'fastify-alb-mtls:refused'

export const verifiedChannel = diagnosticsChannel.channel(VERIFIED_CHANNEL)
export const refusedChannel = diagnosticsChannel.channel(REFUSED_CHANNEL)

/** Published on `fastify-alb-mtls:verified`. */
export interface MtlsVerifiedMessage {
  readonly request: FastifyRequest
  readonly identity: ClientCertificate
  /** The verdict came from the verdict cache (no validation ran). */
  readonly cacheHit: boolean
  /** Time spent verifying this request's headers, in milliseconds (cache lookup included). */
  readonly durationMs: number
}

/** Published on `fastify-alb-mtls:refused`. */
export interface MtlsRefusedMessage {
  readonly request: FastifyRequest
  /**
   * `FST_MTLS_CERT_MISSING`, `FST_MTLS_CERT_MALFORMED`, `FST_MTLS_CERT_INVALID`, `FST_MTLS_FORBIDDEN`,
   * or `FST_MTLS_TRUST_STALE` (503: a trust source's material is older than its limit).
   */
  readonly code: VerifyErrorCode | 'FST_MTLS_FORBIDDEN' | 'FST_MTLS_TRUST_STALE'
  /** The stable refusal reason; `forbidden` for an authorization rule, `trust-stale` for stale material. */
  readonly reason: FailureReason | 'forbidden' | UnavailableReason
  /** ALB's connection-log equivalent (`ClientCertUntrusted`, ...), or null when ALB has none. */
  readonly albStatus: AlbTlsVerifyStatus | null
  /** What the client's leaf claims (unverified), when it parses. */
  readonly client: ClaimedCertificate | null
  /** 403 only: the rule that failed (`subject.OU`, `check`, ...). */
  readonly rule?: string
  /** 403: the verified identity the rule refused; trust-stale: the identity not accepted on stale material. */
  readonly identity?: ClientCertificate
  /** False for 403s (the verdict is not what refused) and for missing certificates. */
  readonly cacheHit: boolean
  /** Time spent verifying, in milliseconds; 0 for 403s. */
  readonly durationMs: number
}
