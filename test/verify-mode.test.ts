import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls, { createAlbVerifyVerifier, readAlbVerifyHeaders, type VerifyPluginOptions } from '../src/index.js'
import { normalizeSerial, parseValidity } from '../src/verifier/verify-mode.js'
import { parseDistinguishedName, sameDistinguishedName } from '../src/x509/rfc2253.js'
import { parseCertificate } from '../src/x509/parse.js'
import { createTestPki, generateKeyPair, toAlbHeader, type Issued, type TestPki } from '../src/testing/index.js'

/** The verify-mode headers ALB would send for `cert` (serial upper-case hex, as in AWS's example). */
function albVerifyHeaders (cert: Issued, issuer: string, subject: string): Record<string, string> {
  const s = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return {
    'x-amzn-mtls-clientcert-serial-number': cert.serialNumber.toUpperCase(),
    'x-amzn-mtls-clientcert-issuer': issuer,
    'x-amzn-mtls-clientcert-subject': subject,
    'x-amzn-mtls-clientcert-validity': `NotBefore=${s(cert.spec.notBefore!)};NotAfter=${s(cert.spec.notAfter!)}`,
    'x-amzn-mtls-clientcert-leaf': toAlbHeader([cert.pem])
  }
}

let p: TestPki
let good: Record<string, string>
const ISSUER = 'CN=Test Intermediate CA,O=fastify-alb-mtls'
const SUBJECT = 'CN=client,O=Example Corp'

before(async () => {
  p = await createTestPki()
  good = albVerifyHeaders(p.leaf, ISSUER, SUBJECT)
})

async function app (options: Partial<VerifyPluginOptions> = {}, logs?: string[]): Promise<FastifyInstance> {
  const stream = new Writable({ write (chunk, _enc, cb) { logs?.push(chunk.toString()); cb() } })
  const fastify = Fastify({ logger: logs === undefined ? false : { level: 'info', stream } })
  await fastify.register(mtls, { mode: 'verify', ...options })
  fastify.get('/', async (request) => request.clientCert)
  return fastify
}

test('AWS documented formats: serial, RFC 2253 issuer/subject, validity', () => {
  // Values exactly as the ALB guide ("HTTP headers for verify mode") shows them.
  assert.equal(normalizeSerial('03A5B1'), '3a5b1')
  assert.deepEqual(parseValidity('NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z'), {
    notBefore: Date.parse('2023-09-21T01:50:17Z') / 1000,
    notAfter: Date.parse('2024-09-20T01:50:17Z') / 1000
  })
  const issuer = parseDistinguishedName('CN=rootcamtls.com,OU=rootCA,O=mTLS,L=Seattle,ST=Washington,C=US')
  assert.deepEqual(issuer?.map((rdn) => rdn.map((a) => `${a.type}=${a.value}`)), [
    ['CN=rootcamtls.com'], ['OU=rootCA'], ['O=mTLS'], ['L=Seattle'], ['ST=Washington'], ['C=US']
  ])
  assert.equal(parseDistinguishedName('CN=client_.com,OU=client-3,O=mTLS,ST=Washington,C=US')?.length, 5)
  for (const bad of ['NotBefore=2023-09-21;NotAfter=2024-09-20T01:50:17Z', 'NotAfter=2024-09-20T01:50:17Z;NotBefore=2023-09-21T01:50:17Z', '']) {
    assert.equal(parseValidity(bad), null, bad)
  }
  for (const bad of ['CN', 'CN=a,', '=a', 'CN=a,,O=b', 'CN=\\']) assert.equal(parseDistinguishedName(bad), null, bad)
})

