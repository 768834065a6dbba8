/**
 * @aws-sdk/client-s3 is an optional peer dependency: without it the main entry, the plugin and the
 * CLI's file mode work, and only createS3TrustStore fails, saying what to install. The SDK is
 * hidden from a child process by module hooks (fixtures/no-sdk-hooks.mjs).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../', import.meta.url))

const script = `
import Fastify from 'fastify'
import mtls from './src/index.ts'
import { createTestPki } from './src/testing/index.ts'
const out = {}
const pki = await createTestPki()
const app = Fastify()
await app.register(mtls, { roots: pki.root.pem })
await app.ready()
out.plugin = 'ok'
await app.close()
try { await import('@aws-sdk/client-s3'); out.sdk = 'present' } catch (err) { out.sdk = err.code }
const { createS3TrustStore } = await import('./src/trust/s3.ts')
try {
  await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', poll: false })
} catch (err) {
  out.code = err.code
  out.message = err.message
}
console.log(JSON.stringify(out))
`

test('without the SDK: the plugin works, createS3TrustStore says what to install', async () => {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--import', './test/s3/fixtures/no-sdk.mjs', '--input-type=module', '-e', script], { cwd: root })
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as Record<string, string>
  assert.equal(out.plugin, 'ok')
  assert.equal(out.sdk, 'ERR_MODULE_NOT_FOUND')
  assert.equal(out.code, 'FST_MTLS_TRUST_SOURCE')
  assert.match(out.message!, /npm install @aws-sdk\/client-s3/)
})
