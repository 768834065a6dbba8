/**
 * One table of identity and guard expectations, run unchanged over every source: whatever proxy
 * forwards the certificate, the application sees the same `request.clientCert` (only `source` and
 * `verifiedBy` differ) and the same guards answer the same way. Each row also carries its spoof
 * tests: the headers from an untrusted peer, a repeated singleton line, a forged flag or claim,
 * and, wherever the chain is validated here, a look-alike certificate (the client's very names,
 * another CA's key) next to whatever the proxy's flags say. The API Gateway adapter (no HTTP at all)
 * runs the same identity expectations and the same guard rules through the guards' matcher.
 * Header values follow each proxy's documentation (test/helpers/sources.ts).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, X509Certificate } from 'node:crypto'
import https from 'node:https'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import mtls, { createApiGatewayVerifier, requireClientCert, type MtlsPluginOptions, type CertificateSource } from '../src/index.js'
import { createCertificate, createTestPki, generateKeyPair, type TestPki, type Issued } from '../src/testing/index.js'
import { compileRules, failedRule } from '../src/fastify/guards.js'
import * as fmt from './helpers/sources.js'

const SPIFFE = 'spiffe://example.org/ns/prod/sa/client'

let pki: TestPki
let leaf: Issued
let chain: Issued[]
/**
 * The spoof every source that validates here must refuse: a certificate with the genuine client's
 * very names (subject, SANs), issued by a CA nobody configured, sent in the proxy's exact format.
 */
let rogue: Issued
let rogueCa: Issued
const apps: FastifyInstance[] = []

before(async () => {
  pki = await createTestPki()
  leaf = pki.leaf
  chain = [pki.intermediate]
  const key = await generateKeyPair('p-256', { fresh: true })
  rogueCa = { ...await createCertificate({ subject: 'CN=Test Intermediate CA,O=fastify-alb-mtls', key, ca: true }), key }
  rogue = await pki.issue({
    subject: 'CN=client,O=Example Corp',
    extendedKeyUsage: ['clientAuth'],
    san: { dns: ['client.example.internal'], uri: [SPIFFE] }
  }, rogueCa)
})

/** A forged row: the rogue certificate from the same names' CA, refused (no path to a configured root). */
const ROGUE = { status: 401, reason: 'untrusted' }
after(async () => { await Promise.all(apps.map(async (a) => await a.close())) })

type Headers = Record<string, string | string[]>

interface Row {
  label: string
  source: CertificateSource
  verifiedBy: 'fastify-alb-mtls' | 'load-balancer'
  /** Plugin options besides roots (given when `roots` is true). */
  options: () => Partial<MtlsPluginOptions>
  roots: boolean
  /** Headers as the proxy sends them for the test leaf and its chain. */
  headers: () => Headers
  /** A singleton header to send twice. */
  singleton: string
  /** Forged variants: headers, the status and the logged reason they must end with. */
  forged: Array<{ what: string, headers: () => Headers, status: number, reason: string }>
}

const withChain = (): { intermediates: string } => ({ intermediates: pki.intermediate.pem })

