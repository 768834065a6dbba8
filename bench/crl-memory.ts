/**
 * Memory and event-loop cost of loading one large CRL into the verifier (issue 16: ALB allows CRL
 * files of 50 MB and 500,000 revocations in all). A signed CRL with `entries` revocations (20-byte
 * random serials, a reasonCode on each, about 55 bytes an entry as real CAs write them) is built
 * directly in DER; each measurement runs in a fresh child process with the CRL already in memory:
 *
 * - `der`: `loadCrlMaterial(der)`, the parser and its index alone;
 * - `pem`: `loadCrlMaterial(pemText)`, the same from PEM text (as read from a file);
 * - `verifier`: `createVerifier({ roots, crls: [der] })`, parse + signature check + index;
 * - `reload`: an S3 trust store (its fetcher answering from memory) feeds a running verifier, as
 *   the plugin wires them, and the next poll brings the large CRL: the longest event-loop stall
 *   while the reload runs (requests are served meanwhile with the old material);
 * - `files`: `verifier.reload(await loadTrustStore(dir))` on a running verifier, the file-based
 *   rotation recipe (docs/operations.md), with the large CRL in the directory as a PEM file.
 *
 * Each prints the peak RSS over the baseline (VmHWM, reset through /proc/self/clear_refs), what the
 * heap and array buffers keep after GC, the ratio of the peak to the CRL's DER size, the time, and
 * the longest event-loop stall (perf_hooks.monitorEventLoopDelay, 1 ms resolution).
 * Run alone: `node --import tsx bench/crl-memory.ts [entries]`.
 */
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { createCrl, createTestPki } from '../src/testing/index.js'
import { meter } from './s3-crl.js'
import { buildLargeCrl, crlPem as pem } from './large-crl.js'

const MiB = 1024 * 1024
export type CrlBenchMode = 'der' | 'pem' | 'verifier' | 'reload' | 'files'
export const CRL_BENCH_MODES: readonly CrlBenchMode[] = ['der', 'pem', 'verifier', 'reload', 'files']

export interface CrlPhase {
  mode: CrlBenchMode
  peakExtraMiB: number
  /** Peak extra RSS over the CRL's DER size. */
  peakRatio: number
  retainedHeapMiB: number
  retainedArrayBuffersMiB: number
  seconds: number
  /** Longest event-loop stall while loading, ms. */
  maxStallMs: number
  /** The leaf listed last is refused as revoked (der, pem: found by findEntry). */
  revokedFound: boolean
}

export interface CrlMemoryResult {
  entries: number
  derBytes: number
  pemBytes: number
  peakMethod: 'VmHWM' | 'sampled'
  phases: CrlPhase[]
}

interface ChildArgs { mode: CrlBenchMode, dir: string }

