/**
 * The S3 trust store's own logic with an in-memory fetcher (the real S3 API is exercised in
 * trust-store.test.ts): all-or-nothing hand-over to several followers, single flight, jitter,
 * logging through the followers' loggers.
 */
import { before, test } from 'node:test'
import assert from 'node:assert/strict'
import { createS3TrustStore, parseS3Uri, pollDelay, type GetResult, type ObjectFetcher, type S3ObjectRef } from '../../src/trust/s3.js'
import { createCrl, createTestPki, type TestPki } from '../../src/testing/index.js'
import { loadCrlMaterial } from '../../src/validation/crl.js'
import type { SourcedTrustMaterial } from '../../src/types.js'

let pki: TestPki

before(async () => {
  pki = await createTestPki()
})

/** Objects by key, each with an ETag; `get` honours If-None-Match like S3. */
function memoryFetcher (objects: Map<string, { body: Uint8Array, etag: string }>): ObjectFetcher & { calls: number } {
  const fetcher = {
    calls: 0,
    async get (ref: S3ObjectRef, options: { ifNoneMatch?: string }): Promise<GetResult> {
      fetcher.calls++
      await new Promise((resolve) => setImmediate(resolve))
      const object = objects.get(ref.key)
      if (object === undefined) throw new Error(`no ${ref.key}`)
      if (options.ifNoneMatch !== undefined && options.ifNoneMatch === object.etag) return { modified: false }
      return { modified: true, etag: object.etag, versionId: undefined, body: { items: [object.body], size: object.body.length } }
    },
    destroy () {}
  }
  return fetcher
}

test('parseS3Uri: URIs, versionId, object form', () => {
  assert.deepEqual(parseS3Uri('s3://my-bucket/a/b/ca.pem'), { bucket: 'my-bucket', key: 'a/b/ca.pem' })
  assert.deepEqual(parseS3Uri('s3://my-bucket/ca%20bundle.pem?versionId=abc.123'), { bucket: 'my-bucket', key: 'ca bundle.pem', versionId: 'abc.123' })
  assert.deepEqual(parseS3Uri({ bucket: 'my-bucket', key: 'k', versionId: 'v' }), { bucket: 'my-bucket', key: 'k', versionId: 'v' })
  for (const bad of ['s3://bucket', 's3:///key', 'http://bucket/key', 's3://Bucket/key', 's3://b/key', 's3://bucket/key?versionId=']) {
    assert.throws(() => parseS3Uri(bad), { code: 'FST_MTLS_INVALID_OPTION' }, bad)
  }
})

test('pollDelay spreads waits over [1 - jitter, 1 + jitter] x interval', () => {
  assert.equal(pollDelay(60_000, 0.2, () => 0), 48_000)
  assert.equal(pollDelay(60_000, 0.2, () => 0.5), 60_000)
  assert.ok(Math.abs(pollDelay(60_000, 0.2, () => 1) - 72_000) < 1e-6)
  assert.equal(pollDelay(60_000, 0, Math.random), 60_000)
  for (let i = 0; i < 1000; i++) {
    const d = pollDelay(1000, 0.5)
    assert.ok(d >= 500 && d <= 1500)
  }
})

test('all followers or none: when one refuses, the others get the last good material back', async () => {
  const objects = new Map([['ca.pem', { body: pki.root.der, etag: '"1"' }]])
  const store = await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher: memoryFetcher(objects), poll: false })
  const seenByFirst: SourcedTrustMaterial[] = []
  const logged: string[] = []
  const log = { info: (_o: object, m: string) => logged.push(`info ${m}`), warn: (_o: object, m: string) => logged.push(`warn ${m}`), error: (_o: object, m: string) => logged.push(`error ${m}`) }
  store.follow({ reload: (m) => { seenByFirst.push(m) }, log })
  let refuse = true
  const unfollow = store.follow({ reload: () => { if (refuse) throw new Error('no thanks') }, log })
  const first = store.current()

  objects.set('ca.pem', { body: pki.intermediate.der, etag: '"2"' })
  // The intermediate alone has no root: refused before any follower sees it.
  assert.equal(await store.refresh(), 'failed')
  assert.equal(seenByFirst.length, 0)

  const other = await createTestPki()
  objects.set('ca.pem', { body: other.root.der, etag: '"3"' })
  assert.equal(await store.refresh(), 'failed')
  assert.equal(seenByFirst.length, 2)
  assert.equal(seenByFirst[1], first)
  assert.equal(store.current(), first)
  assert.match(store.stats().lastFault!.message, /refused by the verifier: no thanks/)
  // One line per fault, through the followers' shared logger, not once per follower.
  assert.deepEqual(logged.filter((l) => l.startsWith('warn')).length, 2)

  refuse = false
  assert.equal(await store.refresh(), 'reloaded')
  assert.notEqual(store.current(), first)
  assert.equal(logged.at(-1), 'info mtls: trust material reloaded from S3')
  unfollow()
  store.close()
})

