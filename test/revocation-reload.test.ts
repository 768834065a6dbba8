import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Fastify, { type FastifyInstance } from 'fastify'
import mtls, { createAlbVerifyVerifier, createVerifier, loadTrustStore, readAlbVerifyHeaders, type MtlsPluginOptions, type VerifyResult } from '../src/index.js'
import { loadCrls } from '../src/validation/crl.js'
import { createCrl, createTestPki, toAlbHeader, type Issued, type IssuedCrl, type TestPki } from '../src/testing/index.js'

const DAY = 86400_000
let p: TestPki
let revokedLeaf: Issued
let bigCrl: IssuedCrl
let bigRevoked: Issued

function crlOf (issuer: Issued, serials: string[], extra: { thisUpdate?: Date, nextUpdate?: Date, corruptSignature?: boolean } = {}): Promise<IssuedCrl> {
  return createCrl({ issuer: { certificate: issuer, key: issuer.key }, revoked: serials.map((serialNumber) => ({ serialNumber })), ...extra })
}

function chain (...certs: Issued[]): string {
  return toAlbHeader(certs.map((c) => c.pem))
}

function verifyHeaders (cert: Issued, subject: string): Record<string, string> {
  const s = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z')
  return {
    'x-amzn-mtls-clientcert-serial-number': cert.serialNumber.toUpperCase(),
    'x-amzn-mtls-clientcert-issuer': 'CN=Test Intermediate CA,O=fastify-alb-mtls',
    'x-amzn-mtls-clientcert-subject': subject,
    'x-amzn-mtls-clientcert-validity': `NotBefore=${s(cert.spec.notBefore!)};NotAfter=${s(cert.spec.notAfter!)}`,
    'x-amzn-mtls-clientcert-leaf': toAlbHeader([cert.pem])
  }
}

function reason (r: VerifyResult): string {
  return r.ok ? 'ok' : r.reason
}

before(async () => {
  p = await createTestPki()
  revokedLeaf = await p.issue({ subject: 'CN=revoked', extendedKeyUsage: ['clientAuth'] })
  bigRevoked = await p.issue({ subject: 'CN=one in a hundred thousand', extendedKeyUsage: ['clientAuth'] })
  // Built once per file: 100k entries, the leaf's serial last.
  const serials = Array.from({ length: 99_999 }, (_, i) => (0x10000000 + i * 7919).toString(16))
  bigCrl = await crlOf(p.intermediate, [...serials, bigRevoked.serialNumber])
})

test('revoked leaf: 401 revoked in passthrough and verify mode', async () => {
  const crls = [(await crlOf(p.intermediate, [revokedLeaf.serialNumber])).pem, (await crlOf(p.root, [])).pem]
  const v = createVerifier({ roots: p.root.pem, crls })
  assert.equal(reason(v.verifySync(chain(revokedLeaf, p.intermediate))), 'revoked')
  assert.equal(reason(v.verifySync(chain(p.leaf, p.intermediate))), 'ok')

  const vm = createAlbVerifyVerifier({ roots: p.root.pem, intermediates: p.intermediate.pem, crls })
  assert.equal(reason(vm.verifySync(readAlbVerifyHeaders(verifyHeaders(revokedLeaf, 'CN=revoked')))), 'revoked')
  assert.equal(reason(vm.verifySync(readAlbVerifyHeaders(verifyHeaders(p.leaf, 'CN=client,O=Example Corp')))), 'ok')
  assert.throws(() => createAlbVerifyVerifier({ crls }), { code: 'FST_MTLS_INVALID_OPTION', message: /need roots/ })

  const app = Fastify()
  await app.register(mtls, { mode: 'verify', roots: p.root.pem, intermediates: p.intermediate.pem, crls })
  app.get('/', async () => 'ok')
  const res = await app.inject({ url: '/', headers: verifyHeaders(revokedLeaf, 'CN=revoked') })
  assert.equal(res.statusCode, 401)
  assert.equal(res.json().code, 'FST_MTLS_CERT_INVALID')
})

