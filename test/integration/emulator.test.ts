/**
 * Real TLS on 127.0.0.1: a client with (or without) a certificate -> the ALB emulator -> a Fastify app.
 * Verify listener: target records the headers it gets. Passthrough listener: target uses the plugin.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { X509Certificate, randomBytes } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { IncomingHttpHeaders } from 'node:http'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { promisify } from 'node:util'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls from '../../src/index.js'
import { generateDemoPki } from '../../src/cli/certs.js'
import { startAlbEmulator, type AlbEmulator } from '../../src/cli/emulate.js'

const run = promisify(execFile)

interface Identity { key: string; cert: string }
interface Answer { status: number; headers: IncomingHttpHeaders; body: Buffer }

let dir: string
let root: string
let emulator: AlbEmulator
let deadEmulator: AlbEmulator
let verifyPort: number
let passthroughPort: number
const apps: FastifyInstance[] = []
const verifySeen: IncomingHttpHeaders[] = []
const passthroughSeen: IncomingHttpHeaders[] = []
const ids: Record<string, Identity> = {}

async function identity (name: string): Promise<Identity> {
  const prefix = name === 'demo-client' ? '' : `clients/${name}/`
  return {
    key: await readFile(path.join(dir, `${prefix}private-key.pem`), 'utf8'),
    cert: await readFile(path.join(dir, `${prefix}certificate.crt`), 'utf8')
  }
}

/** A target app that records every request's headers before anything else runs. */
async function target (seen: IncomingHttpHeaders[], withPlugin: boolean): Promise<string> {
  const app = Fastify()
  apps.push(app)
  app.addHook('onRequest', async (request) => { seen.push(request.headers) })
  if (withPlugin) await app.register(mtls, { roots: await readFile(path.join(dir, 'trust-store.pem'), 'utf8') })
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 16 * 1024 * 1024 }, (_request, body, done) => done(null, body))
  app.get('/', async (request) => ({ identity: request.clientCert ?? null, headers: request.headers }))
  app.post('/echo', async (request, reply) => reply.type('application/octet-stream').send(request.body))
  return await app.listen({ host: '127.0.0.1', port: 0 })
}

function request (port: number, options: { id?: Identity, method?: string, path?: string, headers?: Record<string, string>, body?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      servername: 'localhost',
      port,
      method: options.method ?? 'GET',
      path: options.path ?? '/',
      headers: options.headers,
      ca: root,
      ...(options.id !== undefined ? { key: options.id.key, cert: options.id.cert } : {}),
      agent: false
    }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (options.body !== undefined) {
      // Several writes without content-length: a chunked upload that must stream through.
      for (let i = 0; i < options.body.length; i += 256 * 1024) req.write(options.body.subarray(i, i + 256 * 1024))
    }
    req.end()
  })
}

/** Sends a hand-written HTTP/1.1 request over TLS (exact header lines: case variants, duplicates). */
function raw (port: number, id: Identity | undefined, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: root, ...(id ?? {}) }, () => {
      socket.write(text)
    })
    const chunks: Buffer[] = []
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    socket.on('error', reject)
  })
}

function json (answer: Answer): { identity: Record<string, unknown> | null, headers: IncomingHttpHeaders } {
  return JSON.parse(answer.body.toString('utf8'))
}

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'alb-emulator-'))
  await generateDemoPki({ dir })
  root = await readFile(path.join(dir, 'root-ca.crt'), 'utf8')
  for (const name of ['demo-client', 'alice', 'rsa', 'expired', 'untrusted']) ids[name] = await identity(name)
  const [verifyTarget, passthroughTarget] = [await target(verifySeen, false), await target(passthroughSeen, true)]
  emulator = await startAlbEmulator({
    cert: await readFile(path.join(dir, 'server.crt')),
    key: await readFile(path.join(dir, 'server.key')),
    trustStore: await readFile(path.join(dir, 'trust-store.pem')),
    tlsHeaders: true,
    listeners: [{ mode: 'verify', target: verifyTarget }, { mode: 'passthrough', target: passthroughTarget }]
  })
  ;[verifyPort, passthroughPort] = emulator.ports as [number, number]
  // A listener whose target is down: ALB answers 502.
  const closed = Fastify()
  const closedUrl = await closed.listen({ host: '127.0.0.1', port: 0 })
  await closed.close()
  deadEmulator = await startAlbEmulator({
    cert: await readFile(path.join(dir, 'server.crt')),
    key: await readFile(path.join(dir, 'server.key')),
    target: closedUrl,
    listeners: [{ mode: 'passthrough' }]
  })
})

