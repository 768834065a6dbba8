/**
 * Issue 14: the operator can tell who was refused and why. Each refusal reason the plugin can meet
 * is provoked through the real plugin and checked twice: the one warn line (fields, no stack) and
 * the `fastify-alb-mtls:refused` channel message. Successes are checked on `:verified`.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls, { requireClientCert, type FailureReason, type MtlsPluginOptions } from '../src/index.js'
import { createCertificate, createCrl, createTestPki, generateKeyPair, toAlbHeader, type TestPki, type Issued } from '../src/testing/index.js'
import { verifyHeaders } from '../src/cli/alb-headers.js'
import { ALB_STATUS } from '../src/fastify/refusal-log.js'
import { REFUSED_CHANNEL, VERIFIED_CHANNEL, type MtlsRefusedMessage, type MtlsVerifiedMessage } from '../src/fastify/diagnostics.js'

const HOUR = 3600_000
let p: TestPki
let other: TestPki
let p521: TestPki
let expired: Issued
let future: Issued
let serverOnly: Issued
let badSignature: Issued
let revoked: Issued
let crlPem: string
let badCrlPem: string
const extra: Record<string, Issued> = {}

const refused: MtlsRefusedMessage[] = []
const verified: MtlsVerifiedMessage[] = []
const onRefused = (m: unknown): void => { refused.push(m as MtlsRefusedMessage) }
const onVerified = (m: unknown): void => { verified.push(m as MtlsVerifiedMessage) }

before(async () => {
  p = await createTestPki()
  other = await createTestPki({ freshKeys: true })
  const now = Date.now()
  expired = await p.issue({ subject: 'CN=expired,O=Example Corp', notBefore: new Date(now - 48 * HOUR), notAfter: new Date(now - 24 * HOUR) })
  future = await p.issue({ subject: 'CN=future,O=Example Corp', notBefore: new Date(now + 24 * HOUR), notAfter: new Date(now + 48 * HOUR) })
  serverOnly = await p.issue({ subject: 'CN=server-only,O=Example Corp', extendedKeyUsage: ['serverAuth'] })
  badSignature = await p.issue({ subject: 'CN=forged,O=Example Corp', corruptSignature: true })
  revoked = await p.issue({ subject: 'CN=revoked,O=Example Corp' })
  crlPem = (await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, revoked: [{ serialNumber: revoked.serialNumber }] })).pem
  badCrlPem = (await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, corruptSignature: true })).pem
  // CAs and leaves for the path-level reasons.
  extra.notCa = await p.issue({ subject: 'CN=Not A CA', basicConstraints: { ca: false } }, p.root)
  extra.underNotCa = await p.issue({ subject: 'CN=under-not-ca' }, extra.notCa)
  extra.capped = await p.issue({ subject: 'CN=Capped CA', ca: { pathLength: 0 } }, p.root)
  extra.sub = await p.issue({ subject: 'CN=Sub CA', ca: true }, extra.capped)
  extra.deep = await p.issue({ subject: 'CN=deep' }, extra.sub)
  extra.noSign = await p.issue({ subject: 'CN=No KeyCertSign CA', ca: true, keyUsage: ['digitalSignature'] }, p.root)
  extra.underNoSign = await p.issue({ subject: 'CN=under-no-sign' }, extra.noSign)
  extra.nc = await p.issue({ subject: 'CN=Constrained CA', ca: true, nameConstraints: { permitted: { dns: ['example.com'] } } }, p.root)
  extra.outside = await p.issue({ subject: 'CN=outside', san: { dns: ['evil.org'] } }, extra.nc)
  extra.critical = await p.issue({ subject: 'CN=critical', extensions: [{ oid: '1.3.6.1.4.1.99999.1', critical: true, value: new Uint8Array([5, 0]) }] })
  extra.sha1 = await p.issue({ subject: 'CN=sha1', signatureHash: 'SHA-1' })
  extra.rsa1024 = await p.issue({ subject: 'CN=rsa1024', key: await generateKeyPair('rsa-1024') })
  extra.v1 = await p.issue({ subject: 'CN=v1', version: 1 })
  // path-budget-exceeded: with maxChainDepth 0 the work budget (16 P-256 checks) is below the cost of
  // one P-521 check (20), so the root's key never gets to vouch for the intermediate.
  p521 = await createTestPki({ algorithm: 'p-521' })
  // policy-limit-exceeded: three CAs each mapping 12 policies onto 12 (RFC 5280 6.1.4 (b)), as in
  // policies.test.ts; configured as intermediates (too large for the header).
  const domain = (d: number): string[] => Array.from({ length: 12 }, (_, i) => `1.3.6.1.4.1.55555.${d}.${i + 1}`)
  const allPairs = (from: string[], to: string[]): Array<[string, string]> => from.flatMap((a) => to.map((b): [string, string] => [a, b]))
  extra.map1 = await p.issue({ subject: 'CN=Mapping CA 1', ca: true, certificatePolicies: domain(1), policyMappings: allPairs(domain(1), domain(2)) }, p.root)
  extra.map2 = await p.issue({ subject: 'CN=Mapping CA 2', ca: true, certificatePolicies: domain(2), policyMappings: allPairs(domain(2), domain(3)) }, extra.map1)
  extra.map3 = await p.issue({ subject: 'CN=Mapping CA 3', ca: true, certificatePolicies: domain(3), policyMappings: allPairs(domain(3), domain(4)) }, extra.map2)
  extra.mapped = await p.issue({ subject: 'CN=mapped', certificatePolicies: domain(4) }, extra.map3)
  diagnosticsChannel.subscribe(REFUSED_CHANNEL, onRefused)
  diagnosticsChannel.subscribe(VERIFIED_CHANNEL, onVerified)
})

after(() => {
  diagnosticsChannel.unsubscribe(REFUSED_CHANNEL, onRefused)
  diagnosticsChannel.unsubscribe(VERIFIED_CHANNEL, onVerified)
})

interface Line { level: number, msg: string, mtls?: Record<string, unknown>, err?: { stack?: string } }

async function build (options: Partial<MtlsPluginOptions>, logs: Line[]): Promise<FastifyInstance> {
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(JSON.parse(chunk.toString()) as Line); cb() } })
  const app = Fastify({ logger: { level: 'info', stream } })
  await app.register(mtls, { roots: p.root.pem, ...options } as MtlsPluginOptions)
  app.get('/', async (request) => ({ subject: request.clientCert?.subject ?? null }))
  app.get('/ops', { onRequest: requireClientCert({ subject: { OU: 'Ops' } }) }, async () => ({ ok: true }))
  return app
}

const x = (name: string): Issued => extra[name] as Issued
const chain = (...certs: Array<{ pem: string }>): string => toAlbHeader(certs.map((c) => c.pem))

interface Case {
  reason: FailureReason
  headers: () => Record<string, string>
  options?: () => Partial<MtlsPluginOptions>
  /** The client's claimed leaf, when the log line must name it. */
  client?: () => Issued
  missingIssuer?: string
}

