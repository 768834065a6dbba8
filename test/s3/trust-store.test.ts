/**
 * fastify-alb-mtls/s3 against a real S3 API: s3rver on 127.0.0.1 (see server.ts), the real AWS SDK,
 * the plugin in front of a route. Rotation, revocation by a new CRL, then every fault of issue 16:
 * the server down, a truncated object, a bundle with no CA, a CRL signed by the wrong key, an
 * object that vanishes, a slow server. Each fault keeps the last good material, and past
 * maxStaleness an otherwise valid certificate is refused (FST_MTLS_TRUST_STALE, 503).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify, { type FastifyInstance } from 'fastify'
import { createHash } from 'node:crypto'
import diagnosticsChannel from 'node:diagnostics_channel'
import mtls, { type MtlsRefusedMessage } from '../../src/index.js'
import { createS3TrustStore, type S3TrustStore, type S3TrustStoreOptions } from '../../src/trust/s3.js'
import { createCrl, createTestPki, generateKeyPair, toAlbHeader, type Issued, type TestPki } from '../../src/testing/index.js'
import { BUCKET, CREDENTIALS, startS3, type TestS3 } from './server.js'

let s3: TestS3
let pki: TestPki
let other: TestPki
let revoked: Issued
const stores: S3TrustStore[] = []
const apps: FastifyInstance[] = []

const uri = (key: string): string => `s3://${BUCKET}/${key}`

async function crl (issuer: Issued, serials: string[] = [], crlNumber = 1, key = issuer.key): Promise<string> {
  return (await createCrl({ issuer: { certificate: issuer, key }, revoked: serials.map((serialNumber) => ({ serialNumber })), crlNumber })).pem
}

function bundle (...certs: Issued[]): string {
  // ALB trust-store bundles may carry comment lines.
  return certs.map((c) => `# ${c.spec.subject as string}\n${c.pem}`).join('\n')
}

async function uploadGood (prefix: string): Promise<void> {
  await s3.put(`${prefix}/ca-bundle.pem`, bundle(pki.root, pki.intermediate))
  await s3.put(`${prefix}/root.crl.pem`, await crl(pki.root))
  await s3.put(`${prefix}/intermediate.crl.pem`, await crl(pki.intermediate))
}

async function open (prefix: string, extra: Partial<S3TrustStoreOptions> = {}): Promise<S3TrustStore> {
  const store = await createS3TrustStore({
    caBundle: uri(`${prefix}/ca-bundle.pem`),
    crls: [uri(`${prefix}/root.crl.pem`), uri(`${prefix}/intermediate.crl.pem`)],
    endpoint: s3.endpoint,
    credentials: CREDENTIALS,
    maxAttempts: 1,
    poll: false,
    ...extra
  })
  stores.push(store)
  return store
}

async function appFor (store: S3TrustStore): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(mtls, { ...store.current(), trustSource: store })
  app.get('/', async (request) => ({ cn: request.clientCert?.commonName }))
  apps.push(app)
  return app
}

async function status (app: FastifyInstance, ...chain: Issued[]): Promise<number> {
  const res = await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': toAlbHeader(chain.map((c) => c.pem)) } })
  return res.statusCode
}

before(async () => {
  s3 = await startS3()
  pki = await createTestPki()
  other = await createTestPki({ freshKeys: true })
  revoked = await pki.issue({ subject: 'CN=soon revoked', extendedKeyUsage: ['clientAuth'] })
})

after(async () => {
  for (const store of stores) store.close()
  for (const app of apps) await app.close()
  await s3.close()
})

describe('following the trust store', () => {
  test('first load: the same material loadTrustStore builds, ETags recorded', async () => {
    await uploadGood('follow')
    const store = await open('follow')
    const material = store.current()
    assert.equal(material.roots.length, 1)
    assert.equal(material.intermediates.length, 1)
    assert.equal(material.crls.length, 2)
    const stats = store.stats()
    assert.equal(stats.polls, 1)
    assert.equal(stats.failures, 0)
    assert.equal(stats.stale, false)
    assert.ok(stats.objects.every((o) => typeof o.etag === 'string' && o.bytes > 0))
    assert.deepEqual(stats.objects.map((o) => o.uri), [uri('follow/ca-bundle.pem'), uri('follow/root.crl.pem'), uri('follow/intermediate.crl.pem')])
  })

  test('an unchanged store costs one conditional GET per object, each answered 304', async () => {
    const store = await open('follow')
    const before = s3.seen.length
    assert.equal(await store.refresh(), 'unchanged')
    const polls = s3.seen.slice(before)
    assert.equal(polls.length, 3)
    for (const [i, seen] of polls.entries()) {
      assert.equal(seen.status, 304)
      assert.equal(seen.ifNoneMatch, store.stats().objects[i]!.etag)
    }
    assert.equal(store.stats().unchanged, 1)
  })

  test('rotation of the CA bundle and revocation by a new CRL change verdicts after the next poll (timer)', async (t) => {
    await uploadGood('rotate')
    const store = await open('rotate', { poll: true, pollInterval: 20, jitter: 0.5 })
    // A failing assertion must not leave a 20 ms poller running into the fault tests.
    t.after(() => { store.close() })
    const app = await appFor(store)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)
    assert.equal(await status(app, revoked, pki.intermediate), 200)
    assert.equal(await status(app, other.leaf, other.intermediate), 401)

    // The next round may have started before the upload: the one after it sees it.
    const twoPolls = async (): Promise<void> => {
      await store.nextPoll()
      await store.nextPoll()
    }

    await s3.put('rotate/intermediate.crl.pem', await crl(pki.intermediate, [revoked.serialNumber], 2))
    await twoPolls()
    assert.equal(await status(app, revoked, pki.intermediate), 401)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)

    // Rotation: both CAs during the overlap, then only the new one.
    await s3.put('rotate/ca-bundle.pem', bundle(pki.root, pki.intermediate, other.root, other.intermediate))
    await twoPolls()
    assert.equal(await status(app, other.leaf, other.intermediate), 200)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)
    // The end of the overlap: the old CA's bundle entries and CRLs are replaced together.
    await s3.put('rotate/ca-bundle.pem', bundle(other.root, other.intermediate))
    await s3.put('rotate/root.crl.pem', await crl(other.root))
    await s3.put('rotate/intermediate.crl.pem', await crl(other.intermediate))
    await twoPolls()
    assert.equal(await status(app, other.leaf, other.intermediate), 200)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 401)
    const stats = store.stats()
    assert.ok(stats.reloads >= 3, `reloads ${stats.reloads}`)
    assert.equal(stats.failures, 0)
    store.close()
  })

  test('verify mode: the CRLs from S3 revoke what ALB let through', async () => {
    await uploadGood('verify')
    const store = await open('verify')
    const app = Fastify()
    apps.push(app)
    await app.register(mtls, { mode: 'verify', ...store.current(), trustSource: store })
    app.get('/', async (request) => ({ cn: request.clientCert?.commonName }))
    const stamp = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
    const headers = (cert: Issued): Record<string, string> => ({
      'x-amzn-mtls-clientcert-serial-number': cert.serialNumber.toUpperCase(),
      'x-amzn-mtls-clientcert-issuer': 'CN=Test Intermediate CA,O=fastify-alb-mtls',
      'x-amzn-mtls-clientcert-subject': 'CN=soon revoked',
      'x-amzn-mtls-clientcert-validity': `NotBefore=${stamp(cert.spec.notBefore!)};NotAfter=${stamp(cert.spec.notAfter!)}`,
      'x-amzn-mtls-clientcert-leaf': toAlbHeader([cert.pem])
    })
    assert.equal((await app.inject({ url: '/', headers: headers(revoked) })).statusCode, 200)
    await s3.put('verify/intermediate.crl.pem', await crl(pki.intermediate, [revoked.serialNumber], 2))
    assert.equal(await store.refresh(), 'reloaded')
    const res = await app.inject({ url: '/', headers: headers(revoked) })
    assert.equal(res.statusCode, 401)
  })

  test('versionId is sent on every GET of a pinned object', async () => {
    await uploadGood('pinned')
    const before = s3.seen.length
    const store = await open('pinned', { caBundle: `${uri('pinned/ca-bundle.pem')}?versionId=3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY`, crls: [] })
    await store.refresh()
    const gets = s3.seen.slice(before).filter((s) => s.method === 'GET' && s.path.endsWith('/pinned/ca-bundle.pem'))
    assert.equal(gets.length, 2)
    assert.ok(gets.every((s) => s.versionId === '3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY'))
    assert.equal(store.stats().objects[0]!.uri, `${uri('pinned/ca-bundle.pem')}?versionId=3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY`)
  })
})

describe('faults keep the last good material', () => {
  let clock = Date.now()
  let store: S3TrustStore
  let app: FastifyInstance
  const log: Array<{ level: string, obj: { mtls: { s3: { kind?: string, stale?: boolean } } }, msg: string }> = []

  before(async () => {
    await uploadGood('faults')
    store = await open('faults', {
      requestTimeout: 500,
      maxStaleness: 60_000,
      now: () => clock,
      log: {
        info: (obj, msg) => log.push({ level: 'info', obj: obj as never, msg }),
        warn: (obj, msg) => log.push({ level: 'warn', obj: obj as never, msg }),
        error: (obj, msg) => log.push({ level: 'error', obj: obj as never, msg })
      }
    })
    app = await appFor(store)
  })

  /** A fault round: the refresh fails with `kind`, the old verdicts stand, and a good upload heals it. */
  async function fault (kind: string, heal: () => Promise<void>): Promise<void> {
    const failures = store.stats().failures
    assert.equal(await store.refresh(), 'failed')
    const stats = store.stats()
    assert.equal(stats.failures, failures + 1)
    assert.equal(stats.lastFault?.kind, kind, `${stats.lastFault?.kind ?? ''}: ${stats.lastFault?.message ?? ''}`)
    assert.ok(stats.faults[kind as keyof typeof stats.faults] >= 1)
    assert.equal(log.at(-1)?.obj.mtls.s3.kind, kind)
    assert.equal(log.at(-1)?.level, 'warn')
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)
    assert.equal(await status(app, revoked, pki.intermediate), 200)
    await heal()
    assert.notEqual(await store.refresh(), 'failed')
  }

  test('the server down', async () => {
    await s3.stop()
    await fault('unreachable', async () => { await s3.restart() })
  })

  test('a truncated object', async () => {
    const good = await crl(pki.intermediate)
    await s3.put('faults/intermediate.crl.pem', good.slice(0, Math.floor(good.length / 2)))
    await fault('bad-body', async () => { await s3.put('faults/intermediate.crl.pem', good) })
    const der = Buffer.from(good.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64')
    await s3.put('faults/intermediate.crl.pem', der.subarray(0, der.length - 10))
    await fault('invalid-material', async () => { await s3.put('faults/intermediate.crl.pem', good) })
  })

  test('a transfer cut short, and a body that stalls halfway', async () => {
    // The ETag in force must differ for the server to answer 200 with a body.
    const fresh = await crl(pki.intermediate, [], 9)
    await s3.put('faults/intermediate.crl.pem', fresh)
    s3.breakNext('faults/intermediate.crl.pem', 'truncate')
    await fault('bad-body', async () => {})
    await s3.put('faults/intermediate.crl.pem', await crl(pki.intermediate, [], 10))
    const release = s3.breakNext('faults/intermediate.crl.pem', 'stall')
    try {
      await fault('timeout', async () => {})
    } finally {
      release()
    }
  })

  test('a bundle with no CA', async () => {
    await s3.put('faults/ca-bundle.pem', bundle(pki.intermediate))
    await fault('invalid-material', async () => { await s3.put('faults/ca-bundle.pem', bundle(pki.root, pki.intermediate)) })
    assert.match(store.stats().lastFault!.message, /no root/)
    await s3.put('faults/ca-bundle.pem', '# nothing but a comment\n')
    await fault('bad-body', async () => { await s3.put('faults/ca-bundle.pem', bundle(pki.root, pki.intermediate)) })
  })

  test('a CRL signed by the wrong key (revoking a valid client)', async () => {
    const wrong = await crl(pki.intermediate, [pki.leaf.serialNumber], 5, await generateKeyPair('p-256', { fresh: true }))
    await s3.put('faults/intermediate.crl.pem', wrong)
    await fault('invalid-material', async () => { await s3.put('faults/intermediate.crl.pem', await crl(pki.intermediate, [], 6)) })
    assert.match(store.stats().lastFault!.message, /refused by the verifier/)
  })

  test('an object that vanishes', async () => {
    await s3.remove('faults/root.crl.pem')
    await fault('not-found', async () => { await s3.put('faults/root.crl.pem', await crl(pki.root, [], 2)) })
  })

  test('a slow server', async () => {
    const release = s3.hold()
    try {
      await fault('timeout', async () => { release() })
    } finally {
      release()
    }
  })

  test('past maxStaleness an accepted certificate is refused with FST_MTLS_TRUST_STALE, and a good poll heals it', async () => {
    assert.equal(await store.refresh(), 'unchanged')
    await s3.stop()
    clock += 59_000
    assert.equal(await store.refresh(), 'failed')
    assert.equal(store.staleness(), null)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)
    clock += 2_000
    assert.equal(await store.refresh(), 'failed')
    assert.equal(log.at(-1)?.level, 'error')
    assert.equal(log.at(-1)?.obj.mtls.s3.stale, true)
    const stats = store.stats()
    assert.equal(stats.stale, true)
    assert.equal(stats.ageMs, 61_000)
    assert.match(store.staleness()!, /not confirmed for 61 s/)
    const refused: MtlsRefusedMessage[] = []
    const listener = (message: unknown): void => { refused.push(message as MtlsRefusedMessage) }
    diagnosticsChannel.subscribe('fastify-alb-mtls:refused', listener)
    let res
    try {
      res = await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': toAlbHeader([pki.leaf.pem, pki.intermediate.pem]) } })
    } finally {
      diagnosticsChannel.unsubscribe('fastify-alb-mtls:refused', listener)
    }
    assert.equal(res.statusCode, 503)
    assert.equal(res.json().code, 'FST_MTLS_TRUST_STALE')
    // The refused channel hears it too, with the identity that was not accepted.
    assert.equal(refused.length, 1)
    assert.equal(refused[0]!.code, 'FST_MTLS_TRUST_STALE')
    assert.equal(refused[0]!.reason, 'trust-stale')
    assert.equal(refused[0]!.albStatus, null)
    const leafFingerprint = createHash('sha256').update(pki.leaf.der).digest('hex')
    assert.equal(refused[0]!.client?.fingerprint256, leafFingerprint)
    assert.equal(refused[0]!.identity?.fingerprint256, leafFingerprint)
    // Refusals stay refusals, and a request without a certificate is judged as before.
    assert.equal(await status(app, other.leaf, other.intermediate), 401)
    assert.equal((await app.inject({ url: '/' })).statusCode, 401)

    await s3.restart()
    assert.equal(await store.refresh(), 'unchanged')
    assert.equal(log.at(-1)?.level, 'info')
    assert.match(log.at(-1)!.msg, /confirmed again/)
    assert.equal(store.staleness(), null)
    assert.equal(await status(app, pki.leaf, pki.intermediate), 200)
  })
})