async function child ({ mode, dir }: ChildArgs): Promise<CrlPhase & { peakMethod: 'VmHWM' | 'sampled' }> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const { loadCrlMaterial, findEntry } = await import('../src/validation/crl.js')
  const { createVerifier } = await import('../src/verifier/verifier.js')
  const { parseCertificate } = await import('../src/x509/parse.js')
  const { toAlbHeader } = await import('../src/testing/index.js')
  const fixture = JSON.parse(readFileSync(join(dir, 'fixture.json'), 'utf8')) as { root: string, intermediate: string, leaf: string, smallCrl: string }
  const der = readFileSync(join(dir, 'large.crl'))
  const text = mode === 'pem' ? readFileSync(join(dir, 'large.crl.pem'), 'latin1') : ''
  const leaf = parseCertificate(Buffer.from(fixture.leaf.replace(/-----[^-]+-----|\s+/g, ''), 'base64'))
  const header = toAlbHeader([fixture.leaf, fixture.intermediate])
  // Warm the parsers on a small CRL so their code is not counted.
  createVerifier({ roots: fixture.root, intermediates: fixture.intermediate, crls: [fixture.smallCrl] })
  // reload: an S3 trust store (its fetcher answering from memory, as s3rver would after the download)
  // feeds a running verifier, as the plugin wires them; the second round brings the large CRL.
  let round = 0
  const { createS3TrustStore } = await import('../src/trust/s3.js')
  const pemDer = (p: string): Uint8Array => Buffer.from(p.replace(/-----[^-]+-----|\s+/g, ''), 'base64')
  const store = mode !== 'reload'
    ? null
    : await createS3TrustStore({
      caBundle: 's3://bench-trust/ca-bundle.pem',
      crls: ['s3://bench-trust/crl.pem'],
      poll: false,
      fetcher: {
        async get (ref) {
          const items = ref.key === 'ca-bundle.pem' ? [pemDer(fixture.root), pemDer(fixture.intermediate)] : [round === 0 ? pemDer(fixture.smallCrl) : der]
          return { modified: true, etag: `"${round}"`, versionId: undefined, body: { items, size: items.reduce((n, i) => n + i.length, 0) } }
        },
        destroy () {}
      }
    })
  const verifier = createVerifier({ roots: fixture.root, intermediates: fixture.intermediate, crls: [fixture.smallCrl] })
  store?.follow({ reload: (material) => { verifier.reload(material as Parameters<typeof verifier.reload>[0]) } })
  const m = meter()
  const delay = monitorEventLoopDelay({ resolution: 1 })
  // A 1 ms heartbeat, as requests would arrive: the longest gap between its ticks is the stall the
  // monitor also reports (the monitor misses a block that starts before its first sample).
  let last = performance.now()
  let longestGap = 0
  const tick = setInterval(() => { const t = performance.now(); longestGap = Math.max(longestGap, t - last); last = t }, 1)
  gc()
  const base = process.memoryUsage()
  m.reset()
  delay.enable()
  await new Promise((resolve) => setTimeout(resolve, 20))
  longestGap = 0
  last = performance.now()
  const started = performance.now()
  let revokedFound = false
  let keep: unknown
  if (mode === 'der' || mode === 'pem') {
    const loaded = loadCrlMaterial(mode === 'der' ? der : text)
    const crl = loaded.crls[0]!
    revokedFound = findEntry(crl, crl.issuerKey, leaf.serialBytes) !== undefined
    keep = loaded
  } else if (mode === 'verifier') {
    const v = createVerifier({ roots: fixture.root, intermediates: fixture.intermediate, crls: [der] })
    const r = v.verifySync(header)
    revokedFound = !r.ok && r.reason === 'revoked'
    keep = v
  } else if (mode === 'files') {
    const { loadTrustStore } = await import('../src/trust/load-trust-store.js')
    verifier.reload(await loadTrustStore(join(dir, 'store')))
    const r = verifier.verifySync(header)
    revokedFound = !r.ok && r.reason === 'revoked'
    keep = verifier
  } else {
    round = 1
    const outcome = await store!.refresh()
    if (outcome !== 'reloaded') throw new Error(`reload: ${outcome} (${store!.stats().lastFault?.message ?? ''})`)
    const r = verifier.verifySync(header)
    revokedFound = !r.ok && r.reason === 'revoked'
    store!.close()
    keep = verifier
  }
  // Let the monitor see the last stretch.
  await new Promise((resolve) => setTimeout(resolve, 5))
  const seconds = (performance.now() - started) / 1000
  delay.disable()
  clearInterval(tick)
  const peak = m.peak()
  gc()
  const after = process.memoryUsage()
  m.stop()
  if (keep === undefined) throw new Error('nothing loaded')
  const peakExtraMiB = (peak - base.rss) / MiB
  return {
    mode,
    peakExtraMiB,
    peakRatio: peakExtraMiB / (der.length / MiB),
    retainedHeapMiB: (after.heapUsed - base.heapUsed) / MiB,
    retainedArrayBuffersMiB: (after.arrayBuffers - base.arrayBuffers) / MiB,
    seconds,
    maxStallMs: Math.max(delay.max / 1e6, longestGap),
    revokedFound,
    peakMethod: m.method
  }
}

async function runChild (args: ChildArgs): Promise<CrlPhase & { peakMethod: 'VmHWM' | 'sampled' }> {
  const script = fileURLToPath(import.meta.url)
  const proc = spawn(process.execPath, ['--expose-gc', '--no-warnings', '--import', 'tsx', script, 'child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  for await (const chunk of proc.stdout) out += String(chunk)
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve))
  if (code !== 0) throw new Error(`crl-memory child (${args.mode}) exited with ${code}`)
  return JSON.parse(out) as CrlPhase & { peakMethod: 'VmHWM' | 'sampled' }
}

/** Builds a CRL of `entries` revocations and measures each way of loading it in a child process. */
export async function runCrlMemory (entries: number, modes: readonly CrlBenchMode[] = CRL_BENCH_MODES): Promise<CrlMemoryResult> {
  const pki = await createTestPki()
  const revoked = await pki.issue({ subject: 'CN=revoked and listed last', extendedKeyUsage: ['clientAuth'] })
  const der = await buildLargeCrl(entries - 1, pki, revoked.serialNumber)
  const text = pem(der)
  const dir = mkdtempSync(join(tmpdir(), 'fastify-alb-mtls-bench-crl-'))
  try {
    writeFileSync(join(dir, 'large.crl'), der)
    writeFileSync(join(dir, 'large.crl.pem'), text)
    mkdirSync(join(dir, 'store'))
    writeFileSync(join(dir, 'store', 'ca-bundle.pem'), pki.root.pem + pki.intermediate.pem)
    writeFileSync(join(dir, 'store', 'issuing-ca.crl'), text) // PEM: the costlier form to read
    const smallCrl = (await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key } })).pem
    writeFileSync(join(dir, 'fixture.json'), JSON.stringify({ root: pki.root.pem, intermediate: pki.intermediate.pem, leaf: revoked.pem, smallCrl }))
    const phases: Array<CrlPhase & { peakMethod: 'VmHWM' | 'sampled' }> = []
    for (const mode of modes) phases.push(await runChild({ mode, dir }))
    return { entries, derBytes: der.length, pemBytes: text.length, peakMethod: phases[0]?.peakMethod ?? 'sampled', phases: phases.map(({ peakMethod: _m, ...p }) => p) }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'child') {
    process.stdout.write(JSON.stringify(await child(JSON.parse(process.argv[3]!) as ChildArgs)) + '\n')
  } else {
    const modes = process.argv[3] === undefined ? CRL_BENCH_MODES : process.argv[3].split(',') as CrlBenchMode[]
    console.log(JSON.stringify(await runCrlMemory(Number(process.argv[2] ?? 500_000), modes), null, 2))
  }
}