test('single flight: refresh() during a round joins it; nextPoll() resolves after it', async () => {
  const objects = new Map([['ca.pem', { body: pki.root.der, etag: '"1"' }]])
  const fetcher = memoryFetcher(objects)
  const store = await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher, poll: false })
  const calls = fetcher.calls
  const next = store.nextPoll()
  const [a, b] = await Promise.all([store.refresh(), store.refresh()])
  assert.equal(a, 'unchanged')
  assert.equal(b, 'unchanged')
  assert.equal(await next, 'unchanged')
  assert.equal(fetcher.calls, calls + 1)
  store.close()
})

test('the first load that fails throws FST_MTLS_TRUST_SOURCE', async () => {
  await assert.rejects(createS3TrustStore({ caBundle: 's3://bucket-a/none.pem', fetcher: memoryFetcher(new Map()), poll: false }), { code: 'FST_MTLS_TRUST_SOURCE', message: /no none\.pem/ })
})

test('a store without ETags: the same bytes again are no change (no reload, the verdict cache survives)', async () => {
  const objects = new Map([['ca.pem', { body: pki.root.der, etag: undefined as unknown as string }]])
  const store = await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher: memoryFetcher(objects), poll: false })
  let reloads = 0
  store.follow({ reload: () => { reloads++ } })
  assert.equal(await store.refresh(), 'unchanged')
  assert.equal(await store.refresh(), 'unchanged')
  assert.equal(reloads, 0)
  objects.set('ca.pem', { body: new Uint8Array(pki.root.der), etag: undefined as unknown as string })
  assert.equal(await store.refresh(), 'unchanged')
  objects.set('ca.pem', { body: (await createTestPki({ freshKeys: true })).root.der, etag: undefined as unknown as string })
  assert.equal(await store.refresh(), 'reloaded')
  assert.equal(reloads, 1)
  store.close()
})

test('CRLs are parsed before the hand-over (in slices, off the reload), and a bad one keeps the last good material', async () => {
  const issuer = { certificate: pki.intermediate, key: pki.intermediate.key }
  const first = await createCrl({ issuer, crlNumber: 1 })
  const objects = new Map([['ca.pem', { body: pki.root.der, etag: '"1"' }], ['a.crl', { body: first.der, etag: '"1"' }]])
  const store = await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', crls: ['s3://bucket-a/a.crl'], fetcher: memoryFetcher(objects), poll: false })
  const parsedInReload: boolean[] = []
  store.follow({
    reload: (m) => {
      // Parsed already: loading the same buffers twice gives the very same CRL objects.
      const crls = m.crls!
      const [once, again] = [loadCrlMaterial(crls).crls[0], loadCrlMaterial(crls).crls[0]]
      parsedInReload.push(once !== undefined && once === again)
    }
  })
  const second = await createCrl({ issuer, crlNumber: 2, revoked: [{ serialNumber: pki.leaf.serialNumber, reason: 1 }] })
  objects.set('a.crl', { body: second.der, etag: '"2"' })
  assert.equal(await store.refresh(), 'reloaded')
  assert.deepEqual(parsedInReload, [true])
  // A CRL with an entry the parser refuses (reasonCode 7 is unused): refused before any follower sees it.
  const bad = Buffer.from(second.der)
  const marker = Buffer.from('0603551d1504030a01', 'hex')
  bad[bad.indexOf(marker) + marker.length] = 7
  objects.set('a.crl', { body: bad, etag: '"3"' })
  assert.equal(await store.refresh(), 'failed')
  assert.deepEqual(parsedInReload, [true])
  assert.equal(store.stats().lastFault?.kind, 'invalid-material')
  assert.match(store.stats().lastFault!.message, /s3:\/\/bucket-a\/a\.crl: unusable CRL/)
  assert.ok(Buffer.from(store.current().crls[0]!).equals(Buffer.from(second.der)))
  store.close()
})

test('a misspelt setting is refused, not ignored (maxStalenes would leave the staleness limit at its default)', async () => {
  const fetcher = memoryFetcher(new Map([['ca.pem', { body: pki.root.der, etag: '"1"' }]]))
  await assert.rejects(createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher, maxStalenes: 60_000 } as unknown as Parameters<typeof createS3TrustStore>[0]),
    { code: 'FST_MTLS_INVALID_OPTION', message: /createS3TrustStore: unknown setting "maxStalenes"/ })
})

test('maxStaleness must cover one poll cycle when polling', async () => {
  const fetcher = memoryFetcher(new Map([['ca.pem', { body: pki.root.der, etag: '"1"' }]]))
  await assert.rejects(createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher, pollInterval: 60_000, maxStaleness: 60_000 }), { code: 'FST_MTLS_INVALID_OPTION', message: /must cover one poll cycle/ })
  const store = await createS3TrustStore({ caBundle: 's3://bucket-a/ca.pem', fetcher, pollInterval: 60_000, jitter: 0, requestTimeout: 1000, maxStaleness: 61_000 })
  store.close()
})
