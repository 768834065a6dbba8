/**
 * The refusal log line names the client's claimed leaf (subject, issuer, serial, SHA-256
 * fingerprint) whatever source carried it, not only ALB's: a chain refused by validation here, a
 * proxy-verified leaf whose claims disagree, and a certificate the proxy's own flag refused before
 * any validation (then without `missingIssuer`: no configured root was consulted). Material that
 * does not parse, or a reason that leaves nothing to read, logs no claims and never throws.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, X509Certificate } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import https from 'node:https'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import mtls, { type MtlsPluginOptions } from '../src/index.js'
import { createCertificate, createTestPki, generateKeyPair, type Issued, type TestPki } from '../src/testing/index.js'
import { refusalFields } from '../src/fastify/refusal-log.js'
import * as fmt from './helpers/sources.js'

interface Logged {
  msg: string
  mtls?: {
    reason?: string
    client?: { subject: string, issuer: string, serialNumber: string, fingerprint256: string }
    missingIssuer?: string
  }
}

let pki: TestPki
/** A CA nobody configured, and a leaf it issued with the very names of the genuine client. */
let rogueCa: Issued
let rogueLeaf: Issued
const apps: FastifyInstance[] = []

before(async () => {
  pki = await createTestPki()
  const key = await generateKeyPair('p-256', { fresh: true })
  rogueCa = { ...await createCertificate({ subject: 'CN=Rogue CA,O=Elsewhere', key, ca: true }), key }
  rogueLeaf = await pki.issue({
    subject: 'CN=client,O=Example Corp',
    extendedKeyUsage: ['clientAuth'],
    san: { dns: ['client.example.internal'], uri: ['spiffe://example.org/ns/prod/sa/client'] }
  }, rogueCa)
})
after(async () => { await Promise.all(apps.map(async (a) => await a.close())) })

async function build (options: Partial<MtlsPluginOptions>, server: FastifyServerOptions = {}): Promise<{ app: FastifyInstance, logs: Logged[] }> {
  const logs: Logged[] = []
  const stream = new Writable({ write (chunk: Buffer, _e, cb) { logs.push(JSON.parse(chunk.toString()) as Logged); cb() } })
  const app = Fastify({ logger: { level: 'warn', stream }, ...server })
  apps.push(app)
  await app.register(mtls, options as MtlsPluginOptions)
  app.get('/', async () => ({ ok: true }))
  await app.ready()
  return { app, logs }
}

/** The one refusal line of a request. */
function refusal (logs: Logged[]): NonNullable<Logged['mtls']> {
  const lines = logs.filter((l) => l.mtls?.reason !== undefined)
  assert.equal(lines.length, 1, JSON.stringify(logs))
  return lines[0]!.mtls!
}

/** The claims a log line must show for `cert`, computed independently of the library. */
function expectClient (line: NonNullable<Logged['mtls']>, cert: Issued): void {
  assert.ok(line.client !== undefined, `no client in ${JSON.stringify(line)}`)
  const x = new X509Certificate(cert.der)
  assert.equal(line.client.fingerprint256, createHash('sha256').update(cert.der).digest('hex'))
  assert.equal(line.client.serialNumber.replace(/^0+/, ''), x.serialNumber.toLowerCase().replace(/^0+/, ''))
  assert.equal(line.client.subject, fmt.rfc2253(x.subject))
  assert.equal(line.client.issuer, fmt.rfc2253(x.issuer))
}

interface Case {
  what: string
  options: () => Partial<MtlsPluginOptions>
  headers: () => Record<string, string>
  reason: string
  status: number
  /** The certificate the log line must name. */
  client: () => Issued
  /** `missingIssuer` expected (undefined: none). */
  missingIssuer?: () => string
}

const ROGUE_ISSUER = 'CN=Rogue CA,O=Elsewhere (self-signed, not in roots)'
const withRoots = (): { roots: string } => ({ roots: pki.root.pem })

