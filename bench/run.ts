/**
 * `npm run bench` (full, a couple of minutes) or `npm run bench -- --quick` (CI smoke): micro
 * benchmarks, HTTP throughput ratios and the memory bound, printed as tables and written as JSON to
 * bench/results/. Ratios within one run are the result; absolute numbers depend on the machine.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { createFixtures, freshCopy } from './fixtures.js'
import { runFlood } from './flood.js'
import { runHostile, runRevocationHostile } from './hostile.js'
import { runHttp } from './http.js'
import { runMemory } from './memory.js'
import { runMicro } from './micro.js'
import { runS3CrlMemory } from './s3-crl.js'
import { runCrlMemory } from './crl-memory.js'
import { createVerifier } from '../src/verifier/verifier.js'

const quick = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',')
const want = (part: string): boolean => only === undefined || only.includes(part)

function fmt (ns: number): string {
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`
  return `${ns.toFixed(0)} ns`
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`
  return [line(header), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

const fx = await createFixtures()
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  quick,
  node: process.version,
  cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
  headerBytes: fx.header.length
}
console.log(`fastify-alb-mtls benchmarks${quick ? ' (quick)' : ''}: node ${process.version}, ${report.cpus as string}, RSA-2048 leaf + intermediate header of ${fx.header.length} bytes\n`)

// Single flight, as a sanity check the HTTP numbers rest on (the test suite proves it).
const sf = createVerifier({ roots: fx.pki.root.pem })
await Promise.all(Array.from({ length: 1000 }, () => sf.verify(freshCopy(fx.header))))
report.singleFlight = { concurrentFirstRequests: 1000, validations: sf.stats().validations }
console.log(`single flight: 1,000 concurrent first verify() calls -> ${sf.stats().validations} validation(s)\n`)

if (want('micro')) {
  const micro = await runMicro(fx, quick)
  report.micro = micro
  console.log(table(['operation', 'ours', 'baseline', 'baseline is', 'ours / baseline', 'target'],
    micro.rows.map((r) => [r.name, fmt(r.ours), fmt(r.baseline), r.baselineName, r.ratio.toFixed(2), r.target])))
  console.log(`\nhit path inside the process: ${fmt(micro.hitPathNs)} per request (target <= 1.5 µs)`)
  console.log(table(['cache key candidate (lookup of a fresh 2-cert header)', 'time'],
    Object.entries(micro.keyCandidates).map(([k, v]) => [k, fmt(v)])))
  console.log('')
}

if (want('hostile')) {
  const hostile = await runHostile(fx, quick)
  report.hostile = hostile
  console.log(table(['hostile header (uncached, cold issuer and key caches)', 'bytes', 'verdict', 'time', 'x valid chain', 'target'], [
    ['valid RSA-2048 leaf + intermediate (the unit)', String(fx.header.length), 'accepted', fmt(hostile.validMs * 1e6), '1.00', ''],
    ...hostile.rows.map((r) => [r.name, String(r.headerBytes), r.verdict, fmt(r.ms * 1e6), r.ratio.toFixed(2), `<= ${hostile.target}`])
  ]))
  const worst = Math.max(...hostile.rows.map((r) => r.ratio))
  console.log(`worst hostile ratio ${worst.toFixed(2)} (target <= ${hostile.target}): ${worst <= hostile.target ? 'met' : 'NOT MET'}\n`)
  // A client with a valid certificate, against a verifier holding a large CRL (its own unit).
  const revocation = await runRevocationHostile(quick)
  report.hostileRevocation = revocation
  console.log(table(['hostile header against revocation (uncached)', 'bytes', 'verdict', 'time', 'x valid chain on that verifier', 'target'], [
    ['valid P-256 leaf + intermediate (the unit)', '', 'accepted', fmt(revocation.validMs * 1e6), '1.00', ''],
    [revocation.row.name, String(revocation.row.headerBytes), revocation.row.verdict, fmt(revocation.row.ms * 1e6), revocation.row.ratio.toFixed(2), `<= ${hostile.target}`]
  ]))
  console.log(`hostile ratio against revocation ${revocation.row.ratio.toFixed(2)} (target <= ${hostile.target}): ${revocation.row.ratio <= hostile.target ? 'met' : 'NOT MET'}\n`)
}

if (want('flood')) {
  const flood = await runFlood(quick)
  report.flood = flood
  console.log(table(['all-miss flood (every request a new certificate)', 'req/s (median)', 'ratio (median of per-pass ratios)', 'target'], [
    ['verifier, cache off', flood.uncachedPerSecond.toFixed(0), '1.00', ''],
    ['verifier, default cache', flood.cachedPerSecond.toFixed(0), flood.ratio.toFixed(2), '>= 1.00 (within noise)']
  ]))
  console.log(`${flood.requests} distinct P-256 leaves per pass; verdicts stored by the cached verifier in its last pass: ${flood.stored}.`)
  console.log('How: with fewer than 1 in 64 lookups hitting, a verdict is stored only the second time its key is seen (src/verifier/cache.ts, Admission).\n')
}

if (want('http')) {
  const http = await runHttp(fx, quick)
  report.http = http
  console.log(table(['server (same route, same header)', 'req/s (median)', 'runs', 'ratio to bare (median of rounds)', 'target'], [
    ['bare Fastify', http.median.bare.toFixed(0), http.runs.bare.map((v) => v.toFixed(0)).join(' '), '1.00', ''],
    ['plugin, warm cache', http.median.warm.toFixed(0), http.runs.warm.map((v) => v.toFixed(0)).join(' '), http.warmOverBare.toFixed(2), '>= 0.90'],
    ['plugin, cache off', http.median.off.toFixed(0), http.runs.off.map((v) => v.toFixed(0)).join(' '), http.offOverBare.toFixed(3), '']
  ]))
  if (http.non2xx > 0) console.log(`warning: ${http.non2xx} non-2xx responses or errors`)
  console.log('')
}

if (want('memory')) {
  const memory = await runMemory(quick)
  report.memory = memory
  console.log(table(['memory', 'value'], [
    ['distinct client certificates validated', `${memory.certificates} (target ${memory.targetCertificates}, ${memory.seconds.toFixed(1)} s)`],
    ['cache bound (maxBytes)', `${(memory.maxBytes / 1048576).toFixed(0)} MiB`],
    ['cache entries / estimated bytes', `${memory.entries} / ${(memory.cacheBytes / 1048576).toFixed(1)} MiB`],
    ['heap after GC: before -> after', `${memory.heapBeforeMiB.toFixed(1)} -> ${memory.heapAfterMiB.toFixed(1)} MiB (growth ${memory.heapGrowthOverBound.toFixed(2)} x maxBytes)`],
    ['RSS: before -> after', `${memory.rssBeforeMiB.toFixed(1)} -> ${memory.rssAfterMiB.toFixed(1)} MiB`],
    ['within the bound (1.5 x maxBytes: successes, failures\' quarter, slack)', memory.withinBound ? 'yes' : 'NO']
  ]))
}

if (want('s3')) {
  // Issue 16: ALB allows CRL files of 50 MB; loading one from S3 must take bounded extra memory.
  const megabytes = quick ? 2 : 50
  const s3 = await runS3CrlMemory(megabytes)
  report.s3Crl = s3
  const mib = (n: number): string => `${n.toFixed(1)} MiB`
  const der = s3.derBytes / 1048576
  console.log(`\nCRL of ${mib(der)} DER (${mib(s3.pemBytes / 1048576)} PEM, ${s3.entries.toLocaleString('en')} entries) loaded from S3 (s3rver on 127.0.0.1), peak RSS by ${s3.peakMethod}:`)
  console.log(table(['phase', 'peak extra RSS', 'x DER size', 'kept after GC (array buffers)', 'time'], [
    ['fetch + PEM decode + CRL parse, index, signature hash (createS3TrustStore)', mib(s3.fetchDecode.peakExtraMiB), (s3.fetchDecode.peakExtraMiB / der).toFixed(2), mib(s3.fetchDecode.retainedArrayBuffersMiB), `${s3.fetchDecode.seconds.toFixed(1)} s`],
    ['the obvious read (collect, concat, string, base64)', mib(s3.naiveFetchDecode.peakExtraMiB), (s3.naiveFetchDecode.peakExtraMiB / der).toFixed(2), mib(s3.naiveFetchDecode.retainedArrayBuffersMiB), `${s3.naiveFetchDecode.seconds.toFixed(1)} s`],
    ['verifier load: takes the parsed CRL and its signature outcome', mib(s3.verifierLoad.peakExtraMiB), (s3.verifierLoad.peakExtraMiB / der).toFixed(2), mib(s3.verifierLoad.retainedArrayBuffersMiB), `${s3.verifierLoad.seconds.toFixed(1)} s`]
  ]))
  // The loader's bound: one output buffer (DER size), the CRL index (under 0.6 x DER) and the SDK's
  // and the decoder's working set.
  const bound = 2 * der + 32
  report.s3CrlWithinBound = s3.fetchDecode.peakExtraMiB <= bound
  console.log(`fetch + decode + index within 2 x DER + 32 MiB (${mib(bound)}): ${s3.fetchDecode.peakExtraMiB <= bound ? 'yes' : 'NO'}`)
  if (!s3.revokedFound) console.log('warning: the leaf listed last in the CRL was not refused as revoked')
}

if (want('crl')) {
  // Issue 16: ALB allows 500,000 revocations in all; loading them costs a small multiple of the
  // CRL's size, and an S3 reload does not stall the requests served meanwhile.
  const crl = await runCrlMemory(quick ? 20_000 : 500_000, quick ? ['der', 'reload', 'files'] : undefined)
  report.crlMemory = crl
  const mib = (n: number): string => `${n.toFixed(1)} MiB`
  const what: Record<string, string> = {
    der: 'loadCrlMaterial(DER)',
    pem: 'loadCrlMaterial(PEM text)',
    verifier: 'createVerifier({ crls: [DER] })',
    reload: 'S3 trust store reload of a running verifier',
    files: 'reload(await loadTrustStore(dir)) of a running verifier (PEM file)'
  }
  console.log(`\nCRL of ${crl.entries.toLocaleString('en')} entries, ${mib(crl.derBytes / 1048576)} DER (${mib(crl.pemBytes / 1048576)} PEM), peak RSS by ${crl.peakMethod}:`)
  console.log(table(['load', 'peak extra RSS', 'x DER size', 'kept after GC (heap + buffers)', 'time', 'longest event-loop stall'],
    crl.phases.map((p) => [what[p.mode]!, mib(p.peakExtraMiB), p.peakRatio.toFixed(2), mib(p.retainedHeapMiB + p.retainedArrayBuffersMiB), `${p.seconds.toFixed(2)} s`, `${p.maxStallMs.toFixed(0)} ms`])))
  // Target: a small multiple of the CRL's size (<= 3 x DER; the quick run's CRL is too small for a ratio).
  const worst = Math.max(...crl.phases.map((p) => p.peakRatio))
  report.crlMemoryWithinBound = quick || worst <= 3
  if (!quick) console.log(`peak extra memory within 3 x the DER size: ${worst <= 3 ? 'yes' : 'NO'} (worst ${worst.toFixed(2)})`)
  for (const p of crl.phases) if (!p.revokedFound) console.log(`warning (${p.mode}): the leaf listed last in the CRL was not refused as revoked`)
}

const dir = fileURLToPath(new URL('./results/', import.meta.url))
mkdirSync(dir, { recursive: true })
const json = JSON.stringify(report, null, 2) + '\n'
writeFileSync(`${dir}${(report.date as string).replace(/[:.]/g, '-')}${quick ? '-quick' : ''}.json`, json)
writeFileSync(`${dir}latest.json`, json)
console.log('\nJSON written to bench/results/latest.json')
