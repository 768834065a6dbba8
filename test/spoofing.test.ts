/**
 * Spoofing: who may send the certificate header, and whether a second value can be smuggled in.
 *
 * test/plugin.test.ts covers the basics through inject (untrusted IPv4/IPv6/IPv4-mapped peers with
 * X-Forwarded-For, an array of values). This file adds what inject cannot show: raw HTTP/1.1 bytes
 * on a real socket (duplicate lines in any case, folding, odd names), Fastify's own trustProxy, every
 * forwarding header at once, and IPv6 forms that embed a trusted IPv4 address without being it.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import mtlsPassthrough, { type MtlsPluginOptions } from '../src/index.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

let p: TestPki
let good: string
let other: string
const apps: FastifyInstance[] = []

before(async () => {
  p = await createTestPki()
  good = header(p.leaf, p.intermediate)
  const second = await p.issue({ subject: 'CN=mallory', extendedKeyUsage: ['clientAuth'] })
  other = header(second, p.intermediate)
})

after(async () => {
  await Promise.all(apps.map(async (a) => await a.close()))
})

async function app (options: Partial<MtlsPluginOptions> = {}, server: FastifyServerOptions = {}): Promise<FastifyInstance> {
  const fastify = Fastify(server)
  apps.push(fastify)
  await fastify.register(mtlsPassthrough, { roots: p.root.pem, ...options })
  fastify.get('/', async (request) => ({ cn: request.clientCert?.commonName ?? null, ip: request.ip }))
  return fastify
}

/** Sends raw request bytes to 127.0.0.1 and returns status and body. */
async function raw (port: number, lines: string[]): Promise<{ status: number, body: string }> {
  const socket = net.connect(port, '127.0.0.1')
  socket.write(['GET / HTTP/1.1', 'Host: localhost', 'Connection: close', ...lines, '', ''].join('\r\n'))
  let data = ''
  socket.setEncoding('latin1')
  for await (const chunk of socket) data += chunk as string
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)
  return { status, body: data.slice(data.indexOf('\r\n\r\n') + 4) }
}

async function listening (options: Partial<MtlsPluginOptions> = {}): Promise<number> {
  const f = await app(options)
  await f.listen({ port: 0, host: '127.0.0.1' })
  const address = f.server.address()
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

test('baseline over a real socket: loopback is trusted by default', async () => {
  const port = await listening()
  const res = await raw(port, [`X-Amzn-Mtls-Clientcert: ${good}`])
  assert.equal(res.status, 200)
  assert.match(res.body, /"cn":"client"/)
})

test('an untrusted peer cannot borrow a trusted address through any forwarding header', async () => {
  // 127.0.0.1 is not trusted here; every header below claims a trusted address.
  const port = await listening({ trustedProxies: ['10.0.0.0/8'] })
  const claims = [
    'X-Forwarded-For: 10.0.0.1', 'X-Forwarded-For: 10.0.0.1, 10.0.0.2', 'X-Real-IP: 10.0.0.1', 'Forwarded: for=10.0.0.1',
    'True-Client-IP: 10.0.0.1', 'X-Client-IP: 10.0.0.1', 'X-Amzn-Trace-Id: Root=1-00000000-000000000000000000000000'
  ]
  const res = await raw(port, [...claims, `X-Amzn-Mtls-Clientcert: ${good}`])
  assert.equal(res.status, 401)
  assert.match(res.body, /FST_MTLS_CERT_MISSING/)
})

test("Fastify's trustProxy does not make X-Forwarded-For a trusted peer for the plugin", async () => {
  const f = await app({}, { trustProxy: true })
  const res = await f.inject({ url: '/', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '10.0.0.1', 'x-amzn-mtls-clientcert': good } })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING')
  // request.ip does follow X-Forwarded-For there: the plugin must not use it.
  const open = await app({ required: false }, { trustProxy: true })
  const seen = await open.inject({ url: '/', remoteAddress: '203.0.113.9', headers: { 'x-forwarded-for': '10.0.0.1', 'x-amzn-mtls-clientcert': good } })
  assert.deepEqual(seen.json(), { cn: null, ip: '10.0.0.1' })
})