const cases: Case[] = [
  {
    what: 'rfc9440: a chain from a CA nobody configured',
    options: () => ({ source: 'rfc9440', ...withRoots() }),
    headers: () => fmt.rfc9440(rogueLeaf, [rogueCa]),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => ROGUE_ISSUER
  },
  {
    what: 'xfcc: a Hash that is not the leaf\'s',
    options: () => ({ source: 'xfcc', ...withRoots() }),
    headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(pki.leaf, [pki.intermediate], { hash: fmt.sha256Hex(pki.intermediate) }) }),
    reason: 'header-mismatch',
    status: 400,
    client: () => pki.leaf
  },
  {
    what: 'traefik: a leaf from a CA nobody configured',
    options: () => ({ source: 'traefik', ...withRoots() }),
    headers: () => fmt.traefik([rogueLeaf]),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => 'CN=Rogue CA,O=Elsewhere'
  },
  {
    what: 'base64-der: a leaf from a CA nobody configured',
    options: () => ({ source: 'base64-der', ...withRoots() }),
    headers: () => fmt.base64Der(rogueLeaf),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => 'CN=Rogue CA,O=Elsewhere'
  },
  {
    what: 'nginx with roots: a leaf from a CA nobody configured',
    options: () => ({ source: 'nginx', ...withRoots() }),
    headers: () => fmt.nginx(rogueLeaf),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => 'CN=Rogue CA,O=Elsewhere'
  },
  {
    what: 'nginx without roots: nginx says FAILED (refused before validation: no missingIssuer)',
    options: () => ({ source: 'nginx' }),
    headers: () => fmt.nginx(rogueLeaf, 'FAILED:unable to get local issuer certificate'),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf
  },
  {
    what: 'cloudfront: a rewritten serial number',
    options: () => ({ source: 'cloudfront' }),
    headers: () => ({ ...fmt.cloudFront(pki.leaf), 'CloudFront-Viewer-Cert-Serial-Number': '4a:3f:5c:92:d1:e8:7b:6c' }),
    reason: 'header-mismatch',
    status: 400,
    client: () => pki.leaf
  },
  {
    what: 'cloudfront: Present 0 next to a certificate (refused while reading)',
    options: () => ({ source: 'cloudfront' }),
    headers: () => ({ ...fmt.cloudFront(pki.leaf), 'CloudFront-Viewer-Cert-Present': '0' }),
    reason: 'header-mismatch',
    status: 400,
    client: () => pki.leaf
  },
  {
    what: 'gcp without roots: chain_verified false',
    options: () => ({ source: 'gcp' }),
    headers: () => fmt.gcp(rogueLeaf, [rogueCa], false, 'client_cert_validation_failed'),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf
  },
  {
    what: 'gcp with roots: a chain from a CA nobody configured',
    options: () => ({ source: 'gcp', ...withRoots() }),
    headers: () => fmt.gcp(rogueLeaf, [rogueCa], false, 'client_cert_validation_failed'),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => ROGUE_ISSUER
  },
  {
    what: 'cloudflare without roots: cf-cert-revoked true',
    options: () => ({ source: 'cloudflare' }),
    headers: () => fmt.cloudflare(pki.leaf, [pki.intermediate], true, true),
    reason: 'revoked',
    status: 401,
    client: () => pki.leaf
  },
  {
    what: 'cloudflare without roots: cf-cert-verified false',
    options: () => ({ source: 'cloudflare' }),
    headers: () => fmt.cloudflare(rogueLeaf, [rogueCa], false),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf
  },
  {
    what: 'custom extractor: a chain from a CA nobody configured',
    options: () => ({
      ...withRoots(),
      source: {
        extract: (request: { headers: Record<string, string | string[] | undefined> }) => {
          const value = request.headers['x-my-proxy-cert']
          return typeof value === 'string' ? { chain: [decodeURIComponent(value)] } : null
        }
      } as never
    }),
    headers: () => ({ 'x-my-proxy-cert': encodeURIComponent(rogueLeaf.pem + rogueCa.pem) }),
    reason: 'untrusted',
    status: 401,
    client: () => rogueLeaf,
    missingIssuer: () => ROGUE_ISSUER
  }
]

