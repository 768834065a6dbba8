/** Type tests for the `source` option, compiled by `npm run typecheck` (never run). */
import Fastify from 'fastify'
import mtls, {
  createApiGatewayVerifier,
  type CertificateSource,
  type MtlsPluginOptions,
  type SourceVerifier,
  type ApiGatewayEvent,
  type VerifyResult
} from '../../src/index.js'
import { expectType, type Equal } from './expect.js'

const app = Fastify()
const roots = '-----BEGIN CERTIFICATE-----\n...'

await app.register(mtls, { source: 'xfcc', roots })
await app.register(mtls, { source: 'cloudfront' })
await app.register(mtls, { source: 'alb-verify' })
await app.register(mtls, { source: 'alb-passthrough', roots, header: 'x-client-chain' })
await app.register(mtls, { source: { name: 'nginx', headers: { cert: 'x-ssl-cert', verify: false } }, roots })
await app.register(mtls, { source: { name: 'gcp', headers: { leaf: 'x-leaf' } } })
await app.register(mtls, { source: { extract: () => ({ chain: [new Uint8Array(1)] }) }, roots })
await app.register(mtls, { source: { extract: () => ({ verifiedLeaf: '-----BEGIN...', claims: { sha256: 'ab' } }) } })

// @ts-expect-error mode is for ALB only
export const withMode: MtlsPluginOptions = { source: 'xfcc', mode: 'verify', roots }
// @ts-expect-error a header key the source does not have
await app.register(mtls, { source: { name: 'xfcc', headers: { cert: 'x' } }, roots })
// @ts-expect-error not a source
await app.register(mtls, { source: 'haproxy', roots })

const apigw = createApiGatewayVerifier()
expectType<Equal<typeof apigw, SourceVerifier<ApiGatewayEvent>>>(true)
expectType<Equal<ReturnType<typeof apigw.verifySync>, VerifyResult>>(true)
const r = apigw.verifySync({ requestContext: { authentication: { clientCert: { clientCertPem: '' } } } })
if (r.ok) {
  expectType<Equal<typeof r.certificate.source, CertificateSource>>(true)
  expectType<Equal<typeof r.certificate.x5tS256, string>>(true)
}