test('the AWS example certificate, end to end: headers exactly in AWS format are accepted', async () => {
  const rootKey = await generateKeyPair('p-256')
  const root = await p.issue({
    subject: 'CN=rootcamtls.com,OU=rootCA,O=mTLS,L=Seattle,ST=Washington,C=US',
    key: rootKey,
    ca: true,
    extendedKeyUsage: false
  }, p.root)
  const leaf = await p.issue({
    subject: 'CN=client_.com,OU=client-3,O=mTLS,ST=Washington,C=US',
    serialNumber: '03a5b1',
    notBefore: new Date('2023-09-21T01:50:17Z'),
    notAfter: new Date('2024-09-20T01:50:17Z'),
    extendedKeyUsage: ['clientAuth']
  }, { ...root, key: rootKey })
  const f = await app({ now: () => new Date('2024-01-01T00:00:00Z') })
  const res = await f.inject({
    url: '/',
    headers: {
      'X-Amzn-Mtls-Clientcert-Serial-Number': '03A5B1',
      'X-Amzn-Mtls-Clientcert-Issuer': 'CN=rootcamtls.com,OU=rootCA,O=mTLS,L=Seattle,ST=Washington,C=US',
      'X-Amzn-Mtls-Clientcert-Subject': 'CN=client_.com,OU=client-3,O=mTLS,ST=Washington,C=US',
      'X-Amzn-Mtls-Clientcert-Validity': 'NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z',
      'X-Amzn-Mtls-Clientcert-Leaf': toAlbHeader([leaf.pem])
    }
  })
  assert.equal(res.statusCode, 200, res.body)
  const cert = res.json()
  assert.equal(cert.serialNumber, '03a5b1')
  assert.equal(cert.subject, 'CN=client_.com,OU=client-3,O=mTLS,ST=Washington,C=US')
  assert.equal(cert.source, 'alb-verify')
  assert.equal(cert.verifiedBy, 'load-balancer')
})