test('revoked intermediate: 401 revoked for every leaf under it, in both modes', async () => {
  const crls = [(await crlOf(p.root, [p.intermediate.serialNumber])).pem]
  const v = createVerifier({ roots: p.root.pem, crls })
  assert.equal(reason(v.verifySync(chain(p.leaf, p.intermediate))), 'revoked')
  const vm = createAlbVerifyVerifier({ roots: p.root.pem, intermediates: p.intermediate.pem, crls })
  assert.equal(reason(vm.verifySync(readAlbVerifyHeaders(verifyHeaders(p.leaf, 'CN=client,O=Example Corp')))), 'revoked')
})

test('an expired CRL is a load-time error; at request time the policy decides (fail closed by default)', async () => {
  const now = Date.now()
  const expired = await crlOf(p.intermediate, [revokedLeaf.serialNumber], { thisUpdate: new Date(now - 10 * DAY), nextUpdate: new Date(now - DAY) })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: expired.pem }), { code: 'FST_MTLS_INVALID_OPTION', message: /cannot be used now.*due to be replaced/ })
  const ignoring = createVerifier({ roots: p.root.pem, crls: expired.pem, crlPolicy: { onExpired: 'ignore' } })
  assert.equal(reason(ignoring.verifySync(chain(revokedLeaf, p.intermediate))), 'revoked', 'a stale CRL still revokes')
  assert.equal(reason(ignoring.verifySync(chain(p.leaf, p.intermediate))), 'ok')
  assert.throws(() => createVerifier({ roots: p.root.pem, crlPolicy: { onExpired: 'maybe' as 'ignore' } }), { code: 'FST_MTLS_INVALID_OPTION' })

  // Fresh at load, stale later (the process kept running past nextUpdate).
  const fresh = await crlOf(p.intermediate, [], { thisUpdate: new Date(now - DAY), nextUpdate: new Date(now + DAY) })
  let clock = now
  const strict = createVerifier({ roots: p.root.pem, crls: fresh.pem, now: () => new Date(clock) })
  const lenient = createVerifier({ roots: p.root.pem, crls: fresh.pem, now: () => new Date(clock), crlPolicy: { onExpired: 'ignore' } })
  assert.equal(reason(strict.verifySync(chain(p.leaf, p.intermediate))), 'ok')
  clock = now + 2 * DAY
  assert.equal(reason(strict.verifySync(chain(p.leaf, p.intermediate))), 'crl-unusable')
  assert.equal(reason(lenient.verifySync(chain(p.leaf, p.intermediate))), 'ok')
})

test('a CRL whose signature does not verify is a load-time error (root- and intermediate-issued)', async () => {
  const badRoot = await crlOf(p.root, [], { corruptSignature: true })
  assert.throws(() => createVerifier({ roots: p.root.pem, crls: badRoot.pem }), { code: 'FST_MTLS_INVALID_OPTION', message: /does not verify/ })
  const badIntermediate = await crlOf(p.intermediate, [], { corruptSignature: true })
  assert.throws(() => createVerifier({ roots: p.root.pem, intermediates: p.intermediate.pem, crls: badIntermediate.der }), { code: 'FST_MTLS_INVALID_OPTION', message: /does not verify/ })
})

test('a 100k-entry CRL: the one revoked serial among them is found, others pass', () => {
  const v = createVerifier({ roots: p.root.pem, crls: bigCrl.der })
  assert.equal(reason(v.verifySync(chain(bigRevoked, p.intermediate))), 'revoked')
  assert.equal(reason(v.verifySync(chain(p.leaf, p.intermediate))), 'ok')
  assert.equal(reason(v.verifySync(chain(revokedLeaf, p.intermediate))), 'ok')
})