describe('first load and options', () => {
  test('the first load must succeed: FST_MTLS_TRUST_SOURCE names the object', async () => {
    await assert.rejects(open('nowhere'), { code: 'FST_MTLS_TRUST_SOURCE', message: /nowhere\/ca-bundle\.pem.*not found/ })
    await s3.put('bad-first/ca-bundle.pem', bundle(pki.intermediate))
    await assert.rejects(open('bad-first', { crls: [] }), { code: 'FST_MTLS_TRUST_SOURCE', message: /no root/ })
  })

  test('an unknown access key: access denied; an object over maxObjectBytes: too large', async () => {
    await uploadGood('limits')
    await assert.rejects(open('limits', { credentials: { accessKeyId: 'NOBODY', secretAccessKey: 'wrong' } }), { code: 'FST_MTLS_TRUST_SOURCE', message: /access denied/ })
    const store = await open('limits', { maxObjectBytes: 4096 })
    const serials = Array.from({ length: 200 }, (_, i) => (0x100000 + i).toString(16))
    await s3.put('limits/root.crl.pem', await crl(pki.root, serials, 2))
    assert.equal(await store.refresh(), 'failed')
    assert.equal(store.stats().lastFault?.kind, 'too-large')
    assert.match(store.stats().lastFault!.message, /exceeds the limit of 4096 bytes/)
  })

  test('the plugin refuses material its verifier rejects at registration', async () => {
    await s3.put('bad-crl/ca-bundle.pem', bundle(pki.root, pki.intermediate))
    await s3.put('bad-crl/root.crl.pem', await crl(pki.root, [], 1, await generateKeyPair('p-256', { fresh: true })))
    await s3.put('bad-crl/intermediate.crl.pem', await crl(pki.intermediate))
    const store = await open('bad-crl')
    const app = Fastify()
    apps.push(app)
    await assert.rejects(async () => { await app.register(mtls, { ...store.current(), trustSource: store }).ready() }, { code: 'FST_MTLS_INVALID_OPTION' })
  })

  test('bad options are refused up front', async () => {
    await assert.rejects(createS3TrustStore({ caBundle: 'https://example.com/x' }), { code: 'FST_MTLS_INVALID_OPTION' })
    await assert.rejects(createS3TrustStore({ caBundle: uri('x'), crls: Array.from({ length: 31 }, (_, i) => uri(`c${i}`)) }), { code: 'FST_MTLS_INVALID_OPTION', message: /at most 30/ })
    await assert.rejects(createS3TrustStore({ caBundle: uri('x'), pollInterval: -1 }), { code: 'FST_MTLS_INVALID_OPTION' })
    await assert.rejects(createS3TrustStore({ caBundle: { bucket: 'B', key: 'x' } }), { code: 'FST_MTLS_INVALID_OPTION', message: /bucket/ })
  })
})