after(async () => {
  await emulator?.close()
  await deadEmulator?.close()
  await Promise.all(apps.map(async (app) => { await app.close() }))
  await rm(dir, { recursive: true, force: true })
})

describe('verify mode', () => {
  test('no client certificate: the TLS handshake fails and nothing reaches the target', async () => {
    const before = verifySeen.length
    await assert.rejects(request(verifyPort), (err: NodeJS.ErrnoException) => {
      assert.match(String(err.code), /CERTIFICATE_REQUIRED|ECONNRESET|EPIPE/)
      return true
    })
    assert.equal(verifySeen.length, before)
  })

  for (const name of ['untrusted', 'expired']) {
    test(`${name} certificate: the connection is refused before any HTTP exchange`, async () => {
      const before = verifySeen.length
      await assert.rejects(request(verifyPort, { id: ids[name] }))
      assert.equal(verifySeen.length, before)
    })
  }

  test('good certificate: 200, the target gets the five headers in ALB format', async () => {
    const answer = await request(verifyPort, { id: ids['demo-client'] })
    assert.equal(answer.status, 200)
    const { headers } = json(answer)
    const leafPem = ids['demo-client']!.cert.split(/(?<=-----END CERTIFICATE-----\n)/)[0]!
    const leaf = new X509Certificate(leafPem)
    assert.equal(headers['x-amzn-mtls-clientcert-serial-number'], leaf.serialNumber)
    // Node prints names one attribute per line, most significant first; RFC 2253 reverses and joins.
    const rfc2253 = (name: string): string => name.split('\n').reverse().join(',')
    assert.equal(headers['x-amzn-mtls-clientcert-subject'], rfc2253(leaf.subject))
    assert.equal(headers['x-amzn-mtls-clientcert-issuer'], rfc2253(leaf.issuer))
    const iso = (text: string): string => new Date(text).toISOString().replace('.000Z', 'Z')
    assert.equal(headers['x-amzn-mtls-clientcert-validity'], `NotBefore=${iso(leaf.validFrom)};NotAfter=${iso(leaf.validTo)}`)
    const leafHeader = headers['x-amzn-mtls-clientcert-leaf'] as string
    assert.match(leafHeader, /^-----BEGIN%20CERTIFICATE-----%0A[A-Za-z0-9+/=%]+-----END%20CERTIFICATE-----%0A$/)
    assert.equal(decodeURIComponent(leafHeader), leafPem)
    assert.equal(headers['x-amzn-mtls-clientcert'], undefined, 'no passthrough header in verify mode')
    assert.equal(headers['x-forwarded-proto'], 'https')
    assert.equal(headers['x-forwarded-port'], String(verifyPort))
    assert.equal(headers['x-forwarded-for'], '127.0.0.1')
    assert.match(String(headers['x-amzn-trace-id']), /^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/)
    assert.equal(headers['x-amzn-tls-version'], 'TLSv1.3')
    assert.match(String(headers['x-amzn-tls-cipher-suite']), /^TLS_(AES|CHACHA20)_[A-Z0-9_]+$/)
  })

  test('RSA client certificate is accepted too', async () => {
    const answer = await request(verifyPort, { id: ids.rsa })
    assert.equal(answer.status, 200)
    assert.equal(json(answer).headers['x-amzn-mtls-clientcert-subject'], 'CN=rsa-client,O=Example Corp')
  })

  test('client-sent X-Amzn-Mtls-* headers never reach the target, whatever their case or count', async () => {
    const before = verifySeen.length
    const text = await raw(verifyPort, ids.alice, [
      'GET / HTTP/1.1', 'Host: localhost', 'Connection: close',
      'X-Amzn-Mtls-Clientcert-Subject: CN=admin,O=Example Corp',
      'x-amzn-mtls-clientcert-subject: CN=root',
      'X-AMZN-MTLS-CLIENTCERT: forged',
      'x-Amzn-mTLS-Clientcert-Leaf: forged',
      'X-Amzn-Mtls-Anything: forged',
      'X-Amzn-Tls-Version: forged',
      'x-amzn-tls-cipher-suite: forged',
      '', ''
    ].join('\r\n'))
    assert.match(text, /^HTTP\/1\.1 200 /)
    const seen = verifySeen.slice(before)
    assert.equal(seen.length, 1)
    const mtlsHeaders = Object.entries(seen[0]!).filter(([name]) => name.startsWith('x-amzn-mtls-'))
    assert.deepEqual(mtlsHeaders.map(([name]) => name).sort(), [
      'x-amzn-mtls-clientcert-issuer', 'x-amzn-mtls-clientcert-leaf', 'x-amzn-mtls-clientcert-serial-number',
      'x-amzn-mtls-clientcert-subject', 'x-amzn-mtls-clientcert-validity'
    ])
    assert.equal(seen[0]!['x-amzn-mtls-clientcert-subject'], 'CN=alice,OU=Engineering,O=Example Corp')
    assert.ok(!JSON.stringify(seen[0]).includes('forged'))
  })
})

