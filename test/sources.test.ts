/**
 * Per-source details the shared table does not show: each grammar's edge cases, header renaming,
 * option errors, the API Gateway adapter and the custom source, through the framework-free
 * `createSourceVerifier` (requests are plain `{ rawHeaders }` objects).
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import Fastify from 'fastify'
import mtls, { createApiGatewayVerifier, createSourceVerifier, resolveSource, type SourceOption, type VerifyResult } from '../src/index.js'
import { DEFAULT_XFCC_HEADERS, parseXfcc } from '../src/sources/xfcc.js'
import { DEFAULT_CLOUDFRONT_HEADERS } from '../src/sources/cloudfront.js'
import { DEFAULT_RFC9440_HEADERS } from '../src/sources/rfc9440.js'
import { DEFAULT_NGINX_HEADERS } from '../src/sources/nginx.js'
import { DEFAULT_TRAEFIK_HEADERS } from '../src/sources/traefik.js'
import { DEFAULT_GCP_HEADERS } from '../src/sources/gcp.js'
import { DEFAULT_CLOUDFLARE_HEADERS } from '../src/sources/cloudflare.js'
import { DEFAULT_BASE64_DER_HEADERS } from '../src/sources/base64-der.js'
import { parseByteSequence, parseByteSequenceList, strictBase64 } from '../src/sources/structured.js'
import { createCertificate, createTestPki, generateKeyPair, type TestPki } from '../src/testing/index.js'
import * as fmt from './helpers/sources.js'

let pki: TestPki
before(async () => { pki = await createTestPki() })

const raw = (headers: Record<string, string | string[]>): { rawHeaders: string[] } => ({
  rawHeaders: Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).flatMap((x) => [k, x]))
})

function verifier (source: SourceOption, withRoots = true, extra: Record<string, unknown> = {}): (headers: Record<string, string | string[]>) => VerifyResult {
  const v = createSourceVerifier((context) => resolveSource(source, context), { ...(withRoots ? { roots: pki.root.pem } : {}), ...extra })
  return (headers) => v.verifySync(raw(headers))
}

const reason = (r: VerifyResult): string => r.ok ? 'ok' : r.reason

test('structured fields: byte sequences (RFC 8941 3.3.5, parsed per 4.2.7)', () => {
  assert.deepEqual(parseByteSequence(' :AQID: '), Buffer.from([1, 2, 3]))
  // 4.2.7: parsers SHOULD NOT fail on missing "=" padding or non-zero pad bits.
  assert.deepEqual(parseByteSequence(':AQI=:'), Buffer.from([1, 2]))
  assert.deepEqual(parseByteSequence(':AQI:'), Buffer.from([1, 2]))
  assert.deepEqual(parseByteSequence(':AQJ=:'), Buffer.from([1, 2]))
  assert.deepEqual(parseByteSequence(':AQ:'), Buffer.from([1]))
  // ...but MUST fail on characters outside the alphabet (and on what no padding completes).
  for (const bad of ['AQID', ':AQID', ':AQ=D:', ':AQID:;a=1', ':AQ ID:', ':AQIE=:', ':A:', ':AQIDA:', '::', ':AQ-D:', ':AQ_D:', ':AQ===:', ':AQ=:', ':AQI\n:']) {
    assert.equal(parseByteSequence(bad), null, bad)
  }
  assert.deepEqual(parseByteSequenceList(':AQID:, :BAUG:', 4), [Buffer.from([1, 2, 3]), Buffer.from([4, 5, 6])])
  assert.equal(parseByteSequenceList(':AQID:,', 4), null)
  assert.equal(parseByteSequenceList(':AQID:,:AQID:,:AQID:', 2), 'too-many')
  assert.equal(strictBase64('AQJ='), null) // non-canonical: trailing bits set
})

test('xfcc grammar: quoted values, \\" escapes, case-insensitive keys, several elements', () => {
  const parsed = parseXfcc('By=spiffe://a;hash=ab;Subject="CN=x\\"y,O=z";URI=spiffe://u1;URI=spiffe://u2,BY=spiffe://b;DNS=d.example')
  assert.ok(Array.isArray(parsed))
  assert.equal(parsed.length, 2)
  assert.deepEqual(parsed[0]!.get('subject'), ['CN=x"y,O=z'])
  assert.deepEqual(parsed[0]!.get('uri'), ['spiffe://u1', 'spiffe://u2'])
  assert.deepEqual(parsed[1]!.get('by'), ['spiffe://b'])
  for (const bad of ['By', 'By=a;', 'Subject="CN=x', 'Subject=CN=x', '=a', 'By=a"b']) {
    const r = parseXfcc(bad)
    assert.ok(!Array.isArray(r) && r.reason === 'bad-encoding', bad)
  }
})

test('xfcc: the last element (the nearest proxy) decides; an earlier client-written one is not read', () => {
  const check = verifier('xfcc')
  const forgedFirst = `Hash=${'0'.repeat(64)};Cert="garbage";Subject="CN=admin"`
  const real = fmt.xfccElement(pki.leaf, [pki.intermediate])
  const ok = check({ 'x-forwarded-client-cert': `${forgedFirst},${real}` })
  assert.equal(reason(ok), 'ok')
  // The other way round the forged element is the nearest one, and its Cert is not a certificate.
  assert.equal(reason(check({ 'x-forwarded-client-cert': `${real},${forgedFirst}` })), 'bad-pem')
  // Cert without Chain: the leaf alone, intermediates from configuration.
  const certOnly = `Hash=${fmt.sha256Hex(pki.leaf)};Cert="${encodeURIComponent(pki.leaf.pem)}"`
  assert.equal(reason(check({ 'x-forwarded-client-cert': certOnly })), 'untrusted')
  assert.equal(reason(verifier('xfcc', true, { intermediates: pki.intermediate.pem })({ 'x-forwarded-client-cert': certOnly })), 'ok')
  // Only Hash/Subject (no Cert, no Chain): nothing to validate.
  assert.equal(reason(check({ 'x-forwarded-client-cert': `Hash=${fmt.sha256Hex(pki.leaf)};Subject="CN=client"` })), 'incomplete-headers')
  // Cert that is not Chain's first certificate.
  const other = `Cert="${encodeURIComponent(pki.intermediate.pem)}";Chain="${encodeURIComponent(pki.leaf.pem + pki.intermediate.pem)}"`
  assert.equal(reason(check({ 'x-forwarded-client-cert': other })), 'header-mismatch')
})

test('rfc9440: chain without the leaf header, bad byte sequences, too many certificates', () => {
  const check = verifier('rfc9440')
  const b = (der: Uint8Array): string => `:${Buffer.from(der).toString('base64')}:`
  assert.equal(reason(check({ 'client-cert-chain': b(pki.intermediate.der) })), 'incomplete-headers')
  assert.equal(reason(check({ 'client-cert': Buffer.from(pki.leaf.der).toString('base64') })), 'bad-encoding')
  assert.equal(reason(check({ 'client-cert': b(pki.leaf.der), 'client-cert-chain': Array(8).fill(b(pki.intermediate.der)).join(', ') })), 'too-many-certificates')
  assert.equal(reason(check({ 'client-cert': b(pki.leaf.der) })), 'untrusted')
  assert.equal(reason(check({})), 'missing')
})

test('traefik: older URL-escaped PEM bodies are read too', () => {
  const check = verifier('traefik')
  const body = (pem: string): string => encodeURIComponent(pem.replace(/-----[A-Z ]+-----/g, '').trim())
  assert.equal(reason(check({ 'x-forwarded-tls-client-cert': `${body(pki.leaf.pem)},${body(pki.intermediate.pem)}` })), 'ok')
  assert.equal(reason(check({ 'x-forwarded-tls-client-cert': 'not base64!' })), 'bad-base64')
})

test('header names are configurable for every source', () => {
  const cf = verifier({ name: 'cloudfront', headers: { pem: 'x-cert-pem', serialNumber: 'x-cert-serial', sha256: false } }, false)
  const h = fmt.cloudFront(pki.leaf)
  const renamed = { ...h, 'x-cert-pem': h['CloudFront-Viewer-Cert-Pem']!, 'x-cert-serial': h['CloudFront-Viewer-Cert-Serial-Number']! }
  delete (renamed as Record<string, string>)['CloudFront-Viewer-Cert-Pem']
  delete (renamed as Record<string, string>)['CloudFront-Viewer-Cert-Serial-Number']
  assert.equal(reason(cf(renamed)), 'ok')
  const nginx = verifier({ name: 'nginx', headers: { cert: 'x-ssl-cert', verify: false } }, true, { intermediates: pki.intermediate.pem })
  assert.equal(reason(nginx({ 'x-ssl-cert': encodeURIComponent(pki.leaf.pem) })), 'ok')
  const der = verifier({ name: 'base64-der', headers: { cert: 'x-client-cert' } }, true, { intermediates: pki.intermediate.pem })
  assert.equal(reason(der({ 'x-client-cert': Buffer.from(pki.leaf.der).toString('base64') })), 'ok')
})

test('options: roots are required where the chain is validated here; unknown sources and keys fail at startup', async () => {
  for (const source of ['rfc9440', 'xfcc', 'traefik', 'base64-der', 'tls', { name: 'nginx', headers: { verify: false } }, { name: 'gcp', headers: { chainVerified: false } }, { name: 'cloudflare', headers: { verified: false } }] as SourceOption[]) {
    assert.throws(() => createSourceVerifier((c) => resolveSource(source, c), {}), { code: 'FST_MTLS_INVALID_OPTION' }, JSON.stringify(source))
  }
  assert.throws(() => resolveSource('haproxy', { validates: true }), /source must be one of/)
  assert.throws(() => resolveSource({ name: 'xfcc', headers: { cert: 'x' } }, { validates: true }), /unknown header key cert/)
  assert.throws(() => resolveSource({ name: 'rfc9440', headers: { cert: 'content-type' } }, { validates: true }), /cannot carry certificates/)
  assert.throws(() => resolveSource({ name: 'rfc9440', headers: { cert: 'a', chain: 'A' } }, { validates: true }), /share a name/)
  const app = Fastify()
  await assert.rejects(async () => { await app.register(mtls, { source: 'alb-verify', mode: 'passthrough' } as never).ready() }, /contradicts/)
  const app2 = Fastify()
  await assert.rejects(async () => { await app2.register(mtls, { source: 'rfc9440', mode: 'verify', roots: pki.root.pem } as never).ready() }, /mode is for ALB only/)
  const app3 = Fastify()
  await assert.rejects(async () => { await app3.register(mtls, { source: 'rfc9440', header: 'x-cert', roots: pki.root.pem } as never).ready() }, /header is for ALB/)
})

test("source: 'alb-passthrough' and 'alb-verify' are today's two modes", async () => {
  const app = Fastify()
  await app.register(mtls, { source: 'alb-verify' })
  app.get('/', async (request) => ({ source: request.clientCert?.source }))
  const res = await app.inject({ url: '/', headers: fmt.albVerify(pki.leaf) })
  assert.deepEqual(res.json(), { source: 'alb-verify' })
  const app2 = Fastify()
  await app2.register(mtls, { source: 'alb-passthrough', roots: pki.root.pem })
  app2.get('/', async (request) => ({ source: request.clientCert?.source }))
  assert.deepEqual((await app2.inject({ url: '/', headers: fmt.albPassthrough([pki.leaf, pki.intermediate]) })).json(), { source: 'alb-passthrough' })
})

test('API Gateway: REST (identity.clientCert) and HTTP API (authentication.clientCert) events', () => {
  const v = createApiGatewayVerifier()
  const hex = pki.leaf.serialNumber
  const clientCert = {
    clientCertPem: pki.leaf.pem,
    subjectDN: 'CN=client,O=Example Corp',
    issuerDN: 'CN=Test Intermediate CA,O=fastify-alb-mtls',
    serialNumber: hex.match(/../g)!.join(':'),
    validity: { notBefore: 'May 28 12:30:02 2019 GMT', notAfter: 'Aug  5 09:36:04 2031 GMT' }
  }
  const rest = v.verifySync({ requestContext: { identity: { clientCert } } })
  assert.ok(rest.ok)
  assert.equal(rest.certificate.source, 'api-gateway')
  assert.equal(rest.certificate.verifiedBy, 'load-balancer')
  const http = v.verifySync({ requestContext: { authentication: { clientCert } } })
  assert.ok(http.ok)
  assert.equal(reason(v.verifySync({ requestContext: { authentication: { clientCert: { ...clientCert, serialNumber: '01:02' } } } })), 'header-mismatch')
  assert.equal(reason(v.verifySync({ requestContext: {} })), 'missing')
  assert.equal(reason(v.verifySync({ requestContext: { identity: { clientCert: { serialNumber: '01' } } } })), 'incomplete-headers')
  // With verifyChain the path to roots is rebuilt here too.
  const strict = createApiGatewayVerifier({ roots: pki.root.pem, verifyChain: true })
  assert.equal(reason(strict.verifySync({ requestContext: { identity: { clientCert } } })), 'untrusted')
  const strictChain = createApiGatewayVerifier({ roots: pki.root.pem, intermediates: pki.intermediate.pem, verifyChain: true })
  assert.equal(reason(strictChain.verifySync({ requestContext: { identity: { clientCert } } })), 'ok')
})

test('custom source: a verified leaf with claims, a thrown error, nonsense', () => {
  const make = (extract: (r: unknown) => unknown): ((h: Record<string, string>) => VerifyResult) =>
    verifier({ extract } as SourceOption, false)
  assert.equal(reason(make(() => ({ verifiedLeaf: pki.leaf.der, claims: { sha256: fmt.sha256Hex(pki.leaf) } }))({})), 'ok')
  assert.equal(reason(make(() => ({ verifiedLeaf: pki.leaf.pem, claims: { subject: 'CN=admin' } }))({})), 'header-mismatch')
  assert.equal(reason(make(() => { throw new Error('boom') })({})), 'bad-encoding')
  assert.equal(reason(make(() => ({ something: 1 }))({})), 'bad-encoding')
  // A chain without roots fails closed.
  assert.equal(reason(make(() => ({ chain: [pki.leaf.der, pki.intermediate.der] }))({})), 'untrusted')
})

test('gcp and cloudflare: present/verified flags that contradict the headers are refused', () => {
  const gcp = verifier('gcp', false)
  assert.equal(reason(gcp({ ...fmt.gcp(pki.leaf, []), 'X-Client-Cert-Present': 'false' })), 'header-mismatch')
  assert.equal(reason(gcp({ 'X-Client-Cert-Present': 'false', 'X-Client-Cert-Chain-Verified': 'false', 'X-Client-Cert-Error': '' })), 'missing')
  assert.equal(reason(gcp({ ...fmt.gcp(pki.leaf, []), 'X-Client-Cert-Chain-Verified': 'yes' })), 'bad-encoding')
  const cf = verifier('cloudflare', false)
  assert.equal(reason(cf({ ...fmt.cloudflare(pki.leaf, []), 'cf-cert-verified': 'TRUE' })), 'bad-encoding')
  assert.equal(reason(cf({ 'cf-cert-verified': 'false', 'cf-cert-revoked': 'false' })), 'missing')
})

test('reload swaps roots for a source verifier and keeps roots required', () => {
  const v = createSourceVerifier((c) => resolveSource('rfc9440', c), { roots: pki.root.pem })
  const req = raw(fmt.rfc9440(pki.leaf, [pki.intermediate]))
  assert.equal(reason(v.verifySync(req)), 'ok')
  v.reload({ roots: pki.intermediate.pem })
  assert.equal(reason(v.verifySync(req)), 'ok')
  assert.throws(() => v.reload({ roots: [] }), { code: 'FST_MTLS_INVALID_OPTION' })
})

test('nginx, GCP, Cloudflare: roots given by a reload make the plugin validate; removing them never falls back to the flag', async () => {
  // A look-alike certificate (the client's names, a CA nobody configured) that the proxy says it verified.
  const key = await generateKeyPair('p-256', { fresh: true })
  const rogueCa = { ...await createCertificate({ subject: 'CN=Rogue CA', key, ca: true }), key }
  const rogue = await pki.issue({ subject: 'CN=client,O=Example Corp', extendedKeyUsage: ['clientAuth'] }, rogueCa)
  const cases: Array<[SourceOption, Record<string, string>, Record<string, string>]> = [
    ['nginx', fmt.nginx(rogue), fmt.nginx(pki.leaf)],
    ['gcp', fmt.gcp(rogue, []), fmt.gcp(pki.leaf, [pki.intermediate])],
    ['cloudflare', fmt.cloudflare(rogue, []), fmt.cloudflare(pki.leaf, [pki.intermediate])]
  ]
  for (const [source, headers, genuine] of cases) {
    const v = createSourceVerifier((context) => resolveSource(source, context), {})
    // Without roots the proxy's word is all there is (documented): believed.
    assert.equal(reason(v.verifySync(raw(headers))), 'ok', String(source))
    v.reload({ roots: pki.root.pem, intermediates: pki.intermediate.pem })
    assert.equal(reason(v.verifySync(raw(headers))), 'untrusted', `${String(source)} after roots`)
    assert.equal(reason(v.verifySync(raw(genuine))), 'ok', `${String(source)} genuine`)
    v.reload({ roots: [] })
    assert.equal(reason(v.verifySync(raw(headers))), 'untrusted', `${String(source)} after roots removed`)
    assert.equal(reason(v.verifySync(raw(genuine))), 'untrusted', `${String(source)} genuine after roots removed`)
  }
})

test('xfcc: a Subject as Envoy writes it (OpenSSL RFC 2253 text between quotes, escapes included)', async () => {
  // CN `a,b "q" \`: OpenSSL prints `CN=a\,b \"q\" \\`, and Envoy puts that between quotes as is,
  // so the value ends in `\\"`: an escaped backslash, then the closing quote.
  const subject = 'O=Example Corp,CN=a\\,b \\"q\\" \\\\'
  const leaf = await pki.issue({ subject, extendedKeyUsage: ['clientAuth'] })
  const parsed = parseXfcc(`Subject="${subject}";By=spiffe://edge`)
  assert.ok(Array.isArray(parsed))
  assert.deepEqual(parsed[0]!.get('subject'), ['O=Example Corp,CN=a\\,b "q" \\\\'])
  assert.deepEqual(parsed[0]!.get('by'), ['spiffe://edge'])
  const check = verifier('xfcc', true, { intermediates: pki.intermediate.pem })
  const element = `By=spiffe://edge;Hash=${fmt.sha256Hex(leaf)};Cert="${encodeURIComponent(leaf.pem)}";Subject="${subject}"`
  const ok = check({ 'x-forwarded-client-cert': element })
  assert.ok(ok.ok, JSON.stringify(ok))
  assert.equal(ok.certificate.commonName, 'a,b "q" \\')
  // The same name claimed for another certificate is still a mismatch.
  assert.equal(reason(check({ 'x-forwarded-client-cert': fmt.xfccElement(pki.leaf, [pki.intermediate], { subject: subject.replace(/"/g, '') }) })), 'header-mismatch')
})

test('header names are configurable for every header source: every header renamed, the defaults then ignored', () => {
  const all: Array<[string, Readonly<Record<string, string | false>>, () => Record<string, string>, boolean]> = [
    ['cloudfront', DEFAULT_CLOUDFRONT_HEADERS, () => fmt.cloudFront(pki.leaf), false],
    ['rfc9440', DEFAULT_RFC9440_HEADERS, () => fmt.rfc9440(pki.leaf, [pki.intermediate]), true],
    ['xfcc', DEFAULT_XFCC_HEADERS, () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(pki.leaf, [pki.intermediate]) }), true],
    ['nginx', DEFAULT_NGINX_HEADERS, () => fmt.nginx(pki.leaf), false],
    ['traefik', DEFAULT_TRAEFIK_HEADERS, () => fmt.traefik([pki.leaf, pki.intermediate]), true],
    ['gcp', DEFAULT_GCP_HEADERS, () => fmt.gcp(pki.leaf, [pki.intermediate]), false],
    ['cloudflare', DEFAULT_CLOUDFLARE_HEADERS, () => fmt.cloudflare(pki.leaf, [pki.intermediate]), false],
    ['base64-der', DEFAULT_BASE64_DER_HEADERS, () => fmt.base64Der(pki.leaf), true]
  ]
  for (const [name, defaults, headers, roots] of all) {
    const renamed = Object.fromEntries(Object.keys(defaults).map((key) => [key, `x-renamed-${key.toLowerCase()}`]))
    const byDefault = new Map(Object.entries(defaults).map(([key, header]) => [header, key]))
    const sent = Object.fromEntries(Object.entries(headers()).map(([header, value]) => {
      const key = byDefault.get(header.toLowerCase())
      assert.ok(key !== undefined, `${name}: ${header} is not one of its default names`)
      return [`X-Renamed-${key}`, value]
    }))
    const check = verifier({ name, headers: renamed } as SourceOption, roots, { intermediates: pki.intermediate.pem })
    assert.equal(reason(check(sent)), 'ok', name)
    // The default names mean nothing now: a client writing them is not read.
    assert.equal(reason(check(headers())), 'missing', `${name} default names`)
  }
})

test('every singleton header of every source: a second line is refused (repeated-header); list headers combine', () => {
  const LISTS = new Set(['client-cert-chain', 'x-client-cert-chain'])
  const all: Array<[SourceOption, () => Record<string, string>, boolean]> = [
    ['cloudfront', () => fmt.cloudFront(pki.leaf), false],
    ['rfc9440', () => fmt.rfc9440(pki.leaf, [pki.intermediate]), true],
    ['xfcc', () => ({ 'X-Forwarded-Client-Cert': fmt.xfccElement(pki.leaf, [pki.intermediate]) }), true],
    ['nginx', () => fmt.nginx(pki.leaf), false],
    ['traefik', () => fmt.traefik([pki.leaf, pki.intermediate]), true],
    ['gcp', () => fmt.gcp(pki.leaf, [pki.intermediate]), false],
    ['cloudflare', () => fmt.cloudflare(pki.leaf, [pki.intermediate]), false],
    ['cloudflare', () => ({ 'Cf-Client-Cert-Der-Base64': Buffer.from(pki.leaf.der).toString('base64'), 'cf-cert-verified': 'true' }), true],
    ['base64-der', () => fmt.base64Der(pki.leaf), true]
  ]
  for (const [source, headers, roots] of all) {
    const check = verifier(source, roots, { intermediates: pki.intermediate.pem })
    assert.equal(reason(check(headers())), 'ok', String(source))
    for (const [name, value] of Object.entries(headers())) {
      // The same value twice: nothing but the repetition is wrong.
      const result = check({ ...headers(), [name]: [value, value] })
      if (LISTS.has(name.toLowerCase())) {
        // A list split over lines is one list (RFC 9110 5.3): here a chain sent twice, which
        // still validates (the path builder ignores the duplicates).
        assert.equal(reason(result), 'ok', `${String(source)} ${name}`)
      } else {
        assert.equal(reason(result), 'repeated-header', `${String(source)} ${name}`)
      }
    }
  }
})

/** One HTTP/1.1 request with exactly these header lines, over a real socket (Node's own parser). */
async function rawRequest (port: number, lines: string[]): Promise<{ status: number, body: string }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.write(['GET / HTTP/1.1', 'Host: localhost', 'Connection: close', ...lines, '', ''].join('\r\n'))
  let data = ''
  socket.setEncoding('latin1')
  for await (const chunk of socket) data += chunk as string
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0), body: data.slice(data.indexOf('\r\n\r\n') + 4) }
}