const CASES: Case[] = [
  { reason: 'missing', headers: () => ({}) },
  { reason: 'header-too-large', headers: () => ({ 'x-amzn-mtls-clientcert': 'A'.repeat(20_000) }) },
  { reason: 'repeated-header', headers: () => ({ 'x-amzn-mtls-clientcert': `${chain(p.leaf)},${chain(p.leaf)}` }) },
  { reason: 'bad-encoding', headers: () => ({ 'x-amzn-mtls-clientcert': '-----BEGIN%20CERTIFICATE-----%0A%%%' }) },
  { reason: 'bad-pem', headers: () => ({ 'x-amzn-mtls-clientcert': 'hello' }) },
  { reason: 'not-a-certificate', headers: () => ({ 'x-amzn-mtls-clientcert': toAlbHeader(['-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n']) }) },
  { reason: 'bad-der', headers: () => ({ 'x-amzn-mtls-clientcert': toAlbHeader(['-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n']) }) },
  { reason: 'too-many-certificates', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate, p.intermediate, p.intermediate, p.intermediate, p.intermediate, p.intermediate, p.root) }), client: () => p.leaf },
  { reason: 'untrusted', headers: () => ({ 'x-amzn-mtls-clientcert': chain(other.leaf, other.intermediate) }), client: () => other.leaf, missingIssuer: 'CN=Test Root CA,O=fastify-alb-mtls' },
  { reason: 'bad-signature', headers: () => ({ 'x-amzn-mtls-clientcert': chain(badSignature, p.intermediate) }), client: () => badSignature },
  { reason: 'expired', headers: () => ({ 'x-amzn-mtls-clientcert': chain(expired, p.intermediate) }), client: () => expired },
  { reason: 'not-yet-valid', headers: () => ({ 'x-amzn-mtls-clientcert': chain(future, p.intermediate) }), client: () => future },
  { reason: 'revoked', headers: () => ({ 'x-amzn-mtls-clientcert': chain(revoked, p.intermediate) }), options: () => ({ crls: crlPem }), client: () => revoked },
  { reason: 'ca-as-leaf', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.intermediate) }), client: () => p.intermediate },
  { reason: 'extended-key-usage', headers: () => ({ 'x-amzn-mtls-clientcert': chain(serverOnly, p.intermediate) }), client: () => serverOnly },
  { reason: 'bad-base64', headers: () => ({ 'x-amzn-mtls-clientcert': toAlbHeader(['-----BEGIN CERTIFICATE-----\n@@@@\n-----END CERTIFICATE-----\n']) }) },
  { reason: 'crl-unusable', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) }), options: () => ({ crls: badCrlPem }), client: () => p.leaf },
  { reason: 'not-a-ca', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('underNotCa'), x('notCa')) }), client: () => x('underNotCa') },
  { reason: 'path-length-exceeded', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('deep'), x('sub'), x('capped')) }), client: () => x('deep') },
  { reason: 'max-chain-depth-exceeded', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) }), options: () => ({ maxChainDepth: 0 }), client: () => p.leaf },
  { reason: 'key-usage', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('underNoSign'), x('noSign')) }), client: () => x('underNoSign') },
  { reason: 'name-constraints', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('outside'), x('nc')) }), client: () => x('outside') },
  { reason: 'unknown-critical-extension', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('critical'), p.intermediate) }), client: () => x('critical') },
  { reason: 'weak-algorithm', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('sha1'), p.intermediate) }), client: () => x('sha1') },
  { reason: 'weak-key', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('rsa1024'), p.intermediate) }), client: () => x('rsa1024') },
  { reason: 'invalid-certificate', headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('v1'), p.intermediate) }), client: () => x('v1') },
  { reason: 'incomplete-headers', headers: () => ({ 'x-amzn-mtls-clientcert-leaf': chain(p.leaf) }), options: () => ({ mode: 'verify', roots: undefined }) },
  { reason: 'revocation-unknown', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) }), options: () => ({ crlPolicy: { onMissing: 'reject' } }), client: () => p.leaf },
  {
    reason: 'path-budget-exceeded',
    headers: () => ({ 'x-amzn-mtls-clientcert': chain(p521.leaf, p521.intermediate) }),
    options: () => ({ roots: p521.root.pem, maxChainDepth: 0 }),
    client: () => p521.leaf
  },
  { reason: 'certificate-policy', headers: () => ({ 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) }), options: () => ({ policies: { requireExplicitPolicy: true } }), client: () => p.leaf },
  {
    reason: 'policy-limit-exceeded',
    headers: () => ({ 'x-amzn-mtls-clientcert': chain(x('mapped')) }),
    options: () => ({ intermediates: [x('map1').pem, x('map2').pem, x('map3').pem] }),
    client: () => x('mapped')
  },
  {
    reason: 'header-mismatch',
    headers: () => ({ ...verifyHeaders(p.leaf.der), 'x-amzn-mtls-clientcert-subject': 'CN=admin,O=Example Corp' }),
    options: () => ({ mode: 'verify', roots: undefined }),
    client: () => p.leaf
  }
]

