/**
 * Issue 14: each misconfiguration gets an error (or a startup log line) that says what to fix.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import mtls, { clientCertOf, createVerifier, hasClientCert, requireClientCert, type MtlsPluginOptions } from '../src/index.js'
import { createTestPki, toAlbHeader, type TestPki } from '../src/testing/index.js'
import { suggestOption } from '../src/fastify/options-check.js'

let p: TestPki
before(async () => { p = await createTestPki() })

const optionError = (pattern: RegExp) => (err: unknown): boolean => {
  assert.equal((err as { code?: string }).code, 'FST_MTLS_INVALID_OPTION')
  assert.match((err as Error).message, pattern)
  return true
}

test('roots given a file path: says to pass the contents or use loadTrustStore()', () => {
  assert.throws(() => createVerifier({ roots: ['./ca.pem'] }),
    optionError(/roots\[0\] \("\.\/ca\.pem"\) looks like a file path: pass the file's contents \(readFileSync\(path, 'utf8'\)\) or use loadTrustStore\(path\)/))
  assert.throws(() => createVerifier({ roots: '/etc/ssl/alb/trust-store.crt' }), optionError(/looks like a file path/))
  // Not a path, not PEM: the parser's own detail.
  assert.throws(() => createVerifier({ roots: 'hello world' }), optionError(/roots\[0\]: unexpected text/))
})

test('roots given an empty string: says it is empty, not "no certificate in the header"', () => {
  for (const roots of ['', '  \n', ['']]) {
    assert.throws(() => createVerifier({ roots }), (err: unknown) => {
      assert.match((err as Error).message, /roots\[0\] is an empty string: no certificate/)
      assert.doesNotMatch((err as Error).message, /header/)
      return true
    })
  }
})

test('a leaf (end-entity) certificate in roots is refused at registration, naming its subject', async () => {
  assert.throws(() => createVerifier({ roots: [p.root.pem, p.leaf.pem] }),
    optionError(/roots\[1\]: CN=client,O=Example Corp is not a CA certificate .* cannot be a trust anchor/))
  const app = Fastify()
  await assert.rejects((async () => { await app.register(mtls, { roots: p.leaf.pem }); await app.ready() })(), optionError(/CN=client,O=Example Corp is not a CA certificate/))
  // A v1 root (no extensions) is still a valid anchor (RFC 5280 6.1.1 (d)).
  assert.ok(createVerifier({ roots: p.root.pem }))
})

test('startup log lists the trust anchors; a bundled intermediate is called out', async () => {
  const logs: Array<{ level: number, msg: string, mtls?: { anchors?: Array<Record<string, unknown>>, anchor?: Record<string, unknown> } }> = []
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(JSON.parse(chunk.toString())); cb() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(mtls, { roots: `${p.root.pem}${p.intermediate.pem}` })
  await app.ready()
  const listed = logs.find((l) => l.msg === 'mtls: 2 trust anchors loaded')
  assert.ok(listed !== undefined)
  assert.deepEqual(listed.mtls?.anchors?.map((a) => [a.subject, a.selfSigned]), [
    ['CN=Test Root CA,O=fastify-alb-mtls', true],
    ['CN=Test Intermediate CA,O=fastify-alb-mtls', false]
  ])
  for (const a of listed.mtls?.anchors ?? []) {
    assert.match(String(a.fingerprint256), /^[0-9a-f]{64}$/)
    assert.ok(!Number.isNaN(Date.parse(String(a.notAfter))))
  }
  const warned = logs.filter((l) => l.level === 40)
  assert.equal(warned.length, 1)
  assert.match(warned[0]?.msg ?? '', /roots holds CN=Test Intermediate CA,O=fastify-alb-mtls, which is not self-signed: it is a trust anchor as configured.*pass it in intermediates/)
  // reload logs the new anchors too
  logs.length = 0
  app.mtls.reload({ roots: p.root.pem })
  assert.ok(logs.some((l) => l.msg === 'mtls: 1 trust anchor loaded'))
  await app.close()
})

test('unknown plugin options are refused, with the likely intended name', async () => {
  for (const [options, pattern] of [
    [{ roots: p.root.pem, trustedProxy: ['10.0.0.0/8'] }, /unknown option "trustedProxy" \(did you mean "trustedProxies"\?\)/],
    [{ root: p.root.pem, roots: p.root.pem }, /unknown option "root" \(did you mean "roots"\?\)/],
    [{ roots: p.root.pem, frobnicate: true }, /unknown option "frobnicate"$/],
    // Nested settings too: a misspelt onMissing would silently leave revocation unchecked.
    [{ roots: p.root.pem, crlPolicy: { onMising: 'reject' } }, /crlPolicy: unknown setting "onMising" \(known: onExpired, onMissing, requireCrlNumber\)/],
    [{ roots: p.root.pem, cache: { maxEntries: 10 } }, /cache: unknown setting "maxEntries"/],
    [{ roots: p.root.pem, policies: { explicit: true } }, /policies: unknown setting "explicit"/]
  ] as const) {
    const app = Fastify()
    await assert.rejects((async () => { await app.register(mtls, options as unknown as MtlsPluginOptions); await app.ready() })(), optionError(pattern))
  }
  assert.equal(suggestOption('requried'), 'required')
  assert.equal(suggestOption('crl'), 'crls')
  // Fastify's own register options and loadTrustStore()'s `files` are accepted.
  const app = Fastify()
  await app.register(mtls, { roots: p.root.pem, files: ['trust.pem'], logLevel: 'warn' } as unknown as MtlsPluginOptions)
  await app.ready()
  await app.close()
})

test('registering twice names the plugin', async () => {
  const app = Fastify()
  await app.register(mtls, { roots: p.root.pem })
  await assert.rejects((async () => { await app.register(mtls, { roots: p.root.pem }); await app.ready() })(), optionError(/fastify-alb-mtls is already registered in this app/))
})

test('clientCertOf: the non-null identity on guarded routes; 401 or 500 where it cannot be', async () => {
  const app = Fastify()
  await app.register(mtls, { roots: p.root.pem, required: false })
  app.get('/guarded', { onRequest: requireClientCert() }, async (request) => clientCertOf(request).subject)
  app.get('/open', async (request) => (hasClientCert(request) ? request.clientCert.subject : 'anonymous'))
  app.get('/unguarded', async (request) => clientCertOf(request).subject)
  const headers = { 'x-amzn-mtls-clientcert': toAlbHeader([p.leaf.pem, p.intermediate.pem]) }
  assert.equal((await app.inject({ url: '/guarded', headers })).body, 'CN=client,O=Example Corp')
  assert.equal((await app.inject({ url: '/open' })).body, 'anonymous')
  assert.equal((await app.inject({ url: '/open', headers })).body, 'CN=client,O=Example Corp')
  const missing = await app.inject({ url: '/unguarded' })
  assert.equal(missing.statusCode, 401)
  assert.equal(missing.json().code, 'FST_MTLS_CERT_MISSING')
  const bare = Fastify()
  bare.get('/', async (request) => clientCertOf(request).subject)
  const res = await bare.inject({ url: '/' })
  assert.equal(res.statusCode, 500)
  assert.equal(res.json().code, 'FST_MTLS_NOT_REGISTERED')
})
