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
export type {
  ClientCertRules, ClientCertCheck, ClientCertGuard, NameRules, SanRules, ValueMatcher, ValueRule, KnownAttributeName, AttributeOid
} from './fastify/guards.js'
export type { TrustedProxies } from './sources/trusted-proxies.js'
export { DEFAULT_TRUSTED_PROXIES, compileTrustedProxies } from './sources/trusted-proxies.js'
export { CertMissingError, CertMalformedError, CertInvalidError, ForbiddenError, InvalidOptionError } from './errors.js'
export { TrustStaleError, TrustSourceError } from './errors.js'