test('over a real socket: repeated singleton lines (any case) are refused for non-ALB sources; a split chain list is one list', async () => {
  const b64 = (der: Uint8Array): string => `:${Buffer.from(der).toString('base64')}:`
  const cases: Array<{ source: SourceOption, lines: string[], status: number, what: string }> = [
    { source: 'rfc9440', what: 'Client-Cert twice, different case', status: 400, lines: [`Client-Cert: ${b64(pki.leaf.der)}`, `client-cert: ${b64(pki.leaf.der)}`, `Client-Cert-Chain: ${b64(pki.intermediate.der)}`] },
    { source: 'rfc9440', what: 'Client-Cert-Chain over two lines', status: 200, lines: [`Client-Cert: ${b64(pki.leaf.der)}`, `Client-Cert-Chain: ${b64(pki.intermediate.der)}`, `CLIENT-CERT-CHAIN: ${b64(pki.root.der)}`] },
    { source: 'xfcc', what: 'X-Forwarded-Client-Cert twice', status: 400, lines: [`X-Forwarded-Client-Cert: ${fmt.xfccElement(pki.leaf, [pki.intermediate])}`, `x-forwarded-client-cert: ${fmt.xfccElement(pki.leaf, [pki.intermediate])}`] },
    { source: 'traefik', what: 'X-Forwarded-Tls-Client-Cert twice (its list separator is the comma Node would join with)', status: 400, lines: [`X-Forwarded-Tls-Client-Cert: ${Buffer.from(pki.leaf.der).toString('base64')}`, `X-Forwarded-Tls-Client-Cert: ${Buffer.from(pki.intermediate.der).toString('base64')}`] },
    { source: 'nginx', what: 'ssl-client-verify twice', status: 400, lines: [`ssl-client-cert: ${encodeURIComponent(pki.leaf.pem)}`, 'ssl-client-verify: FAILED:x', 'ssl-client-verify: SUCCESS'] }
  ]
  for (const c of cases) {
    const app = Fastify()
    await app.register(mtls, { source: c.source, roots: pki.root.pem, intermediates: pki.intermediate.pem } as never)
    app.get('/', async (request) => ({ cn: request.clientCert?.commonName }))
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const res = await rawRequest((app.server.address() as net.AddressInfo).port, c.lines)
      assert.equal(res.status, c.status, `${c.what}: ${res.body}`)
      if (c.status === 400) assert.match(res.body, /FST_MTLS_CERT_MALFORMED/, c.what)
      else assert.match(res.body, /"cn":"client"/, c.what)
    } finally {
      await app.close()
    }
  }
})

