import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import mtlsPassthrough, { type MtlsPluginOptions } from '../src/index.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

let p: TestPki
let good: string
before(async () => {
  p = await createTestPki()
  good = header(p.leaf, p.intermediate)
})

async function app (options: Partial<MtlsPluginOptions> = {}, logs?: string[]): Promise<FastifyInstance> {
  const stream = new Writable({ write (chunk, _enc, cb) { logs?.push(chunk.toString()); cb() } })
  const fastify = Fastify({ logger: logs === undefined ? false : { level: 'info', stream } })
  await fastify.register(mtlsPassthrough, { roots: p.root.pem, ...options })
  fastify.get('/', async (request) => ({ subject: request.clientCert?.subject ?? null, spiffe: request.clientCert?.spiffeId ?? null }))
  fastify.get('/open', { config: { mtls: { required: false } } }, async (request) => ({ subject: request.clientCert?.subject ?? null }))
  fastify.post('/upload', async () => ({ ok: true }))
  return fastify
}

test('a valid chain reaches the handler with request.clientCert', async () => {
  const f = await app()
  const res = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': good } })
  assert.equal(res.statusCode, 200)
  assert.deepEqual(res.json(), { subject: 'CN=client,O=Example Corp', spiffe: 'spiffe://example.org/ns/prod/sa/client' })
})

test('no certificate: 401 FST_MTLS_CERT_MISSING', async () => {
  const f = await app()
  const res = await f.inject({ url: '/' })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING')
})

test('malformed header: 400 FST_MTLS_CERT_MALFORMED, reason only in the log', async () => {
  const logs: string[] = []
  const f = await app({}, logs)
  const res = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': '-----BEGIN%20CERTIFICATE-----%0A%%%' } })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MALFORMED')
  assert.doesNotMatch(res.body, /bad-encoding/)
  assert.ok(logs.some((l) => l.includes('"reason":"bad-encoding"')))
})

test('invalid chain: 401 FST_MTLS_CERT_INVALID; the body does not say why, the log does', async () => {
  const logs: string[] = []
  const f = await app({}, logs)
  const res = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': header(p.leaf) } })
  assert.equal(res.statusCode, 401)
  assert.deepEqual(res.json(), { statusCode: 401, code: 'FST_MTLS_CERT_INVALID', error: 'Unauthorized', message: 'Client certificate is not valid' })
  assert.ok(logs.some((l) => l.includes('"reason":"untrusted"')))
})

test('refused requests never reach body parsing (onRequest)', async () => {
  const f = await app()
  let parsed = false
  f.addContentTypeParser('application/x-probe', (_req, _body, done) => { parsed = true; done(null, {}) })
  const res = await f.inject({ method: 'POST', url: '/upload', headers: { 'content-type': 'application/x-probe' }, payload: 'x' })
  assert.equal(res.statusCode, 401)
  assert.equal(parsed, false)
})

test('required: false gives clientCert === null, yet a bad certificate is still refused', async () => {
  const f = await app({ required: false })
  assert.deepEqual((await f.inject({ url: '/' })).json(), { subject: null, spiffe: null })
  const bad = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': header(p.leaf) } })
  assert.equal(bad.statusCode, 401)
  const ok = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': good } })
  assert.equal(ok.json().subject, 'CN=client,O=Example Corp')
})

test('route config mtls.required: false opens one route and still sees the identity', async () => {
  const f = await app()
  assert.deepEqual((await f.inject({ url: '/open' })).json(), { subject: null })
  assert.deepEqual((await f.inject({ url: '/open', headers: { 'x-amzn-mtls-clientcert': good } })).json(), { subject: 'CN=client,O=Example Corp' })
  assert.equal((await f.inject({ url: '/' })).statusCode, 401)
})