for (const c of CASES) {
  test(`refusal ${c.reason}: one log line with its fields and ALB status, and a refused channel message`, async () => {
    const logs: Line[] = []
    const app = await build(c.options?.() ?? {}, logs)
    refused.length = 0
    const res = await app.inject({ url: '/', headers: c.headers() })
    assert.ok(res.statusCode === 400 || res.statusCode === 401, `status ${res.statusCode}`)
    const lines = logs.filter((l) => l.mtls?.reason !== undefined)
    assert.equal(lines.length, 1, 'exactly one refusal line')
    const line = lines[0] as Line
    assert.equal(line.level, c.reason === 'header-mismatch' ? 50 : 40)
    assert.equal(line.mtls?.reason, c.reason)
    assert.equal(line.mtls?.code, res.json().code)
    assert.equal(line.mtls?.albStatus, ALB_STATUS[c.reason])
    assert.equal(typeof line.mtls?.detail, 'string')
    // No stack trace anywhere for an expected 4xx.
    assert.ok(logs.every((l) => l.err?.stack === undefined || l.err.stack === ''), 'no stack in the log')
    const expected = c.client?.()
    if (expected === undefined) {
      assert.equal(line.mtls?.client, undefined)
    } else {
      const client = line.mtls?.client as { subject: string, issuer: string, serialNumber: string, fingerprint256: string }
      if (typeof expected.subject === 'string') assert.equal(client.subject, expected.subject)
      assert.match(client.issuer, /^CN=/)
      assert.equal(client.serialNumber, expected.serialNumber)
      assert.equal(client.fingerprint256, createHash('sha256').update(expected.der).digest('hex'))
    }
    if (c.missingIssuer !== undefined) assert.equal(line.mtls?.missingIssuer, c.missingIssuer)
    else assert.equal(line.mtls?.missingIssuer, undefined)

    assert.equal(refused.length, 1)
    const message = refused[0] as MtlsRefusedMessage
    assert.equal(message.request.url, '/')
    assert.equal(message.code, res.json().code)
    assert.equal(message.reason, c.reason)
    assert.equal(message.albStatus, ALB_STATUS[c.reason])
    assert.deepEqual(message.client, line.mtls?.client ?? null)
    assert.equal(message.cacheHit, false)
    assert.ok(message.durationMs >= 0)
    await app.close()
  })
}