for (const c of cases) {
  test(`${c.what}: the refusal names the claimed leaf`, async () => {
    const { app, logs } = await build(c.options())
    const res = await app.inject({ url: '/', headers: c.headers() })
    assert.equal(res.statusCode, c.status, res.body)
    const line = refusal(logs)
    assert.equal(line.reason, c.reason)
    expectClient(line, c.client())
    assert.equal(line.missingIssuer, c.missingIssuer?.())
  })
}

test('the same refusal answered from the verdict cache logs the same claims', async () => {
  const { app, logs } = await build({ source: 'rfc9440', ...withRoots() })
  for (let i = 0; i < 2; i++) assert.equal((await app.inject({ url: '/', headers: fmt.rfc9440(rogueLeaf, [rogueCa]) })).statusCode, 401)
  const lines = logs.filter((l) => l.mtls?.reason === 'untrusted')
  assert.equal(lines.length, 2)
  for (const line of lines) expectClient(line.mtls!, rogueLeaf)
  assert.equal(app.mtls.verifier.stats().hits, 1)
})

test('no claims where nothing parses or the reason leaves nothing to read; never a crash', async () => {
  const { app, logs } = await build({ source: 'rfc9440', ...withRoots() })
  const b64 = (der: Uint8Array): string => `:${Buffer.from(der).toString('base64')}:`
  const attempts: Array<{ headers: Record<string, string | string[]>, reason: string }> = [
    // A repeated singleton line: which one would be the client's?
    { headers: { 'Client-Cert': [b64(rogueLeaf.der), b64(pki.leaf.der)] }, reason: 'repeated-header' },
    // Not a byte sequence.
    { headers: { 'Client-Cert': 'MIIB not base64!' }, reason: 'bad-encoding' },
    // Well-formed base64 of bytes that are no certificate.
    { headers: { 'Client-Cert': b64(Buffer.from('definitely not DER, but base64 all right')) }, reason: 'bad-der' }
  ]
  for (const attempt of attempts) {
    logs.length = 0
    const res = await app.inject({ url: '/', headers: attempt.headers })
    assert.equal(res.statusCode, 400, res.body)
    const line = refusal(logs)
    assert.equal(line.reason, attempt.reason)
    assert.equal(line.client, undefined)
  }
  // A refusal after an earlier one with claims: nothing of the earlier request leaks into it.
  logs.length = 0
  await app.inject({ url: '/', headers: fmt.rfc9440(rogueLeaf, [rogueCa]) })
  expectClient(refusal(logs), rogueLeaf)
  logs.length = 0
  await app.inject({ url: '/', headers: fmt.rfc9440(rogueLeaf, [rogueCa]), remoteAddress: '203.0.113.9' })
  assert.equal(refusal(logs).client, undefined)
})

test('custom extractor: called once per request, accepted or refused (the log reuses what it returned)', async () => {
  let calls = 0
  const { app, logs } = await build({
    ...withRoots(),
    intermediates: pki.intermediate.pem,
    source: {
      extract: (request: { headers: Record<string, string | string[] | undefined> }) => {
        calls++
        const value = request.headers['x-my-proxy-cert']
        return typeof value === 'string' ? { chain: [decodeURIComponent(value)] } : null
      }
    } as never
  })
  assert.equal((await app.inject({ url: '/', headers: { 'x-my-proxy-cert': encodeURIComponent(pki.leaf.pem) } })).statusCode, 200)
  assert.equal(calls, 1)
  assert.equal((await app.inject({ url: '/', headers: { 'x-my-proxy-cert': encodeURIComponent(rogueLeaf.pem) } })).statusCode, 401)
  assert.equal(calls, 2)
  expectClient(refusal(logs), rogueLeaf)
})

