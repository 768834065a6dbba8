/**
 * Type test for requireClientCert, the rules object and the authorize options: compiled by
 * `npm run typecheck`, never run. `@ts-expect-error` lines must stay errors.
 */
import Fastify, { type FastifyRequest, type onRequestHookHandler, type preHandlerHookHandler } from 'fastify'
import fastifyAuth from '@fastify/auth'
import mtls, {
  requireClientCert,
  type ClientCertificate,
  type ClientCertGuard,
  type ClientCertRules,
  type NameRules,
  type SanRules
} from '../../src/index.js'

import { expectType, type Equal } from './expect.js'

const full: ClientCertRules = {
  subject: { O: 'Example Corp', OU: ['Billing', 'Finance'], CN: /^svc-/, '2.5.4.15': 'Private Organization' },
  issuer: { CN: 'Example Issuing CA', DC: ['example', 'com'], emailAddress: 'pki@example.com' },
  san: { dns: ['*.svc.example.internal'], uri: [/^spiffe:\/\/example\.org\/ns\/prod\//], email: ['a@example.com'], ip: ['10.0.0.0/8', '2001:db8::1'] },
  spiffeId: 'spiffe://example.org/ns/prod/sa/billing',
  fingerprint256: ['ab12'],
  policies: ['2.16.840.1.101.3.2.1.3.13'],
  check: async (cert, request) => {
    expectType<Equal<typeof cert, ClientCertificate>>(true)
    expectType<Equal<typeof request, FastifyRequest>>(true)
    return cert.spiffeId !== null
  }
}
const syncCheck: ClientCertRules = { check: (cert) => cert.commonName === 'admin' }
const anyOid: NameRules = { '1.3.6.1.4.1.311.60.2.1.3': 'US' }
const sanOnly: SanRules = { dns: 'api.example.com' }

// @ts-expect-error typo in a rule name
const typo: ClientCertRules = { subjet: { CN: 'x' } }
// @ts-expect-error unknown attribute name (not a short name, not a dotted OID)
const badAttribute: ClientCertRules = { subject: { Organisation: 'x' } }
// @ts-expect-error attribute names are case-sensitive in the types
const lowerCase: ClientCertRules = { subject: { cn: 'x' } }
// @ts-expect-error attribute values are strings or RegExps
const badValue: ClientCertRules = { subject: { CN: 42 } }
// @ts-expect-error unknown SAN kind
const badSan: ClientCertRules = { san: { dsn: ['a.example.com'] } }
// @ts-expect-error IP rules are addresses or CIDR text, not RegExps
const regexIp: ClientCertRules = { san: { ip: /^10\./ } }
// @ts-expect-error fingerprints are text
const badPin: ClientCertRules = { fingerprint256: /ab/ }
// @ts-expect-error the predicate returns a boolean
const badCheck: ClientCertRules = { check: () => 'yes' }

const guard = requireClientCert(full)
expectType<Equal<typeof guard, ClientCertGuard>>(true)
const asOnRequest: onRequestHookHandler = guard
const asPreHandler: preHandlerHookHandler = guard
requireClientCert()
// @ts-expect-error rules are an object
requireClientCert('CN=admin')

const app = Fastify()
await app.register(mtls, { roots: 'pem', authorize: { subject: { O: 'Example Corp' } } })
// @ts-expect-error plugin-level rules are checked too
await app.register(mtls, { roots: 'pem', authorize: { subjet: {} } })
await app.register(fastifyAuth)

app.get('/billing', { onRequest: requireClientCert({ spiffeId: /^spiffe:\/\/example\.org\// }) }, async (request) => {
  expectType<Equal<typeof request.clientCert, ClientCertificate | null>>(true)
  return request.clientCert?.spiffeId
})
app.post<{ Body: { amount: number } }>('/pay', { preHandler: requireClientCert({ subject: { OU: 'Billing' } }) }, async (request) => {
  expectType<Equal<typeof request.body.amount, number>>(true)
  return null
})
app.get('/health', { config: { mtls: { required: false, authorize: false } } }, async () => 'ok')
// @ts-expect-error per-route rules go in requireClientCert; config.mtls.authorize only opts out
app.get('/x', { config: { mtls: { authorize: true } } }, async () => 'ok')
app.get('/either', { onRequest: app.auth([requireClientCert({ spiffeId: 'spiffe://a/b' }), requireClientCert({ fingerprint256: 'ab' })]) }, async () => 'ok')

export { syncCheck, anyOid, sanOnly, typo, badAttribute, lowerCase, badValue, badSan, regexIp, badPin, badCheck, asOnRequest, asPreHandler }