test('xfcc: an Istio workload certificate (empty subject, SPIFFE URI SAN) as the gateway writes it', async () => {
  const spiffe = 'spiffe://cluster.local/ns/default/sa/client'
  const leaf = await pki.issue({ subject: [], extendedKeyUsage: ['clientAuth'], san: { uri: [spiffe] } })
  // Envoy keeps the Subject key even when the subject is empty, and writes URI bare.
  const element = `By=spiffe://cluster.local/ns/istio-system/sa/ingressgateway;Hash=${fmt.sha256Hex(leaf)};Cert="${encodeURIComponent(leaf.pem)}";Subject="";URI=${spiffe}`
  const check = verifier('xfcc', true, { intermediates: pki.intermediate.pem })
  const result = check({ 'x-forwarded-client-cert': element })
  assert.ok(result.ok, JSON.stringify(result))
  assert.equal(result.certificate.spiffeId, spiffe)
  // The empty Subject is a claim too: it must match an empty subject, not any subject.
  const other = `By=spiffe://cluster.local/ns/istio-system/sa/ingressgateway;Hash=${fmt.sha256Hex(pki.leaf)};Cert="${encodeURIComponent(pki.leaf.pem)}";Subject=""`
  assert.equal(reason(check({ 'x-forwarded-client-cert': other })), 'header-mismatch')
})