const rows: Row[] = [
  {
    label: 'alb-passthrough (default)',
    source: 'alb-passthrough',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({}),
    roots: true,
    headers: () => fmt.albPassthrough([leaf, ...chain]),
    singleton: 'X-Amzn-Mtls-Clientcert',
    forged: [{ what: 'a look-alike chain from another CA', headers: () => fmt.albPassthrough([rogue, rogueCa]), ...ROGUE }]
  },
  {
    label: 'alb-verify',
    source: 'alb-verify',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'alb-verify' }),
    roots: false,
    headers: () => fmt.albVerify(leaf),
    singleton: 'X-Amzn-Mtls-Clientcert-Leaf',
    forged: [{ what: 'a rewritten subject', headers: () => ({ ...fmt.albVerify(leaf), 'X-Amzn-Mtls-Clientcert-Subject': 'CN=admin,O=Example Corp' }), status: 400, reason: 'header-mismatch' }]
  },
  {
    label: 'cloudfront',
    source: 'cloudfront',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'cloudfront' }),
    roots: false,
    headers: () => fmt.cloudFront(leaf),
    singleton: 'CloudFront-Viewer-Cert-Pem',
    forged: [
      { what: 'a rewritten serial number', headers: () => ({ ...fmt.cloudFront(leaf), 'CloudFront-Viewer-Cert-Serial-Number': '4a:3f:5c:92:d1:e8:7b:6c' }), status: 400, reason: 'header-mismatch' },
      { what: 'a SHA-256 of another certificate', headers: () => ({ ...fmt.cloudFront(leaf), 'CloudFront-Viewer-Cert-Sha256': fmt.sha256Hex(pki.intermediate) }), status: 400, reason: 'header-mismatch' },
      { what: 'Present: 0 next to a certificate', headers: () => ({ ...fmt.cloudFront(leaf), 'CloudFront-Viewer-Cert-Present': '0' }), status: 400, reason: 'header-mismatch' }
    ]
  },
  {
    label: 'cloudfront with verifyChain',
    source: 'cloudfront',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'cloudfront', verifyChain: true, ...withChain() }),
    roots: true,
    headers: () => fmt.cloudFront(leaf),
    singleton: 'CloudFront-Viewer-Cert-Serial-Number',
    forged: []
  },
  {
    label: 'rfc9440',
    source: 'rfc9440',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'rfc9440' }),
    roots: true,
    headers: () => fmt.rfc9440(leaf, chain),
    singleton: 'Client-Cert',
    forged: [
      { what: 'a self-signed leaf', headers: () => fmt.rfc9440(pki.root), status: 401, reason: 'ca-as-leaf' },
      { what: 'a look-alike chain from another CA', headers: () => fmt.rfc9440(rogue, [rogueCa]), ...ROGUE }
    ]
  },
  {
    label: 'rfc9440, chain split across lines',
    source: 'rfc9440',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'rfc9440' }),
    roots: true,
    headers: () => ({ 'Client-Cert': fmt.rfc9440(leaf)['Client-Cert']!, 'Client-Cert-Chain': [`:${Buffer.from(pki.intermediate.der).toString('base64')}:`, `:${Buffer.from(pki.root.der).toString('base64')}:`] }),
    singleton: 'Client-Cert',
    forged: []
  },
  {
    label: 'xfcc',
    source: 'xfcc',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'xfcc' }),
    roots: true,
    headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(leaf, chain, { uri: [SPIFFE], dns: ['client.example.internal'] }) }),
    singleton: 'X-Forwarded-Client-Cert',
    forged: [
      { what: 'a Hash of another certificate', headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(leaf, chain, { hash: fmt.sha256Hex(pki.intermediate) }) }), status: 400, reason: 'header-mismatch' },
      { what: 'a URI the leaf does not hold', headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(leaf, chain, { uri: ['spiffe://example.org/ns/prod/sa/admin'] }) }), status: 400, reason: 'header-mismatch' },
      { what: 'a Subject the leaf does not hold', headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(leaf, chain, { subject: 'CN=admin,O=Example Corp' }) }), status: 400, reason: 'header-mismatch' },
      { what: 'a look-alike chain from another CA', headers: () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(rogue, [rogueCa], { uri: [SPIFFE] }) }), ...ROGUE },
      {
        what: 'a genuine element written before the nearest proxy\'s look-alike one',
        headers: () => ({ 'X-Forwarded-Client-Cert': `${fmt.xfccElement(leaf, chain)},${fmt.xfccElement(rogue, [rogueCa])}` }),
        ...ROGUE
      }
    ]
  },
  {
    label: 'nginx, plugin validates',
    source: 'nginx',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'nginx', ...withChain() }),
    roots: true,
    headers: () => fmt.nginx(leaf),
    singleton: 'ssl-client-cert',
    forged: [
      { what: 'FAILED from nginx', headers: () => fmt.nginx(leaf, 'FAILED:certificate has expired'), status: 401, reason: 'untrusted' },
      { what: 'SUCCESS next to a look-alike certificate from another CA', headers: () => fmt.nginx(rogue), ...ROGUE }
    ]
  },
  {
    label: 'nginx, believed on SUCCESS',
    source: 'nginx',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'nginx' }),
    roots: false,
    headers: () => fmt.nginx(leaf),
    singleton: 'ssl-client-verify',
    forged: [
      { what: 'NONE next to a certificate', headers: () => fmt.nginx(leaf, 'NONE'), status: 400, reason: 'header-mismatch' },
      { what: 'no verify header', headers: () => fmt.nginx(leaf, null), status: 400, reason: 'incomplete-headers' }
    ]
  },
  {
    label: 'traefik',
    source: 'traefik',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'traefik' }),
    roots: true,
    headers: () => fmt.traefik([leaf, ...chain]),
    singleton: 'X-Forwarded-Tls-Client-Cert',
    forged: [
      { what: 'a look-alike chain from another CA', headers: () => fmt.traefik([rogue, rogueCa]), ...ROGUE }
    ]
  },
  {
    label: 'gcp, plugin validates',
    source: 'gcp',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'gcp' }),
    roots: true,
    headers: () => fmt.gcp(leaf, chain, false, 'client_cert_validation_failed'),
    singleton: 'X-Client-Cert-Leaf',
    forged: [{ what: 'chain_verified true next to a look-alike chain from another CA', headers: () => fmt.gcp(rogue, [rogueCa]), ...ROGUE }]
  },
  {
    label: 'gcp, believed when chain verified',
    source: 'gcp',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'gcp' }),
    roots: false,
    headers: () => fmt.gcp(leaf, chain),
    singleton: 'X-Client-Cert-Chain-Verified',
    forged: [{ what: 'chain_verified false', headers: () => fmt.gcp(leaf, chain, false, 'client_cert_validation_failed'), status: 401, reason: 'untrusted' }]
  },
  {
    label: 'cloudflare, plugin validates',
    source: 'cloudflare',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'cloudflare' }),
    roots: true,
    headers: () => fmt.cloudflare(leaf, chain),
    singleton: 'Client-Cert',
    forged: [
      { what: 'revoked', headers: () => fmt.cloudflare(leaf, chain, true, true), status: 401, reason: 'revoked' },
      { what: 'cert_verified true next to a look-alike chain from another CA', headers: () => fmt.cloudflare(rogue, [rogueCa]), ...ROGUE }
    ]
  },
  {
    label: 'cloudflare, believed when verified',
    source: 'cloudflare',
    verifiedBy: 'load-balancer',
    options: () => ({ source: 'cloudflare' }),
    roots: false,
    headers: () => fmt.cloudflare(leaf, chain),
    singleton: 'cf-cert-verified',
    forged: [{ what: 'cert_verified false', headers: () => fmt.cloudflare(leaf, chain, false), status: 401, reason: 'untrusted' }]
  },
  {
    label: 'cloudflare legacy Cf-Client-Cert-Der-Base64',
    source: 'cloudflare',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'cloudflare', ...withChain() }),
    roots: true,
    headers: () => ({ 'Cf-Client-Cert-Der-Base64': Buffer.from(leaf.der).toString('base64'), 'cf-cert-verified': 'true', 'cf-cert-revoked': 'false' }),
    singleton: 'Cf-Client-Cert-Der-Base64',
    forged: [{ what: 'a look-alike leaf from another CA', headers: () => ({ 'Cf-Client-Cert-Der-Base64': Buffer.from(rogue.der).toString('base64'), 'cf-cert-verified': 'true', 'cf-cert-revoked': 'false' }), ...ROGUE }]
  },
  {
    label: 'base64-der (X-ARR-ClientCert)',
    source: 'base64-der',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({ source: 'base64-der', ...withChain() }),
    roots: true,
    headers: () => fmt.base64Der(leaf),
    singleton: 'X-ARR-ClientCert',
    forged: [
      { what: 'another CA\'s certificate', headers: () => fmt.base64Der(pki.intermediate), status: 401, reason: 'ca-as-leaf' },
      { what: 'a look-alike leaf from another CA', headers: () => fmt.base64Der(rogue), ...ROGUE }
    ]
  },
  {
    label: 'custom extractor',
    source: 'custom',
    verifiedBy: 'fastify-alb-mtls',
    options: () => ({
      source: {
        extract: (request: { headers: Record<string, string | string[] | undefined> }) => {
          const value = request.headers['x-my-proxy-cert']
          return typeof value === 'string' ? { chain: [decodeURIComponent(value), pki.intermediate.pem] } : null
        }
      } as never
    }),
    roots: true,
    headers: () => ({ 'x-my-proxy-cert': encodeURIComponent(leaf.pem) }),
    singleton: '',
    forged: [{ what: 'a look-alike leaf from another CA', headers: () => ({ 'x-my-proxy-cert': encodeURIComponent(rogue.pem) }), ...ROGUE }]
  }
]