test('IPv6 forms that embed a trusted IPv4 address are not that address', async () => {
  const f = await app({ trustedProxies: ['10.0.0.0/8'] })
  // Written as Node reports socket addresses (canonical text): the matcher only ever sees those.
  const embedded = [
    '::a00:1', // IPv4-compatible ::10.0.0.1 (deprecated), not IPv4-mapped
    '64:ff9b::a00:1', // NAT64 of 10.0.0.1
    '2002:a00:1::1', // 6to4 of 10.0.0.1
    '::ffff:0:a00:1', // SIIT translated form
    '10.0.0.1.example', '10.0.0.1/8', '' // not addresses at all
  ]
  for (const remoteAddress of embedded) {
    const res = await f.inject({ url: '/', remoteAddress, headers: { 'x-amzn-mtls-clientcert': good } })
    assert.equal(res.statusCode, 401, remoteAddress)
    assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING', remoteAddress)
  }
  // The real IPv4-mapped form is the address (Node reports it on dual-stack sockets).
  const mapped = await f.inject({ url: '/', remoteAddress: '::ffff:10.0.0.1', headers: { 'x-amzn-mtls-clientcert': good } })
  assert.equal(mapped.statusCode, 200)
})

test('trustedProxies: [] trusts nobody, loopback included', async () => {
  const f = await app({ trustedProxies: [] })
  for (const remoteAddress of ['127.0.0.1', '::1', '10.0.0.1']) {
    const res = await f.inject({ url: '/', remoteAddress, headers: { 'x-amzn-mtls-clientcert': good } })
    assert.equal(res.json().code, 'FST_MTLS_CERT_MISSING', remoteAddress)
  }
})

test('duplicate header lines in any case: refused as repeated, never first- or last-wins', async () => {
  const port = await listening()
  const variants: Array<[string, string[]]> = [
    ['same case', [`X-Amzn-Mtls-Clientcert: ${good}`, `X-Amzn-Mtls-Clientcert: ${other}`]],
    ['different case', [`x-amzn-mtls-clientcert: ${other}`, `X-AMZN-MTLS-CLIENTCERT: ${good}`]],
    ['same value twice', [`X-Amzn-Mtls-Clientcert: ${good}`, `x-Amzn-mtls-ClientCert: ${good}`]],
    ['empty first line', ['X-Amzn-Mtls-Clientcert: ', `X-Amzn-Mtls-Clientcert: ${good}`]],
    ['empty last line', [`X-Amzn-Mtls-Clientcert: ${good}`, 'X-Amzn-Mtls-Clientcert:']],
    ['split between lines', [`X-Amzn-Mtls-Clientcert: ${good.slice(0, 400)}`, `X-Amzn-Mtls-Clientcert: ${good.slice(400)}`]]
  ]
  for (const [label, lines] of variants) {
    const res = await raw(port, lines)
    assert.equal(res.status, 400, label)
    assert.match(res.body, /FST_MTLS_CERT_MALFORMED/, label)
  }
})

test('malformed header lines never reach the plugin as a value', async () => {
  const port = await listening()
  const cases: Array<[string, string[]]> = [
    // obs-fold: a continuation line could carry a second chain.
    ['folded continuation', [`X-Amzn-Mtls-Clientcert: ${good}`, ` ${other}`]],
    ['space before colon', [`X-Amzn-Mtls-Clientcert : ${good}`]],
    ['NUL in value', [`X-Amzn-Mtls-Clientcert: ${good.slice(0, 100)}\u0000${good.slice(100)}`]],
    ['bare CR in value', [`X-Amzn-Mtls-Clientcert: ${good.slice(0, 100)}\r${good.slice(100)}`]]
  ]
  for (const [label, lines] of cases) {
    const res = await raw(port, lines)
    // Node's parser refuses these with 400 before any hook runs; never a 200 or 5xx.
    assert.equal(res.status, 400, label)
  }
})

test('look-alike names are other headers: ignored, not normalized into the certificate header', async () => {
  const port = await listening()
  const lookalikes = [
    'X_Amzn_Mtls_Clientcert', 'X-Amzn-Mtls-Clientcert-Leaf', 'X-Amzn-Mtls-Client-Cert', 'X-Amzn-Mtls-Clientcert2', 'Amzn-Mtls-Clientcert'
  ]
  for (const name of lookalikes) {
    const res = await raw(port, [`${name}: ${good}`])
    assert.equal(res.status, 401, name)
    assert.match(res.body, /FST_MTLS_CERT_MISSING/, name)
  }
})

test('a look-alike header from a trusted peer neither replaces nor joins the real one', async () => {
  // A trusted peer sending a certificate AND a second, smuggled chain in a look-alike header: the
  // identity is the one from the real header only.
  const port = await listening()
  const res = await raw(port, [`X-Amzn-Mtls-Clientcert: ${good}`, `X_Amzn_Mtls_Clientcert: ${other}`])
  assert.equal(res.status, 200)
  assert.match(res.body, /"cn":"client"/)
})