test('cloudfront: a serial with the high bit set, with or without the DER sign octet, in either hex case', async () => {
  const leaf = await pki.issue({ subject: 'CN=client,O=Example Corp', extendedKeyUsage: ['clientAuth'], serialNumber: '8f1e2d3c4b5a6978' })
  const check = verifier('cloudfront', false)
  for (const serial of ['8f:1e:2d:3c:4b:5a:69:78', '00:8f:1e:2d:3c:4b:5a:69:78', '8F:1E:2D:3C:4B:5A:69:78']) {
    assert.equal(reason(check({ ...fmt.cloudFront(leaf), 'CloudFront-Viewer-Cert-Serial-Number': serial })), 'ok', serial)
  }
  for (const serial of ['8f:1e:2d:3c:4b:5a:69:79', '8f1e2d3c4b5a6978:', '8f:1e:2d:3c:4b:5a:69:7', 'x8f']) {
    assert.notEqual(reason(check({ ...fmt.cloudFront(leaf), 'CloudFront-Viewer-Cert-Serial-Number': serial })), 'ok', serial)
  }
})

test('presented(): a framework-free verifier hands back what a refused request carried, never on its own initiative', () => {
  const v = createApiGatewayVerifier()
  const event = { requestContext: { identity: { clientCert: { clientCertPem: pki.leaf.pem, serialNumber: '01:02' } } } }
  const material = v.read(event)
  const result = v.check(material)
  assert.equal(reason(result), 'header-mismatch')
  const presented = v.presented(material)
  assert.ok(presented !== null)
  assert.equal(fmt.sha256Hex({ der: presented[0]!, pem: '' }), fmt.sha256Hex(pki.leaf))
  // Nothing to present: no certificate, or one that does not decode.
  assert.equal(v.presented(v.read({ requestContext: {} })), null)
  assert.equal(v.presented(v.read({ requestContext: { identity: { clientCert: { clientCertPem: '-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----' } } } })), null)
})
