/**
 * Type test: compiled by `npm run typecheck` (tsc --noEmit), never run. A line marked
 * `@ts-expect-error` fails the build when it starts compiling, so the public types cannot drift.
 */
import Fastify, { type FastifyRequest } from 'fastify'
import mtlsPassthrough, {
  createVerifier,
  type CertificateSource,
  type ClientCertificate,
  type MtlsPluginOptions,
  type TlsInfo,
  type TrustMaterial,
  type VerifyResult
} from '../../src/index.js'

import { expectType, type Equal } from './expect.js'

const app = Fastify()
await app.register(mtlsPassthrough, { roots: ['-----BEGIN CERTIFICATE-----'] })
await app.register(mtlsPassthrough, {
  roots: [Buffer.from('')],
  required: false,
  trustedProxies: (ip) => ip === '10.0.0.1',
  header: 'x-client-cert',
  clockTolerance: 5,
  extendedKeyUsage: false,
  maxChainDepth: 2,
  maxHeaderBytes: 8192,
  now: () => new Date()
})
// @ts-expect-error roots is required
await app.register(mtlsPassthrough, {})
// Verify mode: roots optional, header names configurable.
await app.register(mtlsPassthrough, { mode: 'verify', verifyHeaders: { leaf: 'x-leaf' }, ignoreExpiry: true })
await app.register(mtlsPassthrough, { mode: 'verify', verifyChain: true, roots: 'pem', intermediates: ['pem'] })
await app.register(mtlsPassthrough, { roots: 'pem', extendedKeyUsage: ['clientAuth', '1.2.3.4'], allowAnyExtendedKeyUsage: true })
// @ts-expect-error allowAnyExtendedKeyUsage is a boolean
await app.register(mtlsPassthrough, { roots: 'pem', allowAnyExtendedKeyUsage: 'yes' })
await app.register(mtlsPassthrough, { roots: 'pem', policies: { initialPolicySet: ['2.16.840.1.101.3.2.1.3.13'], requireExplicitPolicy: true } })
await app.register(mtlsPassthrough, { mode: 'verify', policies: { inhibitPolicyMapping: true, inhibitAnyPolicy: true } })
// @ts-expect-error initialPolicySet is a list of OIDs
await app.register(mtlsPassthrough, { roots: 'pem', policies: { initialPolicySet: '2.5.29.32.0' } })
// @ts-expect-error verifyChain is a boolean
await app.register(mtlsPassthrough, { mode: 'verify', verifyChain: 'yes' })
// @ts-expect-error required is a boolean
await app.register(mtlsPassthrough, { roots: 'x', required: 'yes' })
// @ts-expect-error unknown trustedProxies shape
const badProxies: MtlsPluginOptions = { roots: 'x', trustedProxies: 42 }

app.get('/', { config: { mtls: { required: false } } }, async (request) => {
  // Declaration merging: request.clientCert is typed on every FastifyRequest.
  expectType<Equal<typeof request.clientCert, ClientCertificate | null>>(true)
  const cert = request.clientCert
  if (cert === null) return null
  expectType<Equal<typeof cert.subject, string>>(true)
  expectType<Equal<typeof cert.notAfter, Date>>(true)
  expectType<Equal<typeof cert.spiffeId, string | null>>(true)
  expectType<Equal<typeof cert.policies, readonly string[]>>(true)
  expectType<Equal<typeof cert.san.dns, readonly string[]>>(true)
  expectType<Equal<typeof cert.subjectAttributes.CN, readonly string[] | undefined>>(true)
  expectType<Equal<typeof cert.tls, TlsInfo | undefined>>(true)
  expectType<Equal<typeof cert.source, CertificateSource>>(true)
  // @ts-expect-error the identity is read-only
  cert.subject = 'CN=forged'
  return cert.fingerprint256
})

function handler (request: FastifyRequest): string | undefined {
  return request.clientCert?.serialNumber
}
export { handler, badProxies }

expectType<Equal<Parameters<typeof app.mtls.reload>[0], TrustMaterial>>(true)
// @ts-expect-error reload takes trust material, not arbitrary options
app.mtls.reload({ header: 'x' })

const verifier = createVerifier({ roots: 'pem' })
const result: VerifyResult = await verifier.verify('header')
if (result.ok) {
  expectType<Equal<typeof result.certificate, ClientCertificate>>(true)
} else {
  expectType<Equal<typeof result.code, 'FST_MTLS_CERT_MISSING' | 'FST_MTLS_CERT_MALFORMED' | 'FST_MTLS_CERT_INVALID'>>(true)
  // @ts-expect-error reasons are a closed union
  const impossible: typeof result.reason = 'because'
  console.log(impossible)
}

// Revocation policy (issue 13): onMissing beside onExpired, and its refusal reason.
await app.register(mtlsPassthrough, { roots: 'pem', crls: ['crl'], crlPolicy: { onMissing: 'reject', onExpired: 'ignore' } })
// @ts-expect-error onMissing is 'allow' or 'reject'
await app.register(mtlsPassthrough, { roots: 'pem', crlPolicy: { onMissing: 'ignore' } })
await app.register(mtlsPassthrough, { roots: 'pem', crls: ['crl'], crlPolicy: { requireCrlNumber: false } })
// @ts-expect-error requireCrlNumber is a boolean
await app.register(mtlsPassthrough, { roots: 'pem', crlPolicy: { requireCrlNumber: 'no' } })
expectType<true>(true as ('revocation-unknown' extends (VerifyResult & { ok: false })['reason'] ? true : false))
