/**
 * Errors under fault: each ends in a defined answer and a log line, never a hang or a 500.
 * - an authorization predicate that throws odd values (guards-plugin.test.ts covers Error throws and
 *   rejections; here: non-Error throws and what the log says);
 * - a CRL file that disappears while the trust store is reloaded: the reload fails loudly and the
 *   old material stays in force, revocations included;
 * - the event loop under pressure: a burst of mixed requests while the loop is blocked in slices.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls, { loadTrustStore, requireClientCert, type MtlsPluginOptions } from '../src/index.js'
import { createCrl, createTestPki, type Issued, type TestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'
import { STATUS } from './helpers/hostile.js'

let p: TestPki
let good: string
let revoked: Issued
let revokedHeader: string

before(async () => {
  p = await createTestPki()
  good = header(p.leaf, p.intermediate)
  revoked = await p.issue({ subject: 'CN=revoked', extendedKeyUsage: ['clientAuth'] })
  revokedHeader = header(revoked, p.intermediate)
})

async function app (options: Partial<MtlsPluginOptions>, logs: string[]): Promise<FastifyInstance> {
  const stream = new Writable({ write (chunk, _enc, cb) { logs.push(chunk.toString()); cb() } })
  const fastify = Fastify({ logger: { level: 'info', stream } })
  await fastify.register(mtls, { roots: p.root.pem, ...options })
  return fastify
}

test('a check predicate that throws a non-Error, or returns a non-boolean: 403 and a log line naming the rule', async () => {
  const logs: string[] = []
  const f = await app({}, logs)
  const throwers: Record<string, () => unknown> = {
    'throws-string': () => { throw 'directory unreachable' }, // eslint-disable-line no-throw-literal
    'throws-undefined': () => { throw undefined }, // eslint-disable-line no-throw-literal
    'rejects-null': async () => { await Promise.resolve(); throw null }, // eslint-disable-line no-throw-literal
    'returns-string': () => 'true',
    'resolves-1': async () => 1
  }
  for (const [name, check] of Object.entries(throwers)) {
    f.get(`/${name}`, { onRequest: requireClientCert({ check: check as () => boolean }) }, async () => 'ok')
  }
  for (const name of Object.keys(throwers)) {
    logs.length = 0
    const res = await f.inject({ url: `/${name}`, headers: { 'x-amzn-mtls-clientcert': good } })
    assert.equal(res.statusCode, 403, name)
    assert.equal(res.json().code, 'FST_MTLS_FORBIDDEN', name)
    assert.ok(logs.some((l) => l.includes('"rule":"check"') && l.includes('FST_MTLS_FORBIDDEN')), `log line for ${name}`)
  }
})

test('a CRL file that disappears during reload: the reload fails with the path, the old CRLs stay in force', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtls-faults-'))
  try {
    const crl = await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, revoked: [{ serialNumber: revoked.serialNumber }] })
    writeFileSync(join(dir, 'ca.pem'), p.root.pem + p.intermediate.pem)
    writeFileSync(join(dir, 'intermediate.crl'), crl.der)
    const logs: string[] = []
    const f = await app({ ...await loadTrustStore(dir) }, logs)
    f.get('/', async () => 'ok')
    const status = async (value: string): Promise<number> => (await f.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': value } })).statusCode
    assert.equal(await status(good), 200)
    assert.equal(await status(revokedHeader), 401)

    // The documented reload routine (README "Trust store files"), run at the worst moments.
    const reload = async (): Promise<boolean> => {
      try {
        f.mtls.reload(await loadTrustStore(dir))
        f.log.info('mtls: trust store reloaded')
        return true
      } catch (err) {
        f.log.error({ err }, 'mtls: trust store reload failed, keeping the current one')
        return false
      }
    }
    // 1. The CRL file is listed but gone by the time it is read (a dangling symlink is exactly that).
    unlinkSync(join(dir, 'intermediate.crl'))
    writeFileSync(join(dir, 'target.bin'), crl.der)
    symlinkSync(join(dir, 'target.bin'), join(dir, 'intermediate.crl'))
    unlinkSync(join(dir, 'target.bin'))
    await assert.rejects(loadTrustStore(dir), { code: 'FST_MTLS_INVALID_OPTION', message: /intermediate\.crl.*ENOENT/ })
    logs.length = 0
    assert.equal(await reload(), false)
    assert.ok(logs.some((l) => l.includes('reload failed') && l.includes('intermediate.crl')), logs.join('\n'))
    // 2. The whole directory is gone (an S3 sync that deleted and re-creates it).
    rmSync(dir, { recursive: true, force: true })
    logs.length = 0
    assert.equal(await reload(), false)
    assert.ok(logs.some((l) => l.includes('reload failed')))
    // Requests keep their answers: the old CRL still revokes.
    assert.equal(await status(good), 200)
    assert.equal(await status(revokedHeader), 401)
    await f.close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('the event loop under pressure: a burst of mixed requests all end with a defined answer', async () => {
  const logs: string[] = []
  const f = await app({}, logs)
  f.get('/', async (request) => request.clientCert?.commonName ?? null)
  const values = [good, revokedHeader, header(p.leaf), 'garbage%', '', good + ', ' + good, good.slice(0, 300)]
  // Block the loop in 20 ms slices while requests are in flight.
  const loop = { blocking: true }
  const blocker = (async () => {
    while (loop.blocking) {
      const until = Date.now() + 20
      while (Date.now() < until) { /* busy */ }
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()
  const burst = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const value = values[i % values.length]!
    return await f.inject({ url: '/', headers: value === '' ? {} : { 'x-amzn-mtls-clientcert': value } })
  }))
  loop.blocking = false
  await blocker
  for (const res of burst) {
    assert.ok([200, 400, 401].includes(res.statusCode), String(res.statusCode))
    if (res.statusCode !== 200) assert.equal(STATUS[res.json().code], res.statusCode)
  }
  // Without CRLs here, `revoked` is just another valid client: the two valid values pass, nothing else.
  const expected = burst.map((_, i) => values[i % values.length] === good || values[i % values.length] === revokedHeader ? 200 : 'refused')
  assert.deepEqual(burst.map((r) => r.statusCode === 200 ? 200 : 'refused'), expected)
  // Every refusal is logged once.
  assert.equal(logs.filter((l) => l.includes('client certificate refused')).length, burst.filter((r) => r.statusCode !== 200).length)
  await f.close()
})