describe('passthrough mode', () => {
  test('no client certificate: the handshake succeeds and the plugin answers 401', async () => {
    const answer = await request(passthroughPort)
    assert.equal(answer.status, 401)
    assert.equal(JSON.parse(answer.body.toString()).code, 'FST_MTLS_CERT_MISSING')
  })

  test('good certificate: 200 with the identity the plugin verified', async () => {
    const answer = await request(passthroughPort, { id: ids.alice })
    assert.equal(answer.status, 200)
    const { identity, headers } = json(answer)
    assert.ok(identity !== null)
    assert.equal(identity.subject, 'CN=alice,OU=Engineering,O=Example Corp')
    assert.equal(identity.verifiedBy, 'fastify-alb-mtls')
    assert.deepEqual((identity.san as { email: string[] }).email, ['alice@example.com'])
    // The chain the client sent (leaf + intermediate), leaf first, URL-encoded with + = / literal.
    const chain = headers['x-amzn-mtls-clientcert'] as string
    assert.equal(decodeURIComponent(chain), ids.alice!.cert)
    assert.doesNotMatch(chain, /%2B|%3D|%2F/)
    for (const name of ['serial-number', 'issuer', 'subject', 'validity', 'leaf']) {
      assert.equal(headers[`x-amzn-mtls-clientcert-${name}`], undefined, `no verify-mode ${name} header`)
    }
  })

  test('a certificate from an untrusted root passes the handshake (key possession) and gets 401 from the plugin', async () => {
    const answer = await request(passthroughPort, { id: ids.untrusted })
    assert.equal(answer.status, 401)
    assert.equal(JSON.parse(answer.body.toString()).code, 'FST_MTLS_CERT_INVALID')
  })

  test('a forged X-Amzn-Mtls-Clientcert (any case, duplicated) is stripped: 401 missing, never the forged chain', async () => {
    const forged = encodeURIComponent(ids.alice!.cert)
    const before = passthroughSeen.length
    const text = await raw(passthroughPort, undefined, [
      'GET / HTTP/1.1', 'Host: localhost', 'Connection: close',
      `X-Amzn-Mtls-Clientcert: ${forged}`,
      `x-amzn-mtls-clientcert: ${forged}`,
      `X-AMZN-MTLS-CLIENTCERT: ${forged}`,
      '', ''
    ].join('\r\n'))
    assert.match(text, /^HTTP\/1\.1 401 /)
    assert.match(text, /FST_MTLS_CERT_MISSING/)
    const seen = passthroughSeen.slice(before)
    assert.equal(seen.length, 1)
    assert.equal(seen[0]!['x-amzn-mtls-clientcert'], undefined)
  })

  test('with a certificate, a forged header is replaced by the real chain', async () => {
    const answer = await request(passthroughPort, { id: ids.untrusted, headers: { 'X-Amzn-Mtls-Clientcert': encodeURIComponent(ids.alice!.cert) } })
    assert.equal(answer.status, 401)
    assert.equal(JSON.parse(answer.body.toString()).code, 'FST_MTLS_CERT_INVALID')
  })

  test('X-Forwarded-For is appended to; X-Forwarded-Proto and -Port are set by the listener', async () => {
    const answer = await request(passthroughPort, {
      id: ids['demo-client'],
      headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Forwarded-Proto': 'http', 'X-Forwarded-Port': '80' }
    })
    assert.equal(answer.status, 200)
    const { headers } = json(answer)
    assert.equal(headers['x-forwarded-for'], '203.0.113.7, 127.0.0.1')
    assert.equal(headers['x-forwarded-proto'], 'https')
    assert.equal(headers['x-forwarded-port'], String(passthroughPort))
  })

  test('request and response bodies stream through unchanged (chunked upload, 3 MiB)', async () => {
    const body = randomBytes(3 * 1024 * 1024)
    const answer = await request(passthroughPort, { id: ids['demo-client'], method: 'POST', path: '/echo', headers: { 'content-type': 'application/octet-stream' }, body })
    assert.equal(answer.status, 200)
    assert.equal(answer.body.length, body.length)
    assert.ok(answer.body.equals(body))
  })

  test('target down: 502 from the load balancer', async () => {
    const answer = await request(deadEmulator.ports[0]!, { id: ids['demo-client'] })
    assert.equal(answer.status, 502)
  })

  test('the plugin sees the TLS version ALB forwards; a forged one is replaced', async () => {
    const answer = await request(passthroughPort, { id: ids['demo-client'], headers: { 'X-Amzn-Tls-Version': 'TLSv1' } })
    assert.equal(answer.status, 200)
    const { identity } = json(answer)
    assert.equal((identity?.tls as { version: string }).version, 'TLSv1.3')
  })
})