test('reload: the next request sees the new set, old verdicts are not reused', async () => {
  const app = Fastify()
  await app.register(mtls, { roots: p.root.pem })
  app.get('/', async () => 'ok')
  const headers = { 'x-amzn-mtls-clientcert': chain(revokedLeaf, p.intermediate) }
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 200)
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 200)
  app.mtls.reload({ crls: (await crlOf(p.intermediate, [revokedLeaf.serialNumber])).pem })
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 401)
  app.mtls.reload({ crls: [] })
  assert.equal((await app.inject({ url: '/', headers })).statusCode, 200)
})

test('a rejected reload keeps the old set in force', async () => {
  const crl = (await crlOf(p.intermediate, [revokedLeaf.serialNumber])).pem
  const v = createVerifier({ roots: p.root.pem, crls: crl })
  const stale = await crlOf(p.intermediate, [], { thisUpdate: new Date(Date.now() - 10 * DAY), nextUpdate: new Date(Date.now() - DAY) })
  const forged = await crlOf(p.root, [], { corruptSignature: true })
  for (const bad of [{ roots: 'garbage' }, { crls: stale.pem }, { crls: forged.pem }, { intermediates: 'not pem' }, { roots: [] }]) {
    assert.throws(() => v.reload(bad), { code: 'FST_MTLS_INVALID_OPTION' }, JSON.stringify(bad).slice(0, 40))
    assert.equal(reason(v.verifySync(chain(revokedLeaf, p.intermediate))), 'revoked')
    assert.equal(reason(v.verifySync(chain(p.leaf, p.intermediate))), 'ok')
  }
  const vm = createAlbVerifyVerifier({ verifyChain: true, roots: p.root.pem, intermediates: p.intermediate.pem })
  assert.throws(() => vm.reload({ roots: [] }), { code: 'FST_MTLS_INVALID_OPTION' })
  assert.equal(reason(vm.verifySync(readAlbVerifyHeaders(verifyHeaders(p.leaf, 'CN=client,O=Example Corp')))), 'ok')
})

test('reload under concurrent requests: every verdict comes entirely from the old or the new set', async () => {
  // Two generations with the same names but other keys: the leaf is sent alone, so it verifies only
  // with its own generation's roots AND intermediates; each generation's CRL revokes one of its leaves.
  const q = await createTestPki({ freshKeys: true })
  const qRevoked = await q.issue({ subject: 'CN=revoked', extendedKeyUsage: ['clientAuth'] })
  const gen = {
    p: { roots: p.root.pem, intermediates: p.intermediate.pem, crls: (await crlOf(p.intermediate, [revokedLeaf.serialNumber])).pem },
    q: { roots: q.root.pem, intermediates: q.intermediate.pem, crls: (await crlOf(q.intermediate, [qRevoked.serialNumber])).pem }
  }
  // Expected outcome per request under each generation; anything else is a mix.
  const cases = [
    { name: 'p good', header: chain(p.leaf), p: 200, q: 401 },
    { name: 'p revoked', header: chain(revokedLeaf), p: 401, q: 401 },
    { name: 'q good', header: chain(q.leaf), p: 401, q: 200 },
    { name: 'q revoked', header: chain(qRevoked), p: 401, q: 401 }
  ]
  const app: FastifyInstance = Fastify()
  await app.register(mtls, { ...gen.p } satisfies MtlsPluginOptions)
  app.get('/', async () => 'ok')
  const reasons: string[] = []
  app.addHook('onError', async (request, reply, error) => { reasons.push(`${request.headers['x-case'] as string}:${(error as { reason?: string }).reason ?? ''}`) })

  let current: 'p' | 'q' = 'p'
  const seen = { p: 0, q: 0 }
  const requests: Array<Promise<void>> = []
  for (let i = 0; i < 200; i++) {
    const c = cases[i % cases.length]!
    requests.push(app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': c.header, 'x-case': c.name } }).then((res) => {
      assert.ok(res.statusCode === c.p || res.statusCode === c.q, `${c.name}: ${res.statusCode}`)
    }))
    if (i % 10 === 9) {
      // Between batches of in-flight requests: swap the whole set.
      await new Promise((resolve) => setImmediate(resolve))
      current = current === 'p' ? 'q' : 'p'
      app.mtls.reload(gen[current])
      seen[current]++
    }
  }
  await Promise.all(requests)
  assert.ok(seen.p > 0 && seen.q > 0)
  // "revoked" leaves must be refused as revoked (own generation) or untrusted (other generation):
  // a mix of one generation's chain material with the other's CRLs would let them through (200).
  for (const r of reasons.filter((x) => x.includes('revoked:'))) assert.match(r, /:(revoked|untrusted)$/)
  // Both generations decided some requests.
  assert.ok(reasons.some((r) => r === 'p good:untrusted'), 'some requests ran under q')
})

