/**
 * fastify-alb-mtls: public exports only.
 */
import { mtlsPassthrough } from './fastify/plugin.js'

export default mtlsPassthrough
export { mtlsPassthrough, errorFor } from './fastify/plugin.js'
export type { MtlsPluginOptions, PassthroughPluginOptions, VerifyPluginOptions, MtlsRouteConfig, MtlsDecorator } from './fastify/plugin.js'
export type { AlbVerifySourcePluginOptions, SourcePluginOptions } from './fastify/plugin.js'
export { createSourceVerifier, createApiGatewayVerifier } from './verifier/source-verifier.js'
export type { SourceVerifier, SourceVerifierOptions } from './verifier/source-verifier.js'
export type { LeafClaims } from './verifier/verify-mode.js'
export { resolveSource, SOURCE_NAMES } from './sources/index.js'
export type { SourceOption, SourceName, SourceHeaderNames } from './sources/index.js'
export type { SourceReader, SourceRequest, Material, Decoded, ReadLimits } from './sources/material.js'
export type { CustomSource, CustomMaterial } from './sources/custom.js'
export type { ApiGatewayEvent, ApiGatewayClientCert } from './sources/api-gateway.js'
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
