/**
 * fastify-alb-mtls: public exports only.
 */
import { mtlsPassthrough } from './plugin.js'

export default mtlsPassthrough
export { mtlsPassthrough, errorFor } from './plugin.js'
export type { MtlsPluginOptions, MtlsRouteConfig, MtlsDecorator } from './plugin.js'
export { createVerifier } from './core/verifier.js'
export type { Verifier, TrustMaterial } from './core/verifier.js'
export type * from './core/types.js'
export { requireClientCert } from './guards.js'
export type {
  ClientCertRules, ClientCertCheck, ClientCertGuard, NameRules, SanRules, ValueMatcher, ValueRule, KnownAttributeName, AttributeOid
} from './guards.js'
export type { TrustedProxies } from './sources/trusted-proxies.js'
export { DEFAULT_TRUSTED_PROXIES } from './sources/trusted-proxies.js'
export { CertMissingError, CertMalformedError, CertInvalidError, ForbiddenError, InvalidOptionError } from './errors.js'
