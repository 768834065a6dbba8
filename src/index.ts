/**
 * fastify-alb-mtls: public exports only.
 */
import { mtlsPassthrough } from './plugin.js'

export default mtlsPassthrough
export { mtlsPassthrough, errorFor } from './plugin.js'
export type { MtlsPluginOptions, PassthroughPluginOptions, VerifyPluginOptions, MtlsRouteConfig, MtlsDecorator } from './plugin.js'
export { createVerifier } from './core/verifier.js'
export type { Verifier, TrustMaterial, VerifierStats } from './core/verifier.js'
export { createAlbVerifyVerifier } from './core/verify-mode.js'
export type { AlbVerifyOptions, AlbVerifyValues, AlbVerifyVerifier, HeaderValue } from './core/verify-mode.js'
export { loadTrustStore } from './core/load-trust-store.js'
export type { LoadedTrustStore, LoadTrustStoreOptions } from './core/load-trust-store.js'
export { DEFAULT_VERIFY_HEADERS, readAlbVerifyHeaders, readAlbVerifyRawHeaders } from './sources/alb-verify.js'
export type { AlbVerifyHeaderNames, HeaderMap } from './sources/alb-verify.js'
export type * from './core/types.js'
export { requireClientCert } from './guards.js'
export type {
  ClientCertRules, ClientCertCheck, ClientCertGuard, NameRules, SanRules, ValueMatcher, ValueRule, KnownAttributeName, AttributeOid
} from './guards.js'
export type { TrustedProxies } from './sources/trusted-proxies.js'
export { DEFAULT_TRUSTED_PROXIES, compileTrustedProxies } from './sources/trusted-proxies.js'
export { CertMissingError, CertMalformedError, CertInvalidError, ForbiddenError, InvalidOptionError } from './errors.js'