interface Logged { msg: string, mtls?: { reason?: string, source?: string } }

async function build (row: Row, server: FastifyServerOptions = {}): Promise<{ app: FastifyInstance, logs: Logged[] }> {
  const logs: Logged[] = []
  const stream = new Writable({ write (chunk: Buffer, _e, cb) { logs.push(JSON.parse(chunk.toString()) as Logged); cb() } })
  const app = Fastify({ logger: { level: 'warn', stream }, ...server })
  apps.push(app)
  await app.register(mtls, { ...(row.roots ? { roots: pki.root.pem } : {}), ...row.options() } as MtlsPluginOptions)
  routes(app)
  await app.ready()
  return { app, logs }
}

function routes (app: FastifyInstance): void {
  app.get('/id', async (request) => {
    const c = request.clientCert!
    return {
      subject: c.subject,
      issuer: c.issuer,
      commonName: c.commonName,
      serialNumber: c.serialNumber,
      fingerprint256: c.fingerprint256,
      x5tS256: c.x5tS256,
      spiffeId: c.spiffeId,
      san: c.san,
      O: c.subjectAttributes.O,
      notAfter: c.notAfter.toISOString(),
      source: c.source,
      verifiedBy: c.verifiedBy,
      chainLength: c.chain.length
    }
  })
  app.get('/spiffe', { onRequest: requireClientCert({ spiffeId: SPIFFE }) }, async () => ({ ok: true }))
  app.get('/dns', { onRequest: requireClientCert({ san: { dns: 'client.example.internal' }, subject: { O: 'Example Corp' } }) }, async () => ({ ok: true }))
  app.get('/pinned', { onRequest: requireClientCert({ fingerprint256: createHash('sha256').update(pki.leaf.der).digest('hex') }) }, async () => ({ ok: true }))
  app.get('/admin', { onRequest: requireClientCert({ subject: { CN: 'admin' } }) }, async () => ({ ok: true }))
  app.get('/tls', async (request) => request.clientCert?.tls ?? {})
  app.get('/optional', { config: { mtls: { required: false } } }, async (request) => ({ cert: request.clientCert?.commonName ?? null }))
}