test('the header from an untrusted peer is ignored and logged, whatever X-Forwarded-For says', async () => {
  const logs: string[] = []
  const f = await app({}, logs)
  for (const remoteAddress of ['203.0.113.9', '2001:db8::9', '::ffff:203.0.113.9']) {
    const res = await f.inject({ url: '/', remoteAddress, headers: { 'x-amzn-mtls-clientcert': good, 'x-forwarded-for': '10.0.0.1' } })
    assert.equal(res.statusCode, 401, remoteAddress)
    assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING')
  }
  assert.ok(logs.some((l) => l.includes('untrusted peer') && l.includes('203.0.113.9')))
  for (const remoteAddress of ['10.1.2.3', '172.16.5.4', '192.168.0.7', 'fd12::1', '::ffff:10.0.0.2', '127.0.0.1', '::1']) {
    const res = await f.inject({ url: '/', remoteAddress, headers: { 'x-amzn-mtls-clientcert': good } })
    assert.equal(res.statusCode, 200, remoteAddress)
  }
})

test('trustedProxies: CIDR list, comma string and predicate', async () => {
  const list = await app({ trustedProxies: ['198.51.100.0/24'] })
  assert.equal((await list.inject({ url: '/', remoteAddress: '198.51.100.7', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 200)
  assert.equal((await list.inject({ url: '/', remoteAddress: '10.0.0.1', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 401)
  const str = await app({ trustedProxies: '198.51.100.7, 2001:db8::/32' })
  assert.equal((await str.inject({ url: '/', remoteAddress: '2001:db8::5', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 200)
  const fn = await app({ trustedProxies: (ip) => ip === '192.0.2.1' })
  assert.equal((await fn.inject({ url: '/', remoteAddress: '192.0.2.1', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 200)
  assert.equal((await fn.inject({ url: '/', remoteAddress: '192.0.2.2', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 401)
  await assert.rejects(app({ trustedProxies: ['not-an-ip'] }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('header option renames the header (ALB header modification); name case does not matter', async () => {
  const f = await app({ header: 'X-Client-Cert' })
  assert.equal((await f.inject({ url: '/', headers: { 'X-CLIENT-CERT': good } })).statusCode, 200)
  assert.equal((await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 401)
  await assert.rejects(app({ header: 'bad header' }), { code: 'FST_MTLS_INVALID_OPTION' })
  // Node keeps only the first line of these: a second value would be dropped, not refused.
  await assert.rejects(app({ header: 'Authorization' }), { code: 'FST_MTLS_INVALID_OPTION' })
  await assert.rejects(app({ header: 'user-agent' }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('a repeated header cannot smuggle a second value', async () => {
  const f = await app()
  const res = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': [good, header(p.leaf)] } })
  assert.equal(res.statusCode, 400)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MALFORMED')
})

test('hostile values always end in 400/401, never 500', async () => {
  const f = await app()
  const values = [
    'x', '%', '%00', '-----BEGIN%20CERTIFICATE-----', good.slice(0, 500), good.replace(/A/g, 'B'),
    good + '%0Ajunk', 'A'.repeat(20000), good.replace(/%0A/g, '%0A%00'), '-----BEGIN%20CERTIFICATE-----%0A' + 'MA=='.repeat(100) + '%0A-----END%20CERTIFICATE-----'
  ]
  for (const value of values) {
    const res = await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': value } })
    assert.ok([400, 401].includes(res.statusCode), `${res.statusCode} for ${value.slice(0, 40)}`)
    assert.match(res.json().code, /^FST_MTLS_/)
  }
})

test('invalid plugin options fail registration', async () => {
  await assert.rejects(app({ roots: [] }), { code: 'FST_MTLS_INVALID_OPTION' })
  await assert.rejects(app({ required: 'yes' as unknown as boolean }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('app.mtls.reload swaps the roots for the next request', async () => {
  const other = await createTestPki({ freshKeys: true })
  const f = await app()
  assert.equal((await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 200)
  f.mtls.reload({ roots: other.root.pem })
  assert.equal((await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': good } })).statusCode, 401)
  assert.equal((await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': header(other.leaf, other.intermediate) } })).statusCode, 200)
})