test('loadTrustStore hands over its CRLs parsed (in event-loop slices); an unreadable one is still refused by the verifier', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trust-store-'))
  try {
    writeFileSync(join(dir, 'ca-bundle.pem'), p.root.pem + p.intermediate.pem)
    writeFileSync(join(dir, 'intermediate.crl'), (await crlOf(p.intermediate, [revokedLeaf.serialNumber])).der)
    const store = await loadTrustStore(dir)
    // Prepared: the verifier takes the parsed CRL for this very buffer, the same object each time
    // (a CRL given as bytes the loader did not prepare is copied and parsed anew on every load).
    assert.equal(loadCrls(store.crls)[0], loadCrls(store.crls)[0])
    const copy = new Uint8Array(store.crls[0]!)
    assert.notEqual(loadCrls([copy])[0], loadCrls([copy])[0])
    assert.equal(reason(createVerifier({ ...store }).verifySync(chain(revokedLeaf))), 'revoked')

    writeFileSync(join(dir, 'broken.crl'), Buffer.from([0x30, 0x03, 0x02, 0x01, 0x01]))
    const broken = await loadTrustStore(dir)
    assert.throws(() => createVerifier({ ...broken }), { code: 'FST_MTLS_INVALID_OPTION', message: /crls\[0\]: unusable CRL/ })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('loadTrustStore streams large CRL files (PEM or DER) and still reads a large mixed bundle', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trust-store-'))
  try {
    assert.ok(bigCrl.pem.length > 1024 * 1024, 'the CRL file takes the streaming path (1 MiB and more)')
    writeFileSync(join(dir, 'ca-bundle.pem'), p.root.pem + p.intermediate.pem)
    writeFileSync(join(dir, 'big.crl'), `# issuing CA, 100,000 entries\n${bigCrl.pem}`)
    for (const store of [await loadTrustStore(dir), await loadTrustStore([join(dir, 'ca-bundle.pem'), join(dir, 'big.crl')])]) {
      assert.equal(store.crls.length, 1)
      assert.deepEqual(new Uint8Array(store.crls[0]!), new Uint8Array(bigCrl.der))
      assert.equal(loadCrls(store.crls)[0], loadCrls(store.crls)[0]) // prepared
      const v = createVerifier({ ...store })
      assert.equal(reason(v.verifySync(chain(bigRevoked))), 'revoked')
      assert.equal(reason(v.verifySync(chain(p.leaf))), 'ok')
    }
    writeFileSync(join(dir, 'big.crl'), bigCrl.der)
    assert.equal(reason(createVerifier({ ...await loadTrustStore(dir) }).verifySync(chain(bigRevoked))), 'revoked')
    // One large file with the CA certificates and the CRL: read whole, as any bundle.
    rmSync(join(dir, 'big.crl'))
    writeFileSync(join(dir, 'ca-bundle.pem'), p.root.pem + p.intermediate.pem + bigCrl.pem)
    const mixed = await loadTrustStore(dir)
    assert.equal(mixed.roots.length + mixed.intermediates.length + mixed.crls.length, 3)
    assert.equal(reason(createVerifier({ ...mixed }).verifySync(chain(bigRevoked))), 'revoked')
    // A large file with a stray line is still refused by name.
    writeFileSync(join(dir, 'ca-bundle.pem'), p.root.pem + bigCrl.pem + 'stray\n')
    await assert.rejects(loadTrustStore(dir), { code: 'FST_MTLS_INVALID_OPTION', message: /ca-bundle.pem: text outside PEM blocks: "stray"/ })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('loadTrustStore reads ALB trust-store files from a directory, and reload follows the files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trust-store-'))
  try {
    const q = await createTestPki({ freshKeys: true })
    // An ALB CA bundle: comments, root and intermediate in one file.
    writeFileSync(join(dir, 'ca-bundle.pem'), `# production CA\n${p.root.pem}# issuing CA\n${p.intermediate.pem}`)
    writeFileSync(join(dir, 'intermediate.crl'), (await crlOf(p.intermediate, [revokedLeaf.serialNumber])).der)
    writeFileSync(join(dir, 'root.crl.pem'), (await crlOf(p.root, [])).pem)
    writeFileSync(join(dir, 'README.md'), 'not trust material')
    mkdirSync(join(dir, '..data'))
    writeFileSync(join(dir, '..data', 'junk.pem'), 'hidden: skipped')

    const store = await loadTrustStore(dir)
    assert.equal(store.roots.length, 1)
    assert.equal(store.intermediates.length, 1)
    assert.equal(store.crls.length, 2)
    assert.deepEqual(store.files.map((f) => f.slice(dir.length + 1)), ['ca-bundle.pem', 'intermediate.crl', 'root.crl.pem'])

    const app = Fastify()
    await app.register(mtls, { ...store })
    app.get('/', async () => 'ok')
    const leafOnly = { 'x-amzn-mtls-clientcert': chain(p.leaf) } // intermediates come from the store
    assert.equal((await app.inject({ url: '/', headers: leafOnly })).statusCode, 200)
    assert.equal((await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': chain(revokedLeaf) } })).statusCode, 401)

    // The deploy pipeline swaps the files; the app reloads from them.
    rmSync(join(dir, 'intermediate.crl'))
    rmSync(join(dir, 'root.crl.pem'))
    writeFileSync(join(dir, 'ca-bundle.pem'), `${q.root.pem}${q.intermediate.pem}`)
    app.mtls.reload(await loadTrustStore(dir))
    assert.equal((await app.inject({ url: '/', headers: leafOnly })).statusCode, 401)
    assert.equal((await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': chain(q.leaf) } })).statusCode, 200)

    // Files and symlinks work as well as directories; trustIntermediates makes every CA an anchor.
    symlinkSync(join(dir, 'ca-bundle.pem'), join(dir, 'link.pem'))
    const single = await loadTrustStore([join(dir, 'link.pem')], { trustIntermediates: true })
    assert.equal(single.roots.length, 2)
    assert.equal(single.intermediates.length, 0)

    // Bad files are clear errors.
    writeFileSync(join(dir, 'bad.pem'), `${q.root.pem}garbage line\n`)
    await assert.rejects(loadTrustStore(join(dir, 'bad.pem')), { code: 'FST_MTLS_INVALID_OPTION', message: /text outside PEM blocks/ })
    writeFileSync(join(dir, 'bad.pem'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')
    await assert.rejects(loadTrustStore(join(dir, 'bad.pem')), { message: /unexpected PRIVATE KEY block/ })
    writeFileSync(join(dir, 'bad.pem'), q.intermediate.pem)
    await assert.rejects(loadTrustStore(join(dir, 'bad.pem')), { message: /no root/ })
    await assert.rejects(loadTrustStore(join(dir, 'missing')), { message: /cannot read/ })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
