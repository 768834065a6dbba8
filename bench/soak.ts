/**
 * Soak: `npm run soak [-- --duration 60 --clients 10000 --connections 10]`.
 *
 * Drives the plugin on 127.0.0.1 with autocannon for `duration` seconds, mixing valid chains from
 * `clients` distinct client certificates, invalid chains (no path to the root, a forged signature)
 * and garbage headers, and reports: requests/s, 5xx and errors (must be zero), p99 latency, the
 * server's RSS after warm-up and its slope (heap after a full GC too), and the verdict cache's bound
 * when the build has one.
 * Prints a table and writes JSON to bench/results/. Exit code 1 when a 5xx or an error was seen.
 *
 * The certificates are generated once (EC P-256 leaves under one intermediate; the leaves share a
 * key, which keeps generation to seconds: each is still a distinct certificate with its own serial,
 * subject and signature) and cached in the OS temp directory for a day.
 */
import { fork } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import autocannon from 'autocannon'
import { createCertificate, createTestPki, generateKeyPair, toAlbHeader } from '../src/testing/index.js'

const here = dirname(fileURLToPath(import.meta.url))

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '60' },
    clients: { type: 'string', default: '10000' },
    connections: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '' },
    'cache-mb': { type: 'string', default: '8' }
  }
})
const duration = positive(args.duration, 'duration')
const clients = positive(args.clients, 'clients')
const connections = positive(args.connections, 'connections')
// A cache bound the run saturates within warm-up, so the slope after it shows leaks, not filling.
const cacheBytes = positive(args['cache-mb'], 'cache-mb') * 1024 * 1024
// Successes may hold maxBytes, failures a quarter of it on top (src/verifier/cache.ts).
const cacheBound = cacheBytes * 1.25
// RSS samples before this many seconds are warm-up (code paths compiled, caches filling).
const warmup = args.warmup === '' ? Math.min(15, duration / 4) : Number(args.warmup)

function positive (value: string | undefined, name: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n <= 0) throw new TypeError(`--${name} must be a positive integer`)
  return n
}

interface Material { created: number, roots: string, valid: string[], invalid: string[], garbage: string[] }

async function material (): Promise<Material> {
  const file = join(tmpdir(), `fastify-alb-mtls-soak-${clients}.json`)
  if (existsSync(file) && Date.now() - statSync(file).mtimeMs < 86400_000) {
    return JSON.parse(readFileSync(file, 'utf8')) as Material
  }
  const started = Date.now()
  const pki = await createTestPki({ algorithm: 'p-256' })
  const other = await createTestPki({ algorithm: 'p-256' })
  const key = await generateKeyPair('p-256')
  const valid: string[] = []
  for (let i = 0; i < clients; i++) {
    const leaf = await createCertificate({
      subject: `CN=soak-client-${i},O=Soak`,
      key,
      issuer: { certificate: pki.intermediate, key: pki.intermediate.key },
      extendedKeyUsage: ['clientAuth'],
      san: { uri: [`spiffe://soak.example/client/${i}`] }
    })
    valid.push(toAlbHeader([leaf.pem, pki.intermediate.pem]))
    if (i % 1000 === 999) process.stderr.write(`generated ${i + 1}/${clients} client certificates\n`)
  }
  const forged = await createCertificate({ subject: 'CN=forged', key, issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, corruptSignature: true })
  const invalid = [
    toAlbHeader([other.leaf.pem, other.intermediate.pem]), // another CA
    toAlbHeader([pki.leaf.pem]), // no intermediate: no path
    toAlbHeader([forged.pem, pki.intermediate.pem]) // bad signature
  ]
  const good = valid[0]!
  const garbage = [
    'x', '%', '%00', '-----BEGIN%20CERTIFICATE-----', good.slice(0, 700), good.replace(/A/g, 'B'), good + '%0Ajunk',
    good.replace(/%0A/g, '%0A%00'), `${good}, ${good}`, '-----BEGIN%20CERTIFICATE-----%0A' + 'MA=='.repeat(100) + '%0A-----END%20CERTIFICATE-----',
    'A'.repeat(15000), good.replace('MII', 'M%C3%A9I')
  ]
  const out: Material = { created: Date.now(), roots: pki.root.pem, valid, invalid, garbage }
  writeFileSync(file, JSON.stringify(out))
  process.stderr.write(`certificates generated in ${((Date.now() - started) / 1000).toFixed(1)} s, cached in ${file}\n`)
  return out
}

interface Sample { at: number, rss: number, heapUsed: number, stats: Record<string, number> | null }

/** Least-squares slope of y over x. */
function slope (points: Array<[number, number]>): number {
  const n = points.length
  if (n < 2) return 0
  const mx = points.reduce((s, [x]) => s + x, 0) / n
  const my = points.reduce((s, [, y]) => s + y, 0) / n
  let num = 0
  let den = 0
  for (const [x, y] of points) { num += (x - mx) * (y - my); den += (x - mx) ** 2 }
  return den === 0 ? 0 : num / den
}

const MB = 1024 * 1024

