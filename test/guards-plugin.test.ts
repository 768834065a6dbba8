/**
 * requireClientCert and the plugin-level `authorize` option over real certificates, through
 * fastify.inject (which comes from 127.0.0.1, a trusted proxy by default).
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyAuth from '@fastify/auth'
import mtls, { requireClientCert, type ClientCertRules, type MtlsPluginOptions } from '../src/index.js'
import { createTestPki, toAlbHeader, type TestPki } from '../src/testing/index.js'

const HEADER = 'x-amzn-mtls-clientcert'
const SERVICE_ID = 'spiffe://example.org/ns/prod/sa/billing'

let pki: TestPki
/** Chain headers: a workload with a SPIFFE ID, and a partner identified by its organisation. */
let service: string
let partner: string
let partnerFingerprint: string

before(async () => {
  pki = await createTestPki()
  const svc = await pki.issue({ subject: 'CN=billing,O=Example Corp', san: { uri: [SERVICE_ID], dns: ['billing.svc.example.internal'] } })
  const ptn = await pki.issue({ subject: [[['O', 'Partner Inc']], [['OU', 'Integrations']], [['OU', 'Billing']], [['CN', 'partner-gw']]] })
  service = toAlbHeader([svc.pem, pki.intermediate.pem])
  partner = toAlbHeader([ptn.pem, pki.intermediate.pem])
  const { createHash } = await import('node:crypto')
  partnerFingerprint = createHash('sha256').update(ptn.der).digest('hex')
})

interface Logged { msg: string, mtls?: { rule?: string, code?: string }, err?: { message: string } }

async function build (
  routes: (app: FastifyInstance) => void | Promise<void>,
  options: Partial<MtlsPluginOptions> = {}
): Promise<{ app: FastifyInstance, logs: Logged[] }> {
  const logs: Logged[] = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) { logs.push(JSON.parse(chunk.toString()) as Logged); cb() }
  })
  const app = Fastify({ logger: { level: 'warn', stream } })
  await app.register(mtls, { roots: pki.root.pem, ...options })
  await routes(app)
  await app.ready()
  return { app, logs }
}

async function get (app: FastifyInstance, url: string, header?: string): Promise<{ status: number, body: Record<string, unknown> }> {
  const res = await app.inject({ url, headers: header === undefined ? {} : { [HEADER]: header } })
  return { status: res.statusCode, body: res.json() }
}

const ok = async (): Promise<{ ok: true }> => ({ ok: true })

test('service-to-service by SPIFFE ID: 200 for the workload, 403 for anyone else', async () => {
  const { app, logs } = await build((app) => {
    app.get('/billing', { onRequest: requireClientCert({ spiffeId: SERVICE_ID }) }, ok)
  })
  assert.equal((await get(app, '/billing', service)).status, 200)
  const refused = await get(app, '/billing', partner)
  assert.equal(refused.status, 403)
  assert.equal(refused.body.code, 'FST_MTLS_FORBIDDEN')
  assert.doesNotMatch(JSON.stringify(refused.body), /spiffe|rule/i, 'the body does not say which rule')
  const line = logs.find((l) => l.mtls?.code === 'FST_MTLS_FORBIDDEN')
  assert.equal(line?.mtls?.rule, 'spiffeId', 'the log does')
  await app.close()
})

