/**
 * Memory: validate many distinct client certificates through one verifier and check that what
 * stays in memory follows the cache bound, not the number of clients. Run as its own process
 * (`node --expose-gc --import tsx bench/memory.ts <count> <maxBytes> <seconds>`), prints JSON.
 *
 * Leaves are made fast enough for 100,000: one Ed25519-signed template under an Ed25519
 * intermediate, with the serial number rewritten and the signature redone for each (64-byte
 * signatures keep every length fixed). Each leaf is a distinct, valid certificate.
 */
import { sign } from 'node:crypto'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { parseCertificate } from '../src/x509/parse.js'
import { createVerifier } from '../src/verifier/verifier.js'
import { createTestPki } from '../src/testing/index.js'

export interface MemoryResult {
  certificates: number
  targetCertificates: number
  seconds: number
  maxBytes: number
  entries: number
  cacheBytes: number
  rssBeforeMiB: number
  rssAfterMiB: number
  heapBeforeMiB: number
  heapAfterMiB: number
  /** Heap growth after GC, over the configured byte bound. */
  heapGrowthOverBound: number
  withinBound: boolean
}

const MiB = 1024 * 1024

function albEncode (der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&%0A').replace(/%0A$/, '')
  return `-----BEGIN%20CERTIFICATE-----%0A${b64}%0A-----END%20CERTIFICATE-----%0A`
}

async function main (target: number, maxBytes: number, seconds: number): Promise<MemoryResult> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const pki = await createTestPki({ algorithm: 'ed25519' })
  const template = Buffer.from(pki.leaf.der)
  const parsed = parseCertificate(new Uint8Array(template))
  const serialAt = template.indexOf(Buffer.from(parsed.serialBytes))
  const tbsAt = template.indexOf(Buffer.from(parsed.tbs))
  const tbsEnd = tbsAt + parsed.tbs.length
  const intermediatePart = albEncode(pki.intermediate.der)
  const leafHeader = (n: number): string => {
    const der = Buffer.from(template)
    der.writeUInt32BE(n, serialAt + parsed.serialBytes.length - 4)
    sign(null, der.subarray(tbsAt, tbsEnd), pki.intermediate.key.privateKey).copy(der, der.length - 64)
    return albEncode(der) + intermediatePart
  }
  // Warm up code and library caches with another verifier: growth is measured per client, not per process.
  const warmup = createVerifier({ roots: pki.root.pem, cache: false })
  for (let n = 0; n < 300; n++) warmup.verifySync(leafHeader(0x7fffffff - n))
  // The byte bound, not the entry bound, is what this measures.
  const verifier = createVerifier({ roots: pki.root.pem, cache: { max: 200_000, maxBytes } })

  gc()
  const before = process.memoryUsage()
  const started = Date.now()
  let count = 0
  for (; count < target && Date.now() - started < seconds * 1000; count++) {
    const result = verifier.verifySync(leafHeader(count))
    if (!result.ok) throw new Error(`certificate ${count} refused: ${result.message}`)
  }
  gc()
  const after = process.memoryUsage()
  const stats = verifier.stats()
  const heapGrowth = after.heapUsed - before.heapUsed
  return {
    certificates: count,
    targetCertificates: target,
    seconds: (Date.now() - started) / 1000,
    maxBytes,
    entries: stats.entries,
    cacheBytes: stats.bytes,
    rssBeforeMiB: before.rss / MiB,
    rssAfterMiB: after.rss / MiB,
    heapBeforeMiB: before.heapUsed / MiB,
    heapAfterMiB: after.heapUsed / MiB,
    heapGrowthOverBound: heapGrowth / maxBytes,
    // The byte count is an estimate: allow 50% on the heap, and RSS may keep freed pages.
    withinBound: heapGrowth <= 1.5 * maxBytes && after.rss - before.rss <= 1.5 * maxBytes + 64 * MiB
  }
}

/** Runs the measurement in a fresh process so other benchmarks' garbage does not count. */
export async function runMemory (quick: boolean): Promise<MemoryResult> {
  const script = fileURLToPath(import.meta.url)
  const args = quick ? ['3000', String(2 * MiB), '20'] : ['100000', String(16 * MiB), '120']
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  for await (const chunk of child.stdout) out += String(chunk)
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  if (code !== 0) throw new Error(`memory benchmark exited with ${code}`)
  return JSON.parse(out) as MemoryResult
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [count, maxBytes, seconds] = process.argv.slice(2).map(Number)
  process.stdout.write(JSON.stringify(await main(count!, maxBytes!, seconds!)) + '\n')
}
