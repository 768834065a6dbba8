/**
 * `npm run test:package` (last step of `npm test`): the package as a user installs it must work.
 *
 * 1. `npm pack` (runs `prepack`, which builds dist/) and checks what the tarball holds: code,
 *    declarations, and every source map's `sources` present in the tarball.
 * 2. Installs the tarball into an empty temporary project WITHOUT the network: the project gets a
 *    lockfile cut from this repository's own (the tarball's dependencies, fastify and @types/node at
 *    the versions `npm ci` just installed), so `npm ci --offline` takes everything from npm's cache.
 * 3. Type-checks consumers under `module`/`moduleResolution` nodenext, node16 and bundler, with
 *    skipLibCheck off (declarations that do not resolve fail here, instead of silently turning
 *    into `any`), plus a CommonJS `.cts` consumer under nodenext.
 * 4. Runs an ESM consumer (import), a CommonJS consumer (require, Node >= 20.19), and the CLI from
 *    node_modules/.bin.
 *
 * Set KEEP_PACKAGE_CHECK=1 to keep the temporary project for inspection.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const tsc = path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc')
const work = mkdtempSync(path.join(tmpdir(), 'mtls-package-'))
const consumer = path.join(work, 'consumer')

function step (name: string): void {
  process.stdout.write(`package check: ${name}\n`)
}

function run (command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env } })
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${String(result.status)}\n${result.stdout}\n${result.stderr}`)
  }
  return result.stdout
}

interface LockEntry {
  version?: string
  resolved?: string
  integrity?: string
  dependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  peerDependenciesMeta?: Record<string, { optional?: boolean }>
  link?: boolean
  dev?: boolean
  optional?: boolean
  devOptional?: boolean
  peer?: boolean
  [key: string]: unknown
}

/** Where Node would find `name` from the package at `from` (a lockfile key), within the lockfile. */
function locate (packages: Record<string, LockEntry>, from: string, name: string): string | undefined {
  let dir = from
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`
    if (packages[candidate] !== undefined) return candidate
    if (dir === '') return undefined
    const cut = dir.lastIndexOf('/node_modules/')
    dir = cut === -1 ? '' : dir.slice(0, cut)
  }
}

/** The lockfile entries `roots` need, following dependencies (and installed peers) as npm laid them out. */
function closure (packages: Record<string, LockEntry>, roots: Record<string, string>): Record<string, LockEntry> {
  const out: Record<string, LockEntry> = {}
  const queue: Array<[string, string]> = Object.keys(roots).map((name) => ['', name])
  while (queue.length > 0) {
    const [from, name] = queue.shift() as [string, string]
    const key = locate(packages, from, name)
    if (key === undefined) continue // an optional dependency this platform did not install
    if (out[key] !== undefined) continue
    const entry = { ...packages[key] } as LockEntry
    delete entry.dev
    delete entry.devOptional
    delete entry.peer
    out[key] = entry
    const deps = { ...entry.dependencies, ...entry.optionalDependencies, ...entry.peerDependencies }
    for (const dep of Object.keys(deps)) queue.push([key, dep])
  }
  return out
}

try {
  // 1. Pack.
  step('npm pack (prepack builds dist/)')
  const packed = JSON.parse(run(npm, ['pack', '--json', '--pack-destination', work], repo)) as Array<{ filename: string, integrity: string, files: Array<{ path: string }> }>
  const info = packed[0]
  assert.ok(info !== undefined, 'npm pack printed no result')
  const files = new Set(info.files.map((f) => f.path))
  for (const required of ['package.json', 'README.md', 'dist/index.js', 'dist/index.d.ts', 'dist/errors.d.ts', 'dist/cli/main.js', 'dist/cli/index.js', 'dist/testing/index.js']) {
    assert.ok(files.has(required), `the tarball lacks ${required}`)
  }
  for (const file of files) assert.ok(!file.startsWith('test/') && !file.startsWith('node_modules/'), `the tarball holds ${file}`)
  const tarball = path.join(work, info.filename)

  // 2. Install into an empty project, offline, from a lockfile cut out of ours.
  step('install the tarball into an empty project (npm ci --offline)')
  mkdirSync(consumer)
  copyFileSync(tarball, path.join(consumer, 'package.tgz'))
  const manifest = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { name: string, version: string, dependencies: Record<string, string>, engines: Record<string, string>, bin: Record<string, string> }
  const lock = JSON.parse(readFileSync(path.join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const installed = (name: string): string => {
    const version = lock.packages[`node_modules/${name}`]?.version
    assert.ok(version !== undefined, `${name} is not in package-lock.json`)
    return version
  }
  const consumerDeps = {
    [manifest.name]: 'file:package.tgz',
    fastify: installed('fastify'),
    '@types/node': installed('@types/node')
  }
  const needed = closure(lock.packages, { ...manifest.dependencies, fastify: '', '@types/node': '' })
  const consumerManifest = { name: 'mtls-consumer', version: '1.0.0', private: true, type: 'module', dependencies: consumerDeps }
  writeFileSync(path.join(consumer, 'package.json'), JSON.stringify(consumerManifest, null, 2))
  writeFileSync(path.join(consumer, 'package-lock.json'), JSON.stringify({
    name: 'mtls-consumer',
    version: '1.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: 'mtls-consumer', version: '1.0.0', dependencies: consumerDeps },
      [`node_modules/${manifest.name}`]: {
        version: manifest.version,
        resolved: 'file:package.tgz',
        integrity: info.integrity,
        dependencies: manifest.dependencies,
        bin: manifest.bin,
        engines: manifest.engines,
        license: 'MIT'
      },
      ...needed
    }
  }, null, 2))
  run(npm, ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--loglevel=error'], consumer)
  const pkgDir = path.join(consumer, 'node_modules', manifest.name)

  // Source maps: every `sources` entry resolves to a file the package contains.
  step('source maps point at files in the package')
  let maps = 0
  for (const file of files) {
    if (!file.endsWith('.map')) continue
    maps++
    const map = JSON.parse(readFileSync(path.join(pkgDir, file), 'utf8')) as { sources: string[] }
    for (const source of map.sources) {
      const target = path.resolve(path.dirname(path.join(pkgDir, file)), source)
      assert.ok(target.startsWith(pkgDir + path.sep) && existsSync(target), `${file} points at ${source}, which the package does not contain`)
    }
  }
  assert.ok(maps > 0, 'no source maps in the package')

  // 3. Type-check consumers.
  const esmConsumer = `import Fastify from 'fastify'
import mtls, { requireClientCert, clientCertOf, CertInvalidError, InvalidOptionError, createVerifier, type ClientCertificate, type MtlsPluginOptions } from 'fastify-alb-mtls'
import { createTestPki, toAlbHeader } from 'fastify-alb-mtls/testing'
import { startAlbEmulator } from 'fastify-alb-mtls/cli'

type IsAny<T> = 0 extends 1 & T ? true : false
type Expect<T extends true> = T
export type NotAny = [
  Expect<IsAny<typeof CertInvalidError> extends true ? false : true>,
  Expect<IsAny<typeof mtls> extends true ? false : true>,
  Expect<IsAny<typeof createVerifier> extends true ? false : true>,
  Expect<IsAny<typeof startAlbEmulator> extends true ? false : true>
]
const code: 'FST_MTLS_CERT_INVALID' = new CertInvalidError().code
const status: 401 = new CertInvalidError().statusCode
void [code, status, InvalidOptionError]

const pki = await createTestPki()
const options: MtlsPluginOptions = { roots: pki.root.pem }
const app = Fastify()
await app.register(mtls, options)
app.get('/', { onRequest: requireClientCert({ subject: { CN: 'client' } }) }, async (request) => {
  const cert: ClientCertificate = clientCertOf(request)
  return { subject: cert.subject }
})
const response = await app.inject({ url: '/', headers: { 'x-amzn-mtls-clientcert': toAlbHeader([pki.leaf.pem, pki.intermediate.pem]) } })
if (response.statusCode !== 200 || response.json().subject !== pki.leaf.subject) throw new Error('ESM consumer: ' + response.body)
const refused = await app.inject({ url: '/' })
if (refused.statusCode !== 401) throw new Error('ESM consumer: expected 401, got ' + String(refused.statusCode))
await app.close()
process.stdout.write('esm ok\\n')
`
  const cjsConsumer = `import type { ClientCertificate } from 'fastify-alb-mtls'
const mtls = require('fastify-alb-mtls') as typeof import('fastify-alb-mtls')
const { createTestPki } = require('fastify-alb-mtls/testing') as typeof import('fastify-alb-mtls/testing')
const Fastify = require('fastify') as typeof import('fastify').default

async function main (): Promise<void> {
  const pki = await createTestPki()
  const app = Fastify()
  await app.register(mtls.mtlsPassthrough, { roots: pki.root.pem })
  app.get('/', { onRequest: mtls.requireClientCert({}) }, async (request) => {
    const cert: ClientCertificate = mtls.clientCertOf(request)
    return { subject: cert.subject }
  })
  const refused = await app.inject({ url: '/' })
  if (refused.statusCode !== 401 || typeof mtls.CertMissingError !== 'function') throw new Error('CJS consumer: ' + refused.body)
  await app.close()
  process.stdout.write('cjs ok\\n')
}
main().catch((err: unknown) => { console.error(err); process.exit(1) })
`
  const tsconfigs: Array<{ name: string, options: Record<string, unknown>, files: string[] }> = [
    { name: 'nodenext', options: { module: 'nodenext', moduleResolution: 'nodenext' }, files: ['esm.ts', 'cjs.cts'] },
    { name: 'node16', options: { module: 'node16', moduleResolution: 'node16' }, files: ['esm.ts'] },
    { name: 'bundler', options: { module: 'esnext', moduleResolution: 'bundler' }, files: ['esm.ts'] },
    // The common setup: skipLibCheck on, no DOM types. The NotAny assertions in esm.ts catch
    // declarations that silently degrade to `any` there.
    { name: 'nodenext-skiplibcheck', options: { module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, lib: ['es2023'] }, files: ['esm.ts'] }
  ]
  writeFileSync(path.join(consumer, 'esm.ts'), esmConsumer)
  writeFileSync(path.join(consumer, 'cjs.cts'), cjsConsumer)
  for (const config of tsconfigs) {
    step(`type-check consumers under ${config.name}`)
    writeFileSync(path.join(consumer, `tsconfig.${config.name}.json`), JSON.stringify({
      // skipLibCheck off needs the DOM lib: pkijs's own declarations name WebCrypto types (CryptoKey, Algorithm).
      compilerOptions: { target: 'es2022', lib: ['es2023', 'dom'], types: ['node'], strict: true, skipLibCheck: false, noEmit: config.name !== 'nodenext', outDir: 'out', ...config.options },
      files: config.files
    }, null, 2))
    run(process.execPath, [tsc, '-p', `tsconfig.${config.name}.json`], consumer)
  }

  // 4. Run: import from ESM, require from CJS, the CLI.
  step('import from an ES module')
  assert.match(run(process.execPath, ['out/esm.js'], consumer), /esm ok/)
  step('require from CommonJS')
  assert.match(run(process.execPath, ['out/cjs.cjs'], consumer, { NODE_NO_WARNINGS: '1' }), /cjs ok/)
  const required = run(process.execPath, ['-e', "const m = require('fastify-alb-mtls'); const s3 = require('fastify-alb-mtls/s3'); if (typeof m.default !== 'function' || typeof m.createVerifier !== 'function' || typeof s3.createS3TrustStore !== 'function') process.exit(1); console.log('require ok')"], consumer, { NODE_NO_WARNINGS: '1' })
  assert.match(required, /require ok/)
  step('run the CLI from node_modules/.bin')
  const bin = path.join(consumer, 'node_modules', '.bin', 'fastify-alb-mtls')
  assert.match(run(bin, ['--help'], consumer), /Usage: fastify-alb-mtls <command>/)
  assert.match(run(bin, ['certs', 'pki'], consumer), /Demo PKI \(p-256\) written to/)
  assert.ok(existsSync(path.join(consumer, 'pki', 'trust-store.pem')))
  const disabled = spawnSync(bin, ['emulate', '--verify-port', '-1', '--passthrough-port', '-1'], { cwd: consumer, encoding: 'utf8' })
  assert.equal(disabled.status, 2)
  assert.match(disabled.stderr, /both listeners are disabled/)
  step('ok')
} finally {
  if (process.env.KEEP_PACKAGE_CHECK === '1') process.stdout.write(`package check: kept ${work}\n`)
  else rmSync(work, { recursive: true, force: true })
}