/** The shared expectations: the same identity whatever the source. */
function expectIdentity (body: Record<string, unknown>, source: CertificateSource, verifiedBy: string): void {
  const der = Buffer.from(pki.leaf.der)
  assert.equal(body.subject, 'CN=client,O=Example Corp')
  assert.equal(body.issuer, 'CN=Test Intermediate CA,O=fastify-alb-mtls')
  assert.equal(body.commonName, 'client')
  assert.equal(body.serialNumber, pki.leaf.serialNumber.replace(/^0+/, '') || '0')
  assert.equal(body.fingerprint256, createHash('sha256').update(der).digest('hex'))
  assert.equal(body.x5tS256, createHash('sha256').update(der).digest('base64url'))
  assert.equal(body.spiffeId, SPIFFE)
  assert.deepEqual(body.san, { dns: ['client.example.internal'], uri: [SPIFFE], email: [], ip: [] })
  assert.deepEqual(body.O, ['Example Corp'])
  assert.equal(body.source, source)
  assert.equal(body.verifiedBy, verifiedBy)
  // A proxy-verified leaf has no path here unless verifyChain rebuilt it.
  assert.ok((body.chainLength as number) >= 1)
}

/** The shared guard expectations. */
async function expectGuards (get: (url: string) => Promise<number>): Promise<void> {
  assert.equal(await get('/spiffe'), 200)
  assert.equal(await get('/dns'), 200)
  assert.equal(await get('/pinned'), 200)
  assert.equal(await get('/admin'), 403)
}