test('the cases above cover every refusal reason', () => {
  // ALB_STATUS is typed over every FailureReason (a new reason does not compile until it is mapped),
  // so this holds only when every reason, the sources' included, has a case above.
  assert.deepEqual([...new Set(CASES.map((c) => c.reason))].sort(), Object.keys(ALB_STATUS).sort())
})

test('every reason has an ALB status entry (null where ALB has no equivalent)', () => {
  assert.equal(ALB_STATUS.untrusted, 'ClientCertUntrusted')
  assert.equal(ALB_STATUS.expired, 'ClientCertExpired')
  assert.equal(ALB_STATUS.revoked, 'ClientCertCrlHit')
  assert.equal(ALB_STATUS['extended-key-usage'], 'ClientCertPurposeInvalid')
  assert.equal(ALB_STATUS['max-chain-depth-exceeded'], 'ClientCertMaxChainDepthExceeded')
  assert.equal(ALB_STATUS.missing, null)
  for (const [reason, status] of Object.entries(ALB_STATUS)) assert.ok(status === null || /^ClientCert[A-Z][A-Za-z]+$/.test(status), reason)
})

test('a cached refusal is published with cacheHit true and logs the same fields', async () => {
  const logs: Line[] = []
  const app = await build({}, logs)
  refused.length = 0
  const headers = { 'x-amzn-mtls-clientcert': chain(expired, p.intermediate) }
  await app.inject({ url: '/', headers })
  await app.inject({ url: '/', headers })
  assert.deepEqual(refused.map((m) => m.cacheHit), [false, true])
  const lines = logs.filter((l) => l.mtls?.reason === 'expired')
  assert.equal(lines.length, 2)
  assert.deepEqual(lines[0]?.mtls, lines[1]?.mtls)
  await app.close()
})

test('verified channel: request, identity, cacheHit, durationMs', async () => {
  const app = await build({}, [])
  verified.length = 0
  const headers = { 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) }
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 200)
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 200)
  assert.equal(verified.length, 2)
  assert.equal(verified[0]?.identity.subject, 'CN=client,O=Example Corp')
  assert.equal(verified[0]?.request.url, '/')
  assert.deepEqual(verified.map((m) => m.cacheHit), [false, true])
  assert.ok(verified.every((m) => typeof m.durationMs === 'number' && m.durationMs >= 0))
  await app.close()
})

