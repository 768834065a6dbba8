/**
 * The emulator's non-ALB listeners over real TLS on 127.0.0.1: an `rfc9440` listener (CloudFront
 * passthrough style) in front of an app with `source: 'rfc9440'`, and an `xfcc` listener (Envoy
 * SANITIZE_SET style) in front of an app with `source: 'xfcc'`. Client-sent copies of the headers
 * never reach the app.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls from '../../src/index.js'
import { generateDemoPki } from '../../src/cli/certs.js'
import { startAlbEmulator, type AlbEmulator } from '../../src/cli/emulate.js'

interface Identity { key: string, cert: string }

let dir: string
let root: string
let emulator: AlbEmulator
const apps: FastifyInstance[] = []
const seen: Array<Record<string, unknown>> = []
let client: Identity
let untrusted: Identity

async function target (source: 'rfc9440' | 'xfcc', roots: string, intermediates?: string): Promise<string> {
  const app = Fastify()
  apps.push(app)
  app.addHook('onRequest', async (request) => { seen.push({ ...request.headers }) })
  await app.register(mtls, { source, roots, ...(intermediates !== undefined ? { intermediates } : {}) })
  app.get('/', async (request) => ({ source: request.clientCert?.source ?? null, subject: request.clientCert?.subject ?? null }))
  return await app.listen({ host: '127.0.0.1', port: 0 })
}

async function get (port: number, id?: Identity, headers: Record<string, string> = {}): Promise<{ status: number, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      servername: 'localhost',
      port,
      path: '/',
      headers,
      ca: root,
      agent: false,
      ...(id !== undefined ? { key: id.key, cert: id.cert } : {})
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'mtls-sources-'))
  await generateDemoPki({ dir })
  const read = async (file: string): Promise<string> => await readFile(path.join(dir, file), 'utf8')
  root = await read('root-ca.crt')
  const trustStore = await read('trust-store.pem')
  client = { key: await read('private-key.pem'), cert: await read('certificate.crt') }
  untrusted = { key: await read('clients/untrusted/private-key.pem'), cert: await read('clients/untrusted/certificate.crt') }
  emulator = await startAlbEmulator({
    cert: await read('server.crt'),
    key: await read('server.key'),
    trustStore,
    listeners: [
      { mode: 'rfc9440', target: await target('rfc9440', trustStore) },
      // Node 24.21 / 26.8+ lose the client's chain on a verifying TLS server (nodejs/node#65579): the
      // XFCC may carry the leaf alone there, so this app knows the intermediate itself.
      { mode: 'xfcc', target: await target('xfcc', trustStore, await read('intermediate-ca.crt')) }
    ]
  })
})

after(async () => {
  await emulator?.close()
  await Promise.all(apps.map(async (a) => await a.close()))
  await rm(dir, { recursive: true, force: true })
})

test('rfc9440 listener: the app validates Client-Cert / Client-Cert-Chain', async () => {
  const [port] = emulator.ports
  const res = await get(port!, client)
  assert.equal(res.status, 200, res.body)
  assert.equal(JSON.parse(res.body).source, 'rfc9440')
  assert.match(String(seen.at(-1)!['client-cert']), /^:[A-Za-z0-9+/=]+:$/)
  // Like CloudFront passthrough, any certificate gets through the handshake: the app refuses it.
  assert.equal((await get(port!, untrusted)).status, 401)
  assert.equal((await get(port!)).status, 401)
  // A client-sent Client-Cert is removed by the proxy (RFC 9440 4).
  const forged = await get(port!, undefined, { 'Client-Cert': `:${Buffer.from('forged').toString('base64')}:` })
  assert.equal(forged.status, 401)
  assert.equal(seen.at(-1)!['client-cert'], undefined)
})

test('xfcc listener: the handshake needs a trusted certificate; the app validates the XFCC chain', async () => {
  const [, port] = emulator.ports
  const res = await get(port!, client)
  assert.equal(res.status, 200, res.body)
  assert.equal(JSON.parse(res.body).source, 'xfcc')
  assert.match(String(seen.at(-1)!['x-forwarded-client-cert']), /^Hash=[0-9a-f]{64};Cert="-----BEGIN%20CERTIFICATE-----%0a/)
  await assert.rejects(get(port!, untrusted))
  // A client-sent XFCC next to a real certificate is replaced, as SANITIZE_SET does.
  const spoofed = await get(port!, client, { 'X-Forwarded-Client-Cert': 'Hash=00;Subject="CN=admin"' })
  assert.equal(spoofed.status, 200)
  assert.doesNotMatch(String(seen.at(-1)!['x-forwarded-client-cert']), /CN=admin/)
})