for (const row of rows) {
  test(`${row.label}: the shared identity and guard expectations`, async () => {
    const { app } = await build(row)
    const res = await app.inject({ url: '/id', headers: row.headers() })
    assert.equal(res.statusCode, 200, res.body)
    expectIdentity(res.json(), row.source, row.verifiedBy)
    await expectGuards(async (url) => (await app.inject({ url, headers: row.headers() })).statusCode)
    // The verdict cache answers the second request: same identity.
    expectIdentity((await app.inject({ url: '/id', headers: row.headers() })).json(), row.source, row.verifiedBy)
    // No certificate: 401 where required, null where optional.
    assert.equal((await app.inject({ url: '/id' })).statusCode, 401)
    assert.deepEqual((await app.inject({ url: '/optional' })).json(), { cert: null })
    assert.deepEqual((await app.inject({ url: '/optional', headers: row.headers() })).json(), { cert: 'client' })
  })

  test(`${row.label}: headers from an untrusted peer are ignored and logged`, async () => {
    const { app, logs } = await build(row)
    const res = await app.inject({ url: '/id', headers: row.headers(), remoteAddress: '203.0.113.9' })
    assert.equal(res.statusCode, 401)
    assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING')
    assert.ok(logs.some((l) => /untrusted peer/.test(l.msg)), JSON.stringify(logs))
  })

  if (row.singleton !== '') {
    test(`${row.label}: a repeated ${row.singleton} line is refused`, async () => {
      const { app, logs } = await build(row)
      const headers = row.headers()
      const name = Object.keys(headers).find((k) => k.toLowerCase() === row.singleton.toLowerCase())!
      const res = await app.inject({ url: '/id', headers: { ...headers, [name]: [headers[name] as string, headers[name] as string] } })
      assert.equal(res.statusCode, 400, res.body)
      assert.ok(logs.some((l) => l.mtls?.reason === 'repeated-header'), JSON.stringify(logs))
    })
  }

  for (const forged of row.forged) {
    test(`${row.label}: ${forged.what} is refused (${forged.reason})`, async () => {
      const { app, logs } = await build(row)
      const res = await app.inject({ url: '/id', headers: forged.headers() })
      assert.equal(res.statusCode, forged.status, res.body)
      assert.ok(logs.some((l) => l.mtls?.reason === forged.reason), JSON.stringify(logs))
    })
  }
}

test('tls (Node terminates TLS itself): the shared identity and guard expectations', async () => {
  const server = await pki.issue({ subject: 'CN=localhost', extendedKeyUsage: ['serverAuth'], san: { dns: ['localhost'] } })
  const app = Fastify({
    https: { key: server.key.privateKeyPem, cert: `${server.pem}${pki.intermediate.pem}`, requestCert: true, rejectUnauthorized: false }
  })
  apps.push(app)
  // No header is read: trustedProxies (which would exclude 127.0.0.1 here) does not apply.
  await app.register(mtls, { source: 'tls', roots: pki.root.pem, trustedProxies: ['10.0.0.0/8'] })
  routes(app)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const port = (app.server.address() as AddressInfo).port
  const get = async (url: string, withCert = true, headers: Headers = {}): Promise<{ status: number, body: string }> => await new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1',
      port,
      path: url,
      headers,
      ca: pki.root.pem,
      servername: 'localhost',
      checkServerIdentity: () => undefined,
      ...(withCert ? { key: leaf.key.privateKeyPem, cert: `${leaf.pem}${pki.intermediate.pem}` } : {}),
      agent: false
    }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end()
  })
  const res = await get('/id')
  assert.equal(res.status, 200, res.body)
  expectIdentity(JSON.parse(res.body), 'tls', 'fastify-alb-mtls')
  assert.match(JSON.parse((await get('/tls')).body).version, /^TLSv1\.[23]$/)
  await expectGuards(async (url) => (await get(url)).status)
  assert.equal((await get('/id', false)).status, 401)
  assert.deepEqual(JSON.parse((await get('/optional', false)).body), { cert: null })
  // Spoof: certificate headers of every other format, without a certificate in the handshake,
  // are not read at all (the tls source reads the connection only).
  const spoof = { ...fmt.rfc9440(leaf, chain), 'X-Forwarded-Client-Cert': fmt.xfccElement(leaf, chain), ...fmt.albPassthrough([leaf, ...chain]), ...fmt.nginx(leaf) }
  assert.equal((await get('/id', false, spoof)).status, 401)
  assert.deepEqual(JSON.parse((await get('/optional', false, spoof)).body), { cert: null })
})