test('a rule refusal (403) is published as FST_MTLS_FORBIDDEN with the rule and the identity', async () => {
  const app = await build({}, [])
  refused.length = 0
  const res = await app.inject({ url: '/ops', headers: { 'x-amzn-mtls-clientcert': chain(p.leaf, p.intermediate) } })
  assert.equal(res.statusCode, 403)
  assert.equal(refused.length, 1)
  assert.equal(refused[0]?.code, 'FST_MTLS_FORBIDDEN')
  assert.equal(refused[0]?.reason, 'forbidden')
  assert.equal(refused[0]?.rule, 'subject.OU')
  assert.equal(refused[0]?.identity?.subject, 'CN=client,O=Example Corp')
  await app.close()
})

test('a signature by an unrelated key under a trusted name: untrusted names the issuer the client claimed', async () => {
  // A self-made "intermediate" with the real intermediate's name but another key.
  const key = await generateKeyPair('p-256')
  const fakeCa = await createCertificate({ subject: 'CN=Impostor CA,O=Elsewhere', key, ca: true })
  const leafKey = await generateKeyPair('p-256')
  const leaf = await createCertificate({ subject: 'CN=intruder', key: leafKey, issuer: { certificate: fakeCa, key } })
  const logs: Line[] = []
  const app = await build({}, logs)
  await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': chain(leaf, fakeCa) } })
  const line = logs.find((l) => l.mtls?.reason === 'untrusted')
  assert.equal(line?.mtls?.missingIssuer, 'CN=Impostor CA,O=Elsewhere (self-signed, not in roots)')
  assert.equal((line?.mtls?.client as { subject: string }).subject, 'CN=intruder')
  await app.close()
})

test('refusals from the other sources: the same one line, ALB status and channel message', async () => {
  // Their reasons are FailureReasons like ALB's (typed), so the coverage check above covers them; this
  // checks the wiring: a proxy-reported refusal and a refusal of a chain read from RFC 9440 headers.
  const b64 = (c: Issued): string => `:${Buffer.from(c.der).toString('base64')}:`
  const cases: Array<{ source: MtlsPluginOptions['source'], headers: Record<string, string>, reason: FailureReason }> = [
    { source: 'nginx', headers: { 'ssl-client-cert': encodeURIComponent(p.leaf.pem), 'ssl-client-verify': 'FAILED:certificate has expired' }, reason: 'untrusted' },
    { source: 'cloudflare', headers: { 'client-cert': b64(p.leaf), 'cf-cert-verified': 'true', 'cf-cert-revoked': 'true' }, reason: 'revoked' },
    { source: 'rfc9440', headers: { 'client-cert': b64(expired), 'client-cert-chain': b64(p.intermediate) }, reason: 'expired' },
    { source: 'rfc9440', headers: { 'client-cert-chain': b64(p.intermediate) }, reason: 'incomplete-headers' }
  ]
  for (const c of cases) {
    const logs: Line[] = []
    const app = await build({ source: c.source }, logs)
    refused.length = 0
    const res = await app.inject({ url: '/', headers: c.headers })
    assert.ok(res.statusCode === 400 || res.statusCode === 401, `${String(c.source)}: status ${res.statusCode}`)
    const lines = logs.filter((l) => l.mtls?.reason !== undefined)
    assert.equal(lines.length, 1, `${String(c.source)}: one refusal line`)
    assert.equal(lines[0]?.mtls?.reason, c.reason)
    assert.equal(lines[0]?.mtls?.code, res.json().code)
    assert.equal(lines[0]?.mtls?.albStatus, ALB_STATUS[c.reason])
    assert.equal(typeof lines[0]?.mtls?.detail, 'string')
    assert.equal(refused.length, 1)
    assert.equal(refused[0]?.reason, c.reason)
    assert.equal(refused[0]?.code, res.json().code)
    assert.equal(refused[0]?.albStatus, ALB_STATUS[c.reason])
    assert.equal(refused[0]?.request.url, '/')
    await app.close()
  }
})
