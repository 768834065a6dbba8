import { test } from 'node:test'
import assert from 'node:assert/strict'
import Fastify from 'fastify'
import { createVerifier, type Verifier } from '../src/verifier/verifier.js'
import { cacheKey } from '../src/verifier/cache.js'
import { mtlsPassthrough } from '../src/fastify/plugin.js'
import { createCrl, createTestPki, toAlbHeader } from '../src/testing/index.js'

const MINUTE = 60_000
// Whole seconds: certificate times have no milliseconds.
const start = Math.floor(Date.now() / 1000) * 1000
const pki = await createTestPki({ now: new Date(start) })
const otherPki = await createTestPki({ now: new Date(start) })
const header = toAlbHeader([pki.leaf.pem, pki.intermediate.pem])

/** A verifier on a clock the test moves. */
function clocked (options: Record<string, unknown> = {}) {
  const clock = { t: start }
  const verifier = createVerifier({ roots: pki.root.pem, now: () => new Date(clock.t), ...options })
  return { clock, verifier }
}

test('a repeated header is answered from the cache with the same identity', () => {
  const { verifier } = clocked()
  const first = verifier.verifySync(header)
  assert.ok(first.ok)
  const second = verifier.verifySync(header)
  assert.equal(second, first)
  assert.deepEqual(verifier.stats(), { hits: 1, misses: 1, validations: 1, entries: 1, bytes: verifier.stats().bytes })
})

test('single flight: 1,000 concurrent verify() calls with a new header run one validation', async () => {
  const { verifier } = clocked()
  const results = await Promise.all(Array.from({ length: 1000 }, () => verifier.verify(header)))
  assert.ok(results.every((r) => r.ok && r === results[0]))
  assert.equal(verifier.stats().validations, 1)
  assert.equal(verifier.stats().hits, 999)
})

test('single flight: 1,000 concurrent first requests through the plugin run one validation', async () => {
  const app = Fastify()
  await app.register(mtlsPassthrough, { roots: pki.root.pem })
  app.get('/', async (request) => request.clientCert?.commonName)
  const replies = await Promise.all(Array.from({ length: 1000 }, () =>
    app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': header } })))
  assert.ok(replies.every((r) => r.statusCode === 200 && r.body === 'client'))
  assert.equal((app.mtls.verifier as Verifier).stats().validations, 1)
  await app.close()
})

test('a hit needs the whole header byte for byte: same key, other chain, no alias', () => {
  const { verifier } = clocked()
  assert.ok(verifier.verifySync(header).ok)
  // Same leaf (so the same key), another intermediate after it: validated on its own, refused.
  const forged = toAlbHeader([pki.leaf.pem, otherPki.intermediate.pem])
  assert.equal(cacheKey(forged), cacheKey(header))
  const r = verifier.verifySync(forged)
  assert.equal(r.ok, false)
  assert.equal(verifier.stats().validations, 2)
  // The failure did not push the valid verdict out, and the forged one is answered from the cache too.
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.verifySync(forged).ok, false)
  assert.equal(verifier.stats().validations, 2)
})

test('two valid spellings of one chain share a key and both stay cached', () => {
  const { verifier } = clocked()
  const spelled = header.slice(0, header.indexOf('-----END')) + header.slice(header.indexOf('-----END')).replace(/%0A/g, '%0D%0A')
  assert.notEqual(spelled, header)
  assert.equal(cacheKey(spelled), cacheKey(header))
  assert.ok(verifier.verifySync(header).ok)
  assert.ok(verifier.verifySync(spelled).ok)
  assert.ok(verifier.verifySync(header).ok)
  assert.ok(verifier.verifySync(spelled).ok)
  assert.equal(verifier.stats().validations, 2)
})

test('a success is reused for ttl at most', () => {
  const { clock, verifier } = clocked({ cache: { ttl: MINUTE } })
  assert.ok(verifier.verifySync(header).ok)
  clock.t += MINUTE - 1
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.stats().validations, 1)
  clock.t += 1
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.stats().validations, 2)
})

test('a success is never reused past the earliest notAfter on the path', async () => {
  const leaf = await pki.issue({ subject: 'CN=short-lived', notAfter: new Date(start + 2 * MINUTE) })
  const shortHeader = toAlbHeader([leaf.pem, pki.intermediate.pem])
  const { clock, verifier } = clocked({ cache: { ttl: 60 * MINUTE } })
  assert.ok(verifier.verifySync(shortHeader).ok)
  clock.t = start + 2 * MINUTE
  assert.ok(verifier.verifySync(shortHeader).ok, 'still valid at notAfter itself')
  // notAfter is inclusive to the second: from notAfter on the cache re-validates every time (still
  // valid), and the check refuses once the second is over.
  clock.t = start + 2 * MINUTE + 1
  assert.ok(verifier.verifySync(shortHeader).ok)
  assert.equal(verifier.stats().validations, 3)
  clock.t = start + 2 * MINUTE + 1000
  const r = verifier.verifySync(shortHeader)
  assert.equal(r.ok, false)
  assert.equal(!r.ok && r.reason, 'expired')
})

test('a clock set back before notBefore is not answered from the cache', async () => {
  const leaf = await pki.issue({ subject: 'CN=fresh', notBefore: new Date(start + MINUTE) })
  const h = toAlbHeader([leaf.pem, pki.intermediate.pem])
  const { clock, verifier } = clocked()
  clock.t = start + 2 * MINUTE
  assert.ok(verifier.verifySync(h).ok)
  clock.t = start
  const r = verifier.verifySync(h)
  assert.equal(!r.ok && r.reason, 'not-yet-valid')
})