describe('curl, when installed', async () => {
  const curl = await run('which', ['curl']).then(() => true, () => false)
  const skip = curl ? false : 'curl is not installed'
  const curlArgs = (port: number, id?: string): string[] => {
    const prefix = id === undefined || id === 'demo-client' ? '' : `clients/${id}/`
    return [
      '-sS', `https://localhost:${port}/`, '--cacert', path.join(dir, 'root-ca.crt'),
      ...(id !== undefined ? ['--key', path.join(dir, `${prefix}private-key.pem`), '--cert', path.join(dir, `${prefix}certificate.crt`)] : [])
    ]
  }

  test('verify mode: no certificate fails the handshake', { skip }, async () => {
    await assert.rejects(run('curl', curlArgs(verifyPort)), (err: { code: number, stderr: string }) => {
      assert.notEqual(err.code, 0)
      return true
    })
  })

  test('verify mode: --key private-key.pem --cert certificate.crt gets 200 and the headers', { skip }, async () => {
    const { stdout } = await run('curl', [...curlArgs(verifyPort, 'demo-client'), '-H', 'X-Amzn-Mtls-Clientcert-Subject: CN=forged'])
    const headers = JSON.parse(stdout).headers as IncomingHttpHeaders
    assert.equal(headers['x-amzn-mtls-clientcert-subject'], 'CN=demo-client,O=fastify-alb-mtls demo')
  })

  test('passthrough mode: certificate gets the identity, none gets 401', { skip }, async () => {
    const ok = JSON.parse((await run('curl', curlArgs(passthroughPort, 'demo-client'))).stdout)
    assert.equal(ok.identity.subject, 'CN=demo-client,O=fastify-alb-mtls demo')
    const { stdout } = await run('curl', [...curlArgs(passthroughPort), '-o', '/dev/null', '-w', '%{http_code}', '-H', `X-Amzn-Mtls-Clientcert: ${encodeURIComponent(ids.alice!.cert)}`])
    assert.equal(stdout, '401')
  })
})