async function main (): Promise<void> {
  const m = await material()
  const child = fork(join(here, 'soak-server.ts'), [], { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const samples: Sample[] = []
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (msg: { type: string, port?: number } & Sample) => {
      if (msg.type === 'ready') resolve(msg.port ?? 0)
      else if (msg.type === 'sample') samples.push(msg)
    })
    child.once('exit', (code) => reject(new Error(`soak server exited with ${String(code)}`)))
    child.send({ type: 'start', roots: m.roots, cacheBytes })
  })

  // The mix, per request: 70 % valid (a random one of the clients), 15 % invalid, 15 % garbage.
  const kinds = { valid: 0, invalid: 0, garbage: 0 }
  const pick = (): string => {
    const r = Math.random()
    if (r < 0.7) { kinds.valid++; return m.valid[Math.floor(Math.random() * m.valid.length)]! }
    if (r < 0.85) { kinds.invalid++; return m.invalid[Math.floor(Math.random() * m.invalid.length)]! }
    kinds.garbage++
    return m.garbage[Math.floor(Math.random() * m.garbage.length)]!
  }
  const started = Date.now()
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/`,
    connections,
    duration,
    requests: [{ setupRequest: (req) => ({ ...req, headers: { ...req.headers, 'x-amzn-mtls-clientcert': pick() } }) }]
  })
  child.send({ type: 'stop' })
  await once(child, 'exit')

  const steady = samples.filter((s) => s.at - started >= warmup * 1000)
  const rssSlope = slope(steady.map((s) => [(s.at - started) / 60_000, s.rss / MB]))
  const heapSlope = slope(steady.map((s) => [(s.at - started) / 60_000, s.heapUsed / MB]))
  const last = samples.at(-1)
  const withStats = samples.filter((s) => s.stats !== null)
  const figures = {
    date: new Date().toISOString(),
    node: process.version,
    duration,
    connections,
    clients,
    mix: kinds,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.average),
    status: { '2xx': result['2xx'], '4xx': result['4xx'], '5xx': result['5xx'], non2xx: result.non2xx },
    errors: result.errors,
    timeouts: result.timeouts,
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
    rssMB: { afterWarmup: steady.length > 0 ? +(steady[0]!.rss / MB).toFixed(1) : null, end: last === undefined ? null : +(last.rss / MB).toFixed(1), max: +(Math.max(...samples.map((s) => s.rss)) / MB).toFixed(1) },
    rssSlopeMBPerMin: +rssSlope.toFixed(2),
    heapSlopeMBPerMin: +heapSlope.toFixed(2),
    cache: withStats.length === 0
      ? null
      : {
          maxEntries: Math.max(...withStats.map((s) => s.stats?.entries ?? 0)),
          maxBytes: Math.max(...withStats.map((s) => s.stats?.bytes ?? 0)),
          boundBytes: cacheBound,
          held: Math.max(...withStats.map((s) => s.stats?.bytes ?? 0)) <= cacheBound,
          end: withStats.at(-1)?.stats
        }
  }

  const rows: Array<[string, string]> = [
    ['duration', `${duration} s, ${connections} connections, 127.0.0.1`],
    ['client certificates', String(clients)],
    ['mix sent (valid/invalid/garbage)', `${kinds.valid}/${kinds.invalid}/${kinds.garbage}`],
    ['requests', `${figures.requests} (${figures.requestsPerSecond} req/s)`],
    ['2xx / 4xx / 5xx', `${figures.status['2xx']} / ${figures.status['4xx']} / ${figures.status['5xx']}`],
    ['errors / timeouts', `${figures.errors} / ${figures.timeouts}`],
    ['latency p50 / p99 / max', `${figures.latencyMs.p50} / ${figures.latencyMs.p99} / ${figures.latencyMs.max} ms`],
    ['RSS after warm-up / end / max', `${figures.rssMB.afterWarmup} / ${figures.rssMB.end} / ${figures.rssMB.max} MB`],
    [`slope after ${warmup} s warm-up`, `RSS ${figures.rssSlopeMBPerMin} MB/min, heap after GC ${figures.heapSlopeMBPerMin} MB/min`],
    ['verdict cache', figures.cache === null
      ? 'not in this build (no verifier.stats())'
      : `max ${figures.cache.maxEntries} entries, ${(figures.cache.maxBytes / MB).toFixed(1)} MB of a ${(cacheBound / MB).toFixed(1)} MB bound: ${figures.cache.held ? 'held' : 'EXCEEDED'}`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  process.stdout.write(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n') + '\n')
  const dir = join(here, 'results')
  mkdirSync(dir, { recursive: true })
  const file = join(dir, `soak-${figures.date.replace(/[:.]/g, '-')}.json`)
  writeFileSync(file, JSON.stringify(figures, null, 2) + '\n')
  process.stdout.write(`written: ${file}\n`)
  if (figures.status['5xx'] > 0 || figures.errors > 0 || figures.timeouts > 0 || figures.cache?.held === false) {
    process.stderr.write('FAIL: 5xx, errors, timeouts or the cache bound exceeded during the soak\n')
    process.exitCode = 1
  }
}

await main()
