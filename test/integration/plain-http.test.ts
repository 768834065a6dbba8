import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createPlainServer } from '../../examples/plain-http.js'
import { createTestPki, toAlbHeader } from '../../src/testing/index.js'

async function get (port: number, headers: Record<string, string>): Promise<{ status: number, body: unknown }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/', headers }, (res) => {
      let body = ''
      res.on('data', (chunk) => { body += String(chunk) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(body) }))
    })
    req.on('error', reject)
    req.end()
  })
}

test('the framework-free example: a plain node:http server verifies the ALB header', async (t) => {
  const pki = await createTestPki()
  const server = createPlainServer(pki.root.pem)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => server.close())
  const { port } = server.address() as AddressInfo
  t.mock.method(console, 'warn', () => {})
  const good = await get(port, { 'x-amzn-mtls-clientcert': toAlbHeader([pki.leaf.pem, pki.intermediate.pem]) })
  assert.deepEqual(good, { status: 200, body: { subject: 'CN=client,O=Example Corp', spiffeId: 'spiffe://example.org/ns/prod/sa/client' } })
  assert.deepEqual(await get(port, {}), { status: 401, body: { code: 'FST_MTLS_CERT_MISSING' } })
  assert.deepEqual(await get(port, { 'x-amzn-mtls-clientcert': toAlbHeader([pki.leaf.pem]) }), { status: 401, body: { code: 'FST_MTLS_CERT_INVALID' } })
  assert.deepEqual(await get(port, { 'x-amzn-mtls-clientcert': '%zz' }), { status: 400, body: { code: 'FST_MTLS_CERT_MALFORMED' } })
})