test('an intermediate expiring before the leaf bounds the reuse too', async () => {
  const intermediate = await pki.issue({ subject: 'CN=Short Intermediate', ca: { pathLength: 0 }, keyUsage: ['keyCertSign', 'cRLSign'], extendedKeyUsage: false, notAfter: new Date(start + 3 * MINUTE) }, pki.root)
  const leaf = await pki.issue({ subject: 'CN=under-short' }, intermediate)
  const h = toAlbHeader([leaf.pem, intermediate.pem])
  const { clock, verifier } = clocked()
  assert.ok(verifier.verifySync(h).ok)
  clock.t = start + 3 * MINUTE + 1000
  const r = verifier.verifySync(h)
  assert.equal(!r.ok && r.reason, 'expired')
})

test('a success is never reused past the nextUpdate of a CRL that applied to its path', async () => {
  const crl = await createCrl({
    issuer: { certificate: pki.intermediate, key: pki.intermediate.key },
    thisUpdate: new Date(start - MINUTE),
    nextUpdate: new Date(start + 5 * MINUTE)
  })
  const { clock, verifier } = clocked({ crls: crl.pem, cache: { ttl: 60 * MINUTE } })
  assert.ok(verifier.verifySync(header).ok)
  clock.t = start + 5 * MINUTE - 1000
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.stats().validations, 1)
  clock.t = start + 5 * MINUTE + 1000
  const r = verifier.verifySync(header)
  assert.equal(!r.ok && r.reason, 'crl-unusable')
  // With onExpired 'ignore' a stale CRL keeps applying: nextUpdate does not bound the reuse.
  const ignoring = clocked({ crls: crl.pem, crlPolicy: { onExpired: 'ignore' }, cache: { ttl: 60 * MINUTE } })
  assert.ok(ignoring.verifier.verifySync(header).ok)
  ignoring.clock.t = start + 6 * MINUTE
  assert.ok(ignoring.verifier.verifySync(header).ok)
  assert.equal(ignoring.verifier.stats().validations, 1)
})

test('failures are cached for failureTtl only', () => {
  const { clock, verifier } = clocked({ roots: otherPki.root.pem, cache: { failureTtl: 1000 } })
  const r = verifier.verifySync(header)
  assert.equal(!r.ok && r.reason, 'untrusted')
  assert.equal(verifier.verifySync(header), r)
  assert.equal(verifier.stats().validations, 1)
  clock.t += 1000
  assert.equal(verifier.verifySync(header).ok, false)
  assert.equal(verifier.stats().validations, 2)
})

test('failureTtl 0 caches no failure; cache false caches nothing', () => {
  const noFailures = clocked({ roots: otherPki.root.pem, cache: { failureTtl: 0 } }).verifier
  noFailures.verifySync(header)
  noFailures.verifySync(header)
  assert.equal(noFailures.stats().validations, 2)
  const off = clocked({ cache: false }).verifier
  assert.ok(off.verifySync(header).ok)
  assert.ok(off.verifySync(header).ok)
  assert.deepEqual(off.stats(), { hits: 0, misses: 0, entries: 0, bytes: 0, validations: 2 })
})

test('reload invalidates every cached verdict', () => {
  const { verifier } = clocked()
  assert.ok(verifier.verifySync(header).ok)
  verifier.reload({ roots: otherPki.root.pem })
  const r = verifier.verifySync(header)
  assert.equal(!r.ok && r.reason, 'untrusted')
  verifier.reload({ roots: pki.root.pem })
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.stats().validations, 3)
})

test('app.mtls.reload invalidates the plugin cache', async () => {
  const app = Fastify()
  await app.register(mtlsPassthrough, { roots: pki.root.pem })
  app.get('/', async () => 'ok')
  const send = async () => (await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': header } })).statusCode
  assert.equal(await send(), 200)
  app.mtls.reload({ roots: otherPki.root.pem })
  assert.equal(await send(), 401)
  await app.close()
})

test('the cache holds at most max entries and maxBytes', async () => {
  const leaves = await Promise.all(Array.from({ length: 6 }, (_, i) => pki.issue({ subject: `CN=bounded-${i}` })))
  const { verifier } = clocked({ cache: { max: 3, maxBytes: 1 << 20 } })
  for (const leaf of leaves) assert.ok(verifier.verifySync(toAlbHeader([leaf.pem, pki.intermediate.pem])).ok)
  assert.equal(verifier.stats().entries, 3)
  const small = clocked({ cache: { maxBytes: 8192 } }).verifier
  for (const leaf of leaves) assert.ok(small.verifySync(toAlbHeader([leaf.pem, pki.intermediate.pem])).ok)
  const { entries, bytes } = small.stats()
  assert.ok(bytes <= 8192, `${bytes} bytes held`)
  assert.ok(entries >= 1 && entries < 6, `${entries} entries held`)
})

test('a flood of distinct failures does not evict valid verdicts', () => {
  const { verifier } = clocked({ cache: { max: 4 } })
  assert.ok(verifier.verifySync(header).ok)
  for (let i = 0; i < 100; i++) verifier.verifySync(header.replace('-----END', `AAAA${String(i).padStart(4, '0')}-----END`))
  const before = verifier.stats().validations
  assert.ok(verifier.verifySync(header).ok)
  assert.equal(verifier.stats().validations, before)
})

test('bad cache options are refused up front', () => {
  for (const cache of [null, 1, 'yes', { max: 0 }, { max: 1.5 }, { maxBytes: 10 }, { ttl: 0 }, { failureTtl: -1 }]) {
    assert.throws(() => createVerifier({ roots: pki.root.pem, cache: cache as never }), { code: 'FST_MTLS_INVALID_OPTION' }, JSON.stringify(cache))
  }
})
