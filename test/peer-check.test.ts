import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request, Agent } from 'node:http'
import Fastify from 'fastify'
import { mtlsPassthrough } from '../src/fastify/plugin.js'
import { createTestPki, toAlbHeader } from '../src/testing/index.js'

const pki = await createTestPki()
const header = toAlbHeader([pki.leaf.pem, pki.intermediate.pem])

function get (port: number, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/', agent, headers: { 'x-amzn-mtls-clientcert': header } }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    }).on('error', reject).end()
  })
}

test('the trusted-proxy rule runs once per connection, and still decides every request on it', async () => {
  for (const trust of [true, false]) {
    const seen: string[] = []
    const app = Fastify()
    await app.register(mtlsPassthrough, { roots: pki.root.pem, trustedProxies: (address) => { seen.push(address); return trust } })
    app.get('/', async (req) => req.clientCert?.commonName ?? 'none')
    await app.listen({ host: '127.0.0.1', port: 0 })
    const port = (app.server.address() as { port: number }).port
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    const statuses = [await get(port, agent), await get(port, agent), await get(port, agent)]
    // Trusted: the certificate is verified (200). Untrusted: the header is ignored, so it is missing (401).
    assert.deepEqual(statuses, trust ? [200, 200, 200] : [401, 401, 401])
    assert.equal(seen.length, 1, `predicate calls: ${seen.length}`)
    agent.destroy()
    await app.close()
  }
})

test('the TLS headers are added to the identity once per client and connection settings, not copied per request', async () => {
  const app = Fastify()
  await app.register(mtlsPassthrough, { roots: pki.root.pem })
  const seen: unknown[] = []
  app.get('/', async (req) => { seen.push(req.clientCert); return req.clientCert?.tls ?? null })
  const send = async (version: string, cipherSuite: string) => (await app.inject({
    url: '/',
    headers: { 'x-amzn-mtls-clientcert': header, 'x-amzn-tls-version': version, 'x-amzn-tls-cipher-suite': cipherSuite }
  })).json()
  assert.deepEqual(await send('TLSv1.3', 'TLS_AES_128_GCM_SHA256'), { version: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' })
  assert.deepEqual(await send('TLSv1.3', 'TLS_AES_128_GCM_SHA256'), { version: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256' })
  assert.equal(seen[0], seen[1])
  assert.deepEqual(await send('TLSv1.2', 'ECDHE-RSA-AES128-GCM-SHA256'), { version: 'TLSv1.2', cipherSuite: 'ECDHE-RSA-AES128-GCM-SHA256' })
  assert.notEqual(seen[2], seen[1])
  await app.close()
})