test('api-gateway (Lambda event, no framework): the shared identity expectations, the same guard rules', () => {
  const x = new X509Certificate(leaf.der)
  const hex = x.serialNumber.toLowerCase()
  // API Gateway's documented shape: PEM as is, serial as colon hex.
  const clientCert = {
    clientCertPem: leaf.pem,
    subjectDN: fmt.rfc2253(x.subject),
    issuerDN: fmt.rfc2253(x.issuer),
    serialNumber: (hex.length % 2 === 1 ? `0${hex}` : hex).match(/../g)!.join(':'),
    validity: { notBefore: x.validFrom, notAfter: x.validTo }
  }
  const verifier = createApiGatewayVerifier()
  for (const event of [{ requestContext: { identity: { clientCert } } }, { requestContext: { authentication: { clientCert } } }]) {
    const result = verifier.verifySync(event)
    assert.ok(result.ok, JSON.stringify(result))
    const c = result.certificate
    expectIdentity({
      subject: c.subject,
      issuer: c.issuer,
      commonName: c.commonName,
      serialNumber: c.serialNumber,
      fingerprint256: c.fingerprint256,
      x5tS256: c.x5tS256,
      spiffeId: c.spiffeId,
      san: c.san,
      O: c.subjectAttributes.O,
      source: c.source,
      verifiedBy: c.verifiedBy,
      chainLength: c.chain.length
    }, 'api-gateway', 'load-balancer')
    // The rules the routes above use, through the guards' own matcher (no request needed).
    const passes = (rules: Parameters<typeof compileRules>[0]): boolean => failedRule(compileRules(rules), c) === null
    assert.equal(passes({ spiffeId: SPIFFE }), true)
    assert.equal(passes({ san: { dns: 'client.example.internal' }, subject: { O: 'Example Corp' } }), true)
    assert.equal(passes({ fingerprint256: createHash('sha256').update(pki.leaf.der).digest('hex') }), true)
    assert.equal(passes({ subject: { CN: 'admin' } }), false)
  }
  // The spoofs API Gateway's event can carry: a serial that is not the PEM's, a look-alike PEM
  // checked against roots with verifyChain.
  const forged = verifier.verifySync({ requestContext: { identity: { clientCert: { ...clientCert, serialNumber: '4a:3f:5c:92:d1:e8:7b:6c' } } } })
  assert.equal(forged.ok ? 'ok' : forged.reason, 'header-mismatch')
  const strict = createApiGatewayVerifier({ roots: pki.root.pem, intermediates: pki.intermediate.pem, verifyChain: true })
  assert.ok(strict.verifySync({ requestContext: { identity: { clientCert } } }).ok)
  const rogueEvent = { requestContext: { identity: { clientCert: { ...clientCert, clientCertPem: rogue.pem, serialNumber: undefined } } } }
  const refused = strict.verifySync(rogueEvent)
  assert.equal(refused.ok ? 'ok' : refused.reason, 'untrusted')
})
