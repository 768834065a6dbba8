import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { demoPkiFiles, generateDemoPki, PkiExistsError, readDemoPki, type DemoPkiManifest } from '../../src/cli/certs.js'
import { main } from '../../src/cli/main.js'

const run = promisify(execFile)
let dir: string
let manifest: DemoPkiManifest

const read = async (file: string): Promise<string> => await readFile(path.join(dir, file), 'utf8')
const certs = (pem: string): X509Certificate[] => pem.split(/(?<=-----END CERTIFICATE-----\n)/).filter((p) => p.includes('BEGIN')).map((p) => new X509Certificate(p))

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'demo-pki-'))
  manifest = await generateDemoPki({ dir })
})
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('writes every file, private keys readable by the owner only', async () => {
  for (const file of demoPkiFiles()) {
    const info = await stat(path.join(dir, file))
    if (/(\.key|private-key\.pem)$/.test(file)) assert.equal(info.mode & 0o077, 0, `${file} is private`)
  }
  assert.deepEqual(await readDemoPki(dir), manifest)
  assert.deepEqual(manifest.identities.map((i) => i.name), ['demo-client', 'alice', 'billing', 'rsa', 'ecdsa', 'expired', 'untrusted'])
})

test('client chains lead to the trust store root; keys match certificates', async () => {
  const root = new X509Certificate(await read('trust-store.pem').then((t) => t.replace(/^#.*\n/gm, '')))
  const intermediate = new X509Certificate(await read('intermediate-ca.crt'))
  assert.ok(intermediate.verify(root.publicKey))
  assert.ok(intermediate.ca)
  for (const id of manifest.identities) {
    const [leaf, ...rest] = certs(await read(id.cert)) as [X509Certificate, ...X509Certificate[]]
    assert.ok(leaf.checkPrivateKey(createPrivateKey(await read(id.key))), `${id.name}: key matches`)
    assert.equal(leaf.subject.split('\n').reverse().join(','), id.subject)
    if (id.name === 'untrusted') {
      assert.equal(leaf.verify(intermediate.publicKey), false)
      assert.equal(rest.length, 0)
    } else {
      assert.ok(leaf.verify(intermediate.publicKey), `${id.name}: signed by the intermediate`)
      assert.equal(rest[0]?.fingerprint256, intermediate.fingerprint256, `${id.name}: file carries the intermediate`)
    }
  }
  const expired = certs(await read('clients/expired/certificate.crt'))[0]!
  assert.ok(new Date(expired.validTo).getTime() < Date.now())
  assert.equal(createPrivateKey(await read('clients/rsa/private-key.pem')).asymmetricKeyType, 'rsa')
  assert.equal(createPrivateKey(await read('private-key.pem')).asymmetricKeyType, 'ec')
})

test('server certificate is valid for localhost, 127.0.0.1 and ::1', async () => {
  const [server] = certs(await read('server.crt')) as [X509Certificate]
  assert.equal(server.checkHost('localhost'), 'localhost')
  assert.equal(server.checkIP('127.0.0.1'), '127.0.0.1')
  assert.equal(server.checkIP('::1'), '::1')
  assert.ok(server.checkPrivateKey(createPrivateKey(await read('server.key'))))
})

test('openssl, when installed, agrees: clients verify for TLS client auth, expired and untrusted do not', async (t) => {
  const openssl = await run('which', ['openssl']).then(() => true, () => false)
  if (!openssl) {
    t.skip('openssl is not installed')
    return
  }
  const verify = async (file: string): Promise<boolean> => await run('openssl', [
    'verify', '-purpose', 'sslclient', '-CAfile', path.join(dir, 'root-ca.crt'), '-untrusted', path.join(dir, 'intermediate-ca.crt'), path.join(dir, file)
  ]).then(() => true, () => false)
  assert.equal(await verify('certificate.crt'), true)
  assert.equal(await verify('clients/billing/certificate.crt'), true)
  assert.equal(await verify('clients/expired/certificate.crt'), false)
  assert.equal(await verify('clients/untrusted/certificate.crt'), false)
})

test('refuses to overwrite existing keys unless forced', async () => {
  const before = await read('root-ca.key')
  await assert.rejects(generateDemoPki({ dir }), PkiExistsError)
  assert.equal(await read('root-ca.key'), before)
  await generateDemoPki({ dir, force: true })
  assert.notEqual(await read('root-ca.key'), before)
})

test('refuses when only some files exist', async () => {
  const other = await mkdtemp(path.join(tmpdir(), 'demo-pki-'))
  try {
    await writeFile(path.join(other, 'private-key.pem'), 'mine')
    await assert.rejects(generateDemoPki({ dir: other }), PkiExistsError)
    assert.equal(await readFile(path.join(other, 'private-key.pem'), 'utf8'), 'mine')
  } finally {
    await rm(other, { recursive: true, force: true })
  }
})

test('CLI: certs, refusal, usage errors and --help', async () => {
  const other = await mkdtemp(path.join(tmpdir(), 'demo-pki-'))
  const io = { text: '', out (t: string) { io.text += t }, err (t: string) { io.text += t } }
  try {
    assert.equal(await main(['certs', other], io), 0)
    assert.match(io.text, /Demo PKI \(p-256\) written to/)
    io.text = ''
    assert.equal(await main(['certs', other], io), 1)
    assert.match(io.text, /refusing to overwrite/)
    io.text = ''
    assert.equal(await main(['certs', other, '--algorithm', 'dsa'], io), 2)
    assert.match(io.text, /--algorithm must be one of/)
    assert.equal(await main(['nope'], io), 2)
    assert.equal(await main(['emulate', '--bogus'], io), 2)
    io.text = ''
    assert.equal(await main(['--help'], io), 0)
    assert.match(io.text, /Usage: fastify-alb-mtls <command>/)
  } finally {
    await rm(other, { recursive: true, force: true })
  }
})