test('diagnostics_channel: the refused message carries the claimed client for a non-ALB source', async () => {
  const messages: Array<{ client: unknown, reason: string }> = []
  const listener = (message: unknown): void => { messages.push(message as { client: unknown, reason: string }) }
  diagnosticsChannel.subscribe('fastify-alb-mtls:refused', listener)
  try {
    const { app } = await build({ source: 'base64-der', ...withRoots() })
    assert.equal((await app.inject({ url: '/', headers: fmt.base64Der(rogueLeaf) })).statusCode, 401)
  } finally {
    diagnosticsChannel.unsubscribe('fastify-alb-mtls:refused', listener)
  }
  assert.equal(messages.length, 1)
  assert.equal(messages[0]!.reason, 'untrusted')
  assert.equal((messages[0]!.client as { fingerprint256: string }).fingerprint256, fmt.sha256Hex(rogueLeaf))
})

test('tls (Node terminates TLS): a client certificate from a CA nobody configured is named in the log', async () => {
  const server = await pki.issue({ subject: 'CN=localhost', extendedKeyUsage: ['serverAuth'], san: { dns: ['localhost'] } })
  const { app, logs } = await build({ source: 'tls', ...withRoots() }, {
    https: { key: server.key.privateKeyPem, cert: `${server.pem}${pki.intermediate.pem}`, requestCert: true, rejectUnauthorized: false }
  } as FastifyServerOptions)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const status = await new Promise<number>((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      path: '/',
      ca: pki.root.pem,
      servername: 'localhost',
      checkServerIdentity: () => undefined,
      key: rogueLeaf.key.privateKeyPem,
      cert: `${rogueLeaf.pem}${rogueCa.pem}`,
      agent: false
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)) })
    req.on('error', reject)
    req.end()
  })
  assert.equal(status, 401)
  const line = refusal(logs)
  assert.equal(line.reason, 'untrusted')
  expectClient(line, rogueLeaf)
  assert.equal(line.missingIssuer, ROGUE_ISSUER)
})

test('refusalFields: presented material that throws, is empty or does not parse yields no claims and never throws', () => {
  const failure = (): { ok: false, code: 'FST_MTLS_CERT_INVALID', reason: 'untrusted', message: string } =>
    ({ ok: false, code: 'FST_MTLS_CERT_INVALID', reason: 'untrusted', message: 'no path to a configured root' })
  const shapes: unknown[] = [
    { certificates: () => { throw new Error('decoder bug') }, decidedHere: true },
    { certificates: () => null, decidedHere: true },
    { certificates: () => [], decidedHere: true },
    { certificates: () => [new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x00])], decidedHere: true },
    { certificates: () => [new Uint8Array(70_000)], decidedHere: true },
    { certificates: 'not a function' },
    42,
    null
  ]
  for (const shape of shapes) {
    const fields = refusalFields(failure(), shape)
    assert.equal(fields.client, undefined)
    assert.equal(fields.reason, 'untrusted')
  }
  // A leaf that parses followed by garbage: the leaf is named, the garbage ends the list.
  const named = refusalFields(failure(), { certificates: () => [rogueLeaf.der, new Uint8Array([1, 2, 3])], decidedHere: true })
  assert.equal(named.client?.fingerprint256, fmt.sha256Hex(rogueLeaf))
  assert.equal(named.missingIssuer, 'CN=Rogue CA,O=Elsewhere')
  const proxyDecided = refusalFields(failure(), { certificates: () => [rogueLeaf.der], decidedHere: false })
  assert.equal(proxyDecided.client?.fingerprint256, fmt.sha256Hex(rogueLeaf))
  assert.equal(proxyDecided.missingIssuer, undefined)
})
