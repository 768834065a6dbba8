/**
 * fastify-alb-mtls: public exports only.
 */
import { mtlsPassthrough } from './fastify/plugin.js'

export default mtlsPassthrough
export { mtlsPassthrough, errorFor } from './fastify/plugin.js'
export type { MtlsPluginOptions, PassthroughPluginOptions, VerifyPluginOptions, MtlsRouteConfig, MtlsDecorator } from './fastify/plugin.js'
export { createVerifier } from './verifier/verifier.js'
export type { Verifier, TrustMaterial, VerifierStats } from './verifier/verifier.js'
export { createAlbVerifyVerifier } from './verifier/verify-mode.js'
export type { AlbVerifyOptions, AlbVerifyValues, AlbVerifyVerifier, HeaderValue } from './verifier/verify-mode.js'
export { loadTrustStore } from './trust/load-trust-store.js'
export type { LoadedTrustStore, LoadTrustStoreOptions } from './trust/load-trust-store.js'
export { DEFAULT_VERIFY_HEADERS, readAlbVerifyHeaders, readAlbVerifyRawHeaders } from './sources/alb-verify.js'
export type { AlbVerifyHeaderNames, HeaderMap } from './sources/alb-verify.js'
export type * from './types.js'
export { requireClientCert } from './fastify/guards.js'
export { clientCertOf, hasClientCert } from './fastify/client-cert.js'
export type { RequestWithClientCert } from './fastify/client-cert.js'
export { VERIFIED_CHANNEL, REFUSED_CHANNEL } from './fastify/diagnostics.js'
export type { MtlsVerifiedMessage, MtlsRefusedMessage } from './fastify/diagnostics.js'
export { ALB_STATUS } from './fastify/refusal-log.js'
export type { AlbTlsVerifyStatus, ClaimedCertificate, RefusalLogFields } from './fastify/refusal-log.js'
export type {
  ClientCertRules, ClientCertCheck, ClientCertGuard, NameRules, SanRules, ValueMatcher, ValueRule, KnownAttributeName, AttributeOid
} from './fastify/guards.js'
export type { TrustedProxies } from './sources/trusted-proxies.js'
export { DEFAULT_TRUSTED_PROXIES, compileTrustedProxies } from './sources/trusted-proxies.js'
export { inTrustDomain, isSpiffeId, parseSpiffeId, spiffeTrustDomain } from './x509/spiffe.js'
export type { SpiffeId } from './x509/spiffe.js'
export { CertMissingError, CertMalformedError, CertInvalidError, ForbiddenError, InvalidOptionError, NotRegisteredError } from './errors.js'
export { TrustStaleError, TrustSourceError } from './errors.js'