test('a partner by organisation and all of its OUs; AND across subject, issuer and SAN', async () => {
  const { app } = await build((app) => {
    app.get('/partner', { onRequest: requireClientCert({ subject: { O: 'Partner Inc', OU: ['Billing', 'Integrations', 'Finance'] } }) }, ok)
    // The partner also carries OU=Integrations, which this rule does not allow: every value must match.
    app.get('/billing-only', { onRequest: requireClientCert({ subject: { O: 'Partner Inc', OU: ['Billing', 'Finance'] } }) }, ok)
    app.get('/strict', {
      onRequest: requireClientCert({
        subject: { O: 'Example Corp' },
        issuer: { CN: 'Test Intermediate CA' },
        san: { dns: '*.svc.example.internal', uri: [/^spiffe:\/\/example\.org\/ns\/prod\//] }
      })
    }, ok)
    app.get('/wrong-issuer', { onRequest: requireClientCert({ subject: { O: 'Example Corp' }, issuer: { CN: 'Other CA' } }) }, ok)
  })
  assert.equal((await get(app, '/partner', partner)).status, 200)
  assert.equal((await get(app, '/partner', service)).status, 403)
  assert.equal((await get(app, '/billing-only', partner)).status, 403)
  assert.equal((await get(app, '/strict', service)).status, 200)
  assert.equal((await get(app, '/strict', partner)).status, 403)
  assert.equal((await get(app, '/wrong-issuer', service)).status, 403)
  await app.close()
})

test('a certificate with two CNs (admin and guest) does not pass a CN admin rule, nor plugin-level authorize', async () => {
  const twoCns = await pki.issue({ subject: [[['O', 'Example Corp']], [['CN', 'admin']], [['CN', 'guest']]] })
  const oneCn = await pki.issue({ subject: 'CN=admin,O=Example Corp' })
  const header = toAlbHeader([twoCns.pem, pki.intermediate.pem])
  const { app, logs } = await build((app) => {
    app.get('/admin', { onRequest: requireClientCert({ subject: { CN: 'admin' } }) }, ok)
    app.get('/admin-re', { onRequest: requireClientCert({ subject: { CN: /^admin$/ } }) }, ok)
  })
  assert.equal((await get(app, '/admin', header)).status, 403)
  assert.equal((await get(app, '/admin-re', header)).status, 403)
  assert.equal(logs.find((l) => l.mtls?.code === 'FST_MTLS_FORBIDDEN')?.mtls?.rule, 'subject.CN')
  assert.equal((await get(app, '/admin', toAlbHeader([oneCn.pem, pki.intermediate.pem]))).status, 200)
  await app.close()
  // The same in one multi-valued RDN (CN=admin+CN=guest), through the plugin-level rules.
  const plusCn = await pki.issue({ subject: 'CN=admin+CN=guest,O=Example Corp' })
  const { app: guarded } = await build((app) => { app.get('/', ok) }, { authorize: { subject: { CN: 'admin' } } })
  assert.equal((await get(guarded, '/', toAlbHeader([plusCn.pem, pki.intermediate.pem]))).status, 403)
  assert.equal((await get(guarded, '/', toAlbHeader([oneCn.pem, pki.intermediate.pem]))).status, 200)
  await guarded.close()
})

test('an admin by pinned fingerprint', async () => {
  const pin = partnerFingerprint.toUpperCase().match(/../g)!.join(':')
  const { app } = await build((app) => {
    app.get('/admin', { onRequest: requireClientCert({ fingerprint256: [pin] }) }, ok)
  })
  assert.equal((await get(app, '/admin', partner)).status, 200)
  assert.equal((await get(app, '/admin', service)).status, 403)
  await app.close()
})

test('no certificate on an optional route: the guard answers 401, unguarded routes see null', async () => {
  const seen: unknown[] = []
  const { app } = await build((app) => {
    app.get('/guarded', { config: { mtls: { required: false } }, onRequest: requireClientCert() }, ok)
    app.get('/open', { config: { mtls: { required: false } } }, async (request) => {
      seen.push(request.clientCert)
      return { cn: request.clientCert?.commonName ?? null }
    })
  })
  const missing = await get(app, '/guarded')
  assert.equal(missing.status, 401)
  assert.equal(missing.body.code, 'FST_MTLS_CERT_MISSING')
  assert.equal((await get(app, '/guarded', service)).status, 200)
  assert.deepEqual((await get(app, '/open')).body, { cn: null })
  assert.deepEqual((await get(app, '/open', service)).body, { cn: 'billing' })
  assert.equal(seen[0], null)
  await app.close()
})

test('check: async and sync predicates; false, non-true, throw and rejection are 403, never 500', async () => {
  const seenUrls: string[] = []
  const guard = (check: ClientCertRules['check']): ReturnType<typeof requireClientCert> => requireClientCert({ check })
  const { app, logs } = await build((app) => {
    app.get('/async-true', { onRequest: guard(async (cert, request) => { seenUrls.push(request.url); return cert.spiffeId === SERVICE_ID }) }, ok)
    app.get('/sync-true', { onRequest: guard((cert) => cert.commonName === 'billing') }, ok)
    app.get('/async-false', { onRequest: guard(async () => false) }, ok)
    app.get('/truthy', { onRequest: guard((() => 'yes') as never) }, ok)
    app.get('/throws', { onRequest: guard(() => { throw new Error('directory down') }) }, ok)
    app.get('/rejects', { onRequest: guard(async () => { throw new Error('timeout') }) }, ok)
    app.get('/static-first', {
      onRequest: requireClientCert({ subject: { O: 'Nobody' }, check: () => { throw new Error('must not run') } })
    }, ok)
  })
  assert.equal((await get(app, '/async-true', service)).status, 200)
  assert.deepEqual(seenUrls, ['/async-true'], 'the predicate gets the request')
  assert.equal((await get(app, '/async-true', partner)).status, 403)
  assert.equal((await get(app, '/sync-true', service)).status, 200)
  for (const url of ['/async-false', '/truthy', '/throws', '/rejects']) {
    const res = await get(app, url, service)
    assert.equal(res.status, 403, url)
    assert.equal(res.body.code, 'FST_MTLS_FORBIDDEN', url)
    assert.doesNotMatch(JSON.stringify(res.body), /directory|timeout/)
  }
  const checkLogs = logs.filter((l) => l.mtls?.rule === 'check')
  assert.equal(checkLogs.length, 5, 'partner on /async-true, then the four refusals')
  assert.deepEqual(checkLogs.map((l) => l.err?.message).filter(Boolean), ['directory down', 'timeout'])
  const staticFirst = await get(app, '/static-first', service)
  assert.equal(staticFirst.status, 403)
  assert.equal(logs.at(-1)?.mtls?.rule, 'subject.O', 'static rules run before the predicate')
  await app.close()
})

test('onRequest refuses before the body is parsed; preHandler works too', async () => {
  const { app } = await build((app) => {
    const guard = requireClientCert({ spiffeId: SERVICE_ID })
    app.post('/early', { onRequest: guard }, ok)
    app.post('/late', { preHandler: guard }, ok)
  })
  const badJson = { method: 'POST' as const, headers: { 'content-type': 'application/json', [HEADER]: partner }, payload: '{not json' }
  assert.equal((await app.inject({ ...badJson, url: '/early' })).statusCode, 403, 'onRequest: body never parsed')
  assert.equal((await app.inject({ ...badJson, url: '/late' })).statusCode, 400, 'preHandler: body parsed first')
  const good = { method: 'POST' as const, headers: { 'content-type': 'application/json', [HEADER]: partner }, payload: '{}' }
  assert.equal((await app.inject({ ...good, url: '/late' })).statusCode, 403)
  assert.equal((await app.inject({ ...good, headers: { ...good.headers, [HEADER]: service }, url: '/late' })).statusCode, 200)
  await app.close()
})

test('plugin-level authorize applies to every route; config.mtls.authorize: false opts out', async () => {
  const { app, logs } = await build((app) => {
    app.get('/any', ok)
    app.get('/health', { config: { mtls: { authorize: false } } }, ok)
    app.get('/optional', { config: { mtls: { required: false } } }, async (request) => ({ cn: request.clientCert?.commonName ?? null }))
    app.get('/both', { onRequest: requireClientCert({ subject: { CN: 'someone-else' } }) }, ok)
  }, { authorize: { subject: { O: 'Example Corp' } } })
  assert.equal((await get(app, '/any', service)).status, 200)
  const refused = await get(app, '/any', partner)
  assert.equal(refused.status, 403)
  assert.equal(refused.body.code, 'FST_MTLS_FORBIDDEN')
  assert.equal(logs.at(-1)?.mtls?.rule, 'subject.O')
  assert.equal((await get(app, '/health', partner)).status, 200)
  assert.equal((await get(app, '/health')).status, 401, 'opting out of rules does not drop the certificate requirement')
  assert.deepEqual((await get(app, '/optional')).body, { cn: null }, 'an optional route without a certificate passes')
  assert.equal((await get(app, '/optional', partner)).status, 403, 'a presented certificate must satisfy the rules')
  assert.equal((await get(app, '/both', service)).status, 403, 'plugin rules and route guard both apply')
  await app.close()
})

test('plugin-level authorize with an async predicate that throws is a 403', async () => {
  const { app } = await build((app) => { app.get('/', ok) }, { authorize: { check: async () => { throw new Error('boom') } } })
  assert.equal((await get(app, '/', service)).status, 403)
  await app.close()
})

test('bad plugin-level rules and route config fail at startup', async () => {
  const bad = Fastify()
  await assert.rejects(async () => { await bad.register(mtls, { roots: pki.root.pem, authorize: { subjet: { CN: 'x' } } as never }) }, (err: Error & { code?: string }) => {
    assert.equal(err.code, 'FST_MTLS_INVALID_OPTION')
    assert.match(err.message, /authorize: unknown rule "subjet"/)
    return true
  })
  const app = Fastify()
  await app.register(mtls, { roots: pki.root.pem })
  assert.throws(() => app.get('/x', { config: { mtls: { authorise: false } as never } }, ok), /config\.mtls\.authorise is not a setting/)
  assert.throws(() => app.get('/y', { config: { mtls: { authorize: true } as never } }, ok), /authorize can only be false/)
  assert.throws(() => app.get('/z', { config: { mtls: { required: 'no' } as never } }, ok), /required must be a boolean/)
  assert.throws(() => app.get('/w', { onRequest: requireClientCert({ san: { dns: ['*.com'] } }) }, ok), /FST_MTLS_INVALID_OPTION|top-level/)
})

const notRegistered = (context: RegExp): { code: string, message: RegExp } =>
  ({ code: 'FST_MTLS_NOT_REGISTERED', message: new RegExp(`requireClientCert guards a route or hook of the plugin context .*${context.source}.*request\\.clientCert is not decorated there`) })

test('without the plugin, a route guard fails the startup with FST_MTLS_NOT_REGISTERED (issue 14)', async () => {
  const app = Fastify()
  app.get('/', { onRequest: requireClientCert() }, ok)
  await assert.rejects(async () => { await app.ready() }, notRegistered(/fastify/))
  const listening = Fastify()
  listening.get('/', { preHandler: requireClientCert({ subject: { CN: 'client' } }) }, ok)
  await assert.rejects(listening.listen({ port: 0, host: '127.0.0.1' }), { code: 'FST_MTLS_NOT_REGISTERED' })
  await listening.close()
})

test('the plugin in a parent scope: a guard in an encapsulated child starts and works', async () => {
  const app = Fastify()
  await app.register(mtls, { roots: pki.root.pem, required: false })
  await app.register(async (child) => {
    child.get('/child', { onRequest: requireClientCert({ spiffeId: SERVICE_ID }) }, ok)
  }, { prefix: '/api' })
  await app.ready()
  assert.equal((await get(app, '/api/child', service)).status, 200)
  assert.equal((await get(app, '/api/child', partner)).status, 403)
  assert.equal((await get(app, '/api/child')).status, 401)
  await app.close()
})

test('the guard as an instance hook: starts with the plugin, fails the startup without it', async () => {
  const app = Fastify()
  await app.register(mtls, { roots: pki.root.pem, required: false })
  app.addHook('preHandler', requireClientCert({ subject: { O: 'Partner Inc' } }))
  app.get('/', ok)
  await app.ready()
  assert.equal((await get(app, '/', partner)).status, 200)
  assert.equal((await get(app, '/', service)).status, 403)
  assert.equal((await get(app, '/')).status, 401)
  await app.close()
  const bare = Fastify()
  bare.addHook('onRequest', requireClientCert())
  bare.get('/', ok)
  await assert.rejects(async () => { await bare.ready() }, { code: 'FST_MTLS_NOT_REGISTERED' })
})

test('a guard in an encapsulated child fails the startup when the plugin is registered only in a sibling', async () => {
  const app = Fastify()
  await app.register(async (a) => {
    await a.register(mtls, { roots: pki.root.pem })
    a.get('/a', { onRequest: requireClientCert() }, ok)
  })
  await app.register(async function billing (b) {
    b.get('/b', { onRequest: requireClientCert() }, ok)
  }, { prefix: '/billing' })
  await assert.rejects(async () => { await app.ready() }, notRegistered(/billing.*route prefix "\/billing"/))
  // The same sibling layout with the guard only where the plugin is: starts.
  const fine = Fastify()
  await fine.register(async (a) => {
    await a.register(mtls, { roots: pki.root.pem })
    a.get('/a', { onRequest: requireClientCert() }, ok)
  })
  await fine.register(async (b) => { b.get('/b', ok) })
  await fine.ready()
  assert.equal((await get(fine, '/a', service)).status, 200)
  assert.equal((await get(fine, '/b')).status, 200)
  await fine.close()
})

test('@fastify/auth binds at declaration: a plugin registered later in the same scope still starts; none fails', async () => {
  const app = Fastify()
  await app.register(fastifyAuth)
  // app.auth binds the guard now, before the (not awaited) plugin registration below has run.
  const hook = app.auth([requireClientCert({ spiffeId: SERVICE_ID })])
  app.register(mtls, { roots: pki.root.pem })
  app.get('/', { onRequest: hook }, ok)
  await app.ready()
  assert.equal((await get(app, '/', service)).status, 200)
  assert.equal((await get(app, '/', partner)).status, 403)
  assert.equal((await get(app, '/')).status, 401)
  await app.close()
  const bare = Fastify()
  await bare.register(fastifyAuth)
  bare.get('/', { onRequest: bare.auth([requireClientCert()]) }, ok)
  await assert.rejects(async () => { await bare.ready() }, { code: 'FST_MTLS_NOT_REGISTERED' })
})

test('fallback: a guard called from a wrapper (no bind to check) answers 500 FST_MTLS_NOT_REGISTERED, naming the route', async () => {
  const guard = requireClientCert()
  const app = Fastify()
  app.get('/wrapped', { onRequest: (request, reply, done) => { guard(request, reply, done) } }, ok)
  const res = await app.inject({ url: '/wrapped' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.json().code, 'FST_MTLS_NOT_REGISTERED')
  assert.match(res.json().message, /route \/wrapped uses requireClientCert, but request.clientCert is not decorated/)
  // Bound by hand to something that is not a Fastify instance: a plain bind.
  assert.equal(typeof guard.bind(null), 'function')
  await app.close()
})

test('composes with @fastify/auth: OR and AND relations', async () => {
  const { app } = await build(async (app) => {
    await app.register(fastifyAuth)
    const bySpiffe = requireClientCert({ spiffeId: SERVICE_ID })
    const byPartner = requireClientCert({ subject: { O: 'Partner Inc' } })
    const fromExample = requireClientCert({ issuer: { CN: 'Test Intermediate CA' } })
    app.after(() => {
      app.get('/or', { onRequest: app.auth([bySpiffe, byPartner]) }, ok)
      app.get('/and', { onRequest: app.auth([bySpiffe, fromExample], { relation: 'and' }) }, ok)
    })
  })
  assert.equal((await get(app, '/or', service)).status, 200)
  assert.equal((await get(app, '/or', partner)).status, 200)
  assert.equal((await get(app, '/and', service)).status, 200)
  const refused = await get(app, '/and', partner)
  assert.equal(refused.status, 403)
  assert.equal(refused.body.code, 'FST_MTLS_FORBIDDEN')
  await app.close()
})