test('headers printed by openssl -nameopt RFC2253 (escapes, UTF-8, multi-valued RDN) match the leaf', async () => {
  const subject: Array<Array<[string, string]>> = [
    [['C', 'FR']], [['O', 'Société, Générale']], [['OU', 'Ops'], ['OU', 'Dev']], [['CN', '#hash +plus "q" <x>; end ']]
  ]
  const leaf = await p.issue({ subject, extendedKeyUsage: ['clientAuth'] })
  const dir = mkdtempSync(join(tmpdir(), 'alb-verify-'))
  try {
    writeFileSync(join(dir, 'leaf.pem'), leaf.pem)
    const out = execFileSync('openssl', ['x509', '-in', join(dir, 'leaf.pem'), '-noout', '-serial', '-issuer', '-subject', '-nameopt', 'RFC2253'], { encoding: 'utf8' })
    const field = (name: string): string => out.split('\n').find((l) => l.startsWith(name + '='))!.slice(name.length + 1)
    const printed = field('subject')
    assert.match(printed, /\\C3\\A9/, 'openssl escapes non-ASCII as UTF-8 bytes')
    const parsedLeaf = parseCertificate(leaf.der)
    assert.ok(sameDistinguishedName(parseDistinguishedName(printed)!, parsedLeaf.subject))
    assert.ok(sameDistinguishedName(parseDistinguishedName(field('issuer'))!, parsedLeaf.issuer))
    assert.ok(!sameDistinguishedName(parseDistinguishedName(printed.replace('Ops', 'Sec'))!, parsedLeaf.subject))

    const headers = { ...albVerifyHeaders(leaf, field('issuer'), printed), 'x-amzn-mtls-clientcert-serial-number': field('serial') }
    const result = createAlbVerifyVerifier({}).verifySync(readAlbVerifyHeaders(headers))
    assert.ok(result.ok, result.ok ? '' : result.message)
    assert.deepEqual([...result.certificate.subjectAttributes.OU!].sort(), ['Dev', 'Ops'])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('verify mode: success yields the same identity shape, from the leaf', async () => {
  const f = await app()
  const res = await f.inject({ url: '/', headers: good })
  assert.equal(res.statusCode, 200, res.body)
  const cert = res.json()
  assert.equal(cert.subject, SUBJECT)
  assert.equal(cert.issuer, ISSUER)
  assert.equal(cert.spiffeId, 'spiffe://example.org/ns/prod/sa/client')
  assert.deepEqual(cert.san.dns, ['client.example.internal'])
  assert.equal(cert.fingerprint256, parseCertificate(p.leaf.der).fingerprint256)
  assert.equal(cert.chain.length, 1)
  assert.equal(cert.verifiedBy, 'load-balancer')
  assert.equal(cert.tls, undefined)
})

test('each tampered header is 400 FST_MTLS_CERT_MALFORMED, logged as tampering', async () => {
  const other = await p.issue({ subject: 'CN=other,O=Example Corp', extendedKeyUsage: ['clientAuth'] })
  const cases: Record<string, Record<string, string>> = {
    serial: { 'x-amzn-mtls-clientcert-serial-number': other.serialNumber },
    issuer: { 'x-amzn-mtls-clientcert-issuer': 'CN=Evil CA,O=fastify-alb-mtls' },
    subject: { 'x-amzn-mtls-clientcert-subject': 'CN=admin,O=Example Corp' },
    'subject order': { 'x-amzn-mtls-clientcert-subject': 'O=Example Corp,CN=client' },
    'subject extra RDN': { 'x-amzn-mtls-clientcert-subject': 'CN=client,O=Example Corp,C=US' },
    validity: { 'x-amzn-mtls-clientcert-validity': good['x-amzn-mtls-clientcert-validity']!.replace(/NotAfter=\d{4}/, 'NotAfter=2099') },
    'swapped leaf': { 'x-amzn-mtls-clientcert-leaf': toAlbHeader([other.pem]) }
  }
  for (const [name, change] of Object.entries(cases)) {
    const logs: string[] = []
    const f = await app({}, logs)
    const res = await f.inject({ url: '/', headers: { ...good, ...change } })
    assert.equal(res.statusCode, 400, name)
    assert.equal(res.json().code, 'FST_MTLS_CERT_MALFORMED', name)
    assert.ok(logs.some((l) => l.includes('"reason":"header-mismatch"') && l.includes('tampering') && l.includes('"level":50')), name)
  }
})

test('case and leading zeros of the serial, DN spacing and case do not count as tampering', async () => {
  const v = createAlbVerifyVerifier({})
  const lenient = {
    ...good,
    'x-amzn-mtls-clientcert-serial-number': '0000' + p.leaf.serialNumber.toLowerCase(),
    'x-amzn-mtls-clientcert-subject': 'cn=client, o=Example  Corp'
  }
  assert.ok(v.verifySync(readAlbVerifyHeaders(lenient)).ok)
})

test('malformed verify-mode headers: 400 with a reason', async () => {
  const v = createAlbVerifyVerifier({})
  const cases: Array<[string, Record<string, string | string[] | undefined>, string]> = [
    ['serial not hex', { 'x-amzn-mtls-clientcert-serial-number': '03:A5:B1' }, 'bad-encoding'],
    ['validity format', { 'x-amzn-mtls-clientcert-validity': 'NotBefore=yesterday;NotAfter=tomorrow' }, 'bad-encoding'],
    ['issuer syntax', { 'x-amzn-mtls-clientcert-issuer': 'no equals sign' }, 'bad-encoding'],
    ['repeated issuer', { 'x-amzn-mtls-clientcert-issuer': [ISSUER, ISSUER] }, 'repeated-header'],
    ['joined serial', { 'x-amzn-mtls-clientcert-serial-number': '01, 02' }, 'repeated-header'],
    ['missing validity', { 'x-amzn-mtls-clientcert-validity': undefined }, 'incomplete-headers'],
    ['headers without leaf', { 'x-amzn-mtls-clientcert-leaf': undefined }, 'incomplete-headers'],
    ['two certificates as leaf', { 'x-amzn-mtls-clientcert-leaf': toAlbHeader([p.leaf.pem, p.intermediate.pem]) }, 'too-many-certificates'],
    ['leaf not PEM', { 'x-amzn-mtls-clientcert-leaf': 'garbage' }, 'bad-pem'],
    ['huge subject', { 'x-amzn-mtls-clientcert-subject': 'CN=' + 'a'.repeat(20000) }, 'header-too-large']
  ]
  for (const [name, change, reason] of cases) {
    const result = v.verifySync(readAlbVerifyHeaders({ ...good, ...change }))
    assert.ok(!result.ok, name)
    assert.equal(result.code, 'FST_MTLS_CERT_MALFORMED', name)
    assert.equal(result.reason, reason, name)
  }
  const none = v.verifySync({})
  assert.ok(!none.ok)
  assert.equal(none.reason, 'missing')
})

test('a repeated verify-mode header line is refused by the plugin (rawHeaders, not the joined value)', async () => {
  const f = await app()
  const res = await f.inject({ url: '/', headers: { ...good, 'x-amzn-mtls-clientcert-subject': [SUBJECT, SUBJECT] } })
  assert.equal(res.statusCode, 400)
})

test('validity at now and the EKU rule are still enforced; ignoreExpiry mirrors ALB', async () => {
  const now = new Date(Date.now() + 60 * 86400_000) // after the leaf's notAfter
  const expired = createAlbVerifyVerifier({ now: () => now }).verifySync(readAlbVerifyHeaders(good))
  assert.ok(!expired.ok)
  assert.equal(expired.reason, 'expired')
  assert.equal(expired.code, 'FST_MTLS_CERT_INVALID')
  assert.ok(createAlbVerifyVerifier({ now: () => now, ignoreExpiry: true }).verifySync(readAlbVerifyHeaders(good)).ok)

  const server = await p.issue({ subject: 'CN=server', extendedKeyUsage: ['serverAuth'] })
  const headers = albVerifyHeaders(server, ISSUER, 'CN=server')
  const eku = createAlbVerifyVerifier({}).verifySync(readAlbVerifyHeaders(headers))
  assert.ok(!eku.ok)
  assert.equal(eku.reason, 'extended-key-usage')
  assert.ok(createAlbVerifyVerifier({ extendedKeyUsage: ['serverAuth'] }).verifySync(readAlbVerifyHeaders(headers)).ok)

  const any = await p.issue({ subject: 'CN=any', extendedKeyUsage: ['clientAuth', 'anyExtendedKeyUsage'] })
  const anyHeaders = readAlbVerifyHeaders(albVerifyHeaders(any, ISSUER, 'CN=any'))
  const anyResult = createAlbVerifyVerifier({}).verifySync(anyHeaders)
  assert.ok(!anyResult.ok)
  assert.equal(anyResult.reason, 'extended-key-usage')
  assert.ok(createAlbVerifyVerifier({ allowAnyExtendedKeyUsage: true }).verifySync(anyHeaders).ok)
})

test('the trusted-proxy rule applies exactly as in passthrough mode', async () => {
  const logs: string[] = []
  const f = await app({ trustedProxies: ['10.0.0.1'] }, logs)
  const res = await f.inject({ url: '/', headers: good })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING')
  assert.ok(logs.some((l) => l.includes('untrusted peer')))
})

test('verifyChain re-verifies the leaf against configured roots and intermediates', async () => {
  const stranger = await createTestPki({ freshKeys: true })
  const forged = albVerifyHeaders(stranger.leaf, ISSUER, SUBJECT)
  forged['x-amzn-mtls-clientcert-issuer'] = 'CN=Test Intermediate CA,O=fastify-alb-mtls'
  // Same names, another key: the headers agree with the leaf, only the signature tells.
  assert.ok(createAlbVerifyVerifier({}).verifySync(readAlbVerifyHeaders(forged)).ok)
  const strict = createAlbVerifyVerifier({ verifyChain: true, roots: p.root.pem, intermediates: p.intermediate.pem })
  const refused = strict.verifySync(readAlbVerifyHeaders(forged))
  assert.ok(!refused.ok)
  assert.equal(refused.code, 'FST_MTLS_CERT_INVALID')
  const accepted = strict.verifySync(readAlbVerifyHeaders(good))
  assert.ok(accepted.ok)
  assert.equal(accepted.certificate.chain.length, 3)
  assert.throws(() => createAlbVerifyVerifier({ verifyChain: true }), { code: 'FST_MTLS_INVALID_OPTION' })
  await assert.rejects(app({ verifyChain: true }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('renamed headers (ALB header modification) and TLS headers in both modes', async () => {
  const f = await app({ verifyHeaders: { leaf: 'X-Client-Leaf', tlsVersion: 'x-tls-v' } })
  const headers: Record<string, string> = { ...good, 'x-client-leaf': good['x-amzn-mtls-clientcert-leaf']!, 'x-tls-v': 'TLSv1.3', 'x-amzn-tls-cipher-suite': 'TLS_AES_128_GCM_SHA256' }
  delete headers['x-amzn-mtls-clientcert-leaf']
  const res = await f.inject({ url: '/', headers })
  assert.equal(res.statusCode, 200, res.body)
  assert.deepEqual(res.json().tls, { version: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' })
  // The default leaf name is no longer read.
  assert.equal((await f.inject({ url: '/', headers: good })).statusCode, 400)

  const pass = Fastify()
  await pass.register(mtls, { roots: p.root.pem })
  pass.get('/', async (request) => request.clientCert?.tls ?? null)
  const chain = toAlbHeader([p.leaf.pem, p.intermediate.pem])
  const withTls = await pass.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': chain, 'x-amzn-tls-version': 'TLSv1.2', 'x-amzn-tls-cipher-suite': 'ECDHE-RSA-AES128-GCM-SHA256' } })
  assert.deepEqual(withTls.json(), { version: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256' })
  const garbage = await pass.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': chain, 'x-amzn-tls-version': '<script>' } })
  assert.equal(garbage.json(), null)

  await assert.rejects(app({ verifyHeaders: { leaf: 'bad name' } }), { code: 'FST_MTLS_INVALID_OPTION' })
  await assert.rejects(app({ verifyHeaders: { leaf: 'x-amzn-mtls-clientcert-subject' } }), { code: 'FST_MTLS_INVALID_OPTION' })
  await assert.rejects(app({ mode: 'other' as 'verify' }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('hostile verify-mode values never end in 500', async () => {
  const f = await app()
  for (const value of ['\\', '#zz', 'CN=#00', 'CN=\\ff\\fe', '%00', 'NotBefore=9999-99-99T99:99:99Z;NotAfter=x', ',,,', '+', 'a'.repeat(17000)]) {
    for (const name of Object.keys(good)) {
      const res = await f.inject({ url: '/', headers: { ...good, [name]: value } })
      assert.ok(res.statusCode === 400 || res.statusCode === 401, `${name}=${value.slice(0, 20)}: ${res.statusCode}`)
    }
  }
})

test('verify mode caches verdicts: a repeated request is not validated again, a rewritten header always is', async () => {
  const v = createAlbVerifyVerifier({})
  const values = readAlbVerifyHeaders(good)
  for (let i = 0; i < 50; i++) assert.ok(v.verifySync(values).ok)
  assert.equal(v.stats().validations, 1)
  assert.equal(v.stats().hits, 49)
  // Same leaf, rewritten subject: validated again and refused, never served from the cache.
  const forged = readAlbVerifyHeaders({ ...good, 'x-amzn-mtls-clientcert-subject': 'CN=admin,O=Example Corp' })
  const r = v.verifySync(forged)
  assert.equal(r.ok ? 'ok' : r.reason, 'header-mismatch')
  assert.equal(v.stats().validations, 2)
  // Same tuple again: the cached refusal (failures are kept briefly), still refused.
  assert.equal(v.verifySync(forged).ok, false)
  // TLS headers do not split the cache, and the identity with them is reused per client.
  const withTls = { ...values, tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' }
  const a = v.verifySync(withTls)
  const b = v.verifySync(withTls)
  assert.ok(a.ok && b.ok)
  assert.equal(a.certificate, b.certificate)
  assert.deepEqual(a.certificate.tls, { version: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' })
  assert.equal(v.stats().validations, 2)
  // reload drops the verdicts; cache: false validates every time.
  v.reload({})
  assert.ok(v.verifySync(values).ok)
  assert.equal(v.stats().validations, 3)
  const off = createAlbVerifyVerifier({ cache: false })
  off.verifySync(values)
  off.verifySync(values)
  assert.equal(off.stats().validations, 2)
})

test('verify mode: a cached success is not reused past the leaf\'s notAfter', async () => {
  let clock = Date.now()
  const v = createAlbVerifyVerifier({ now: () => new Date(clock) })
  const values = readAlbVerifyHeaders(good)
  assert.ok(v.verifySync(values).ok)
  clock = p.leaf.spec.notAfter!.getTime() + 1000
  const r = v.verifySync(values)
  assert.equal(r.ok ? 'ok' : r.reason, 'expired')
  assert.equal(v.stats().validations, 2)
})
