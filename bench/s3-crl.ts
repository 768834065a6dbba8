/**
 * Memory of loading one large CRL from S3 (issue 16: ALB allows CRL files of 50 MB; a 50 MB CRL
 * must load with bounded extra memory). An in-process S3 server (s3rver, 127.0.0.1) holds a CA
 * bundle and one PEM CRL of the target size; each measurement runs in a fresh child process:
 *
 * - `stream`: createS3TrustStore (the SDK, the streaming PEM decoder of src/trust/s3-body.ts, and
 *   the CRL parser and index of src/validation/revocation/crl.ts and the CRL's signature hash,
 *   run in slices before the hand-over), then createVerifier on its material (which takes the
 *   parsed CRL and the recorded signature outcome), each phase's peak resident memory over the baseline, and what stays after GC;
 * - `naive`: the same object read the obvious way (body collected, one string, armour stripped,
 *   base64-decoded), for comparison.
 *
 * Peak RSS is the kernel's high-water mark (VmHWM, reset through /proc/self/clear_refs); where that
 * is not available the peak is sampled, which misses short spikes. Run alone:
 * `node --import tsx bench/s3-crl.ts [megabytes]`.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCrl, createTestPki } from '../src/testing/index.js'
import { buildCrl, crlPem as pem } from './large-crl.js'

const MiB = 1024 * 1024
const BUCKET = 'bench-trust'
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }

export interface PhaseMemory {
  /** Peak RSS over the baseline during the phase, MiB. */
  peakExtraMiB: number
  /** RSS, heap and array buffers kept after the phase and a GC, over the baseline, MiB. */
  retainedRssMiB: number
  retainedHeapMiB: number
  retainedArrayBuffersMiB: number
  seconds: number
}

export interface S3CrlMemoryResult {
  pemBytes: number
  derBytes: number
  entries: number
  peakMethod: 'VmHWM' | 'sampled'
  /** createS3TrustStore: fetch, decode, parse and index the CRL, hash its signature. */
  fetchDecode: PhaseMemory
  /** createVerifier on the material: the parsed CRL and its recorded signature outcome taken as they are. */
  verifierLoad: PhaseMemory
  /** The obvious read, for comparison: collect, concatenate, string, base64. */
  naiveFetchDecode: PhaseMemory
  /** The revoked leaf listed last in the CRL is refused as revoked. */
  revokedFound: boolean
}

/**
 * A valid, signed CRL of about `bytes` bytes (DER): the factory's CRL (one entry, the given serial),
 * its revokedCertificates widened to ~35-byte entries with distinct 16-byte serials, signed again
 * with the issuer's key (large-crl.ts).
 */
async function largeCrl (bytes: number, pki: Awaited<ReturnType<typeof createTestPki>>, lastSerial: string): Promise<{ der: Buffer, entries: number }> {
  return await buildCrl(pki, lastSerial, {
    contentLength: (date) => 18 + date.length,
    count: (entryLength) => Math.max(1, Math.floor(bytes / entryLength)),
    write: (body, at, i, date) => {
      body[at] = 0x02
      body[at + 1] = 16
      body[at + 2] = 0x40
      body.fill(0, at + 3, at + 12)
      body.writeUInt32BE(Math.floor(i / 0x10000), at + 12)
      body.writeUInt16BE(i % 0x10000, at + 16)
      body.set(date, at + 18)
    }
  })
}

/** Peak-RSS meter: the kernel's high-water mark when it can be reset, else sampling. */
export function meter (): { method: 'VmHWM' | 'sampled', reset (): void, peak (): number, stop (): void } {
  const hwm = (): number | null => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))
      return m === null ? null : Number(m[1]) * 1024
    } catch {
      return null
    }
  }
  try {
    writeFileSync('/proc/self/clear_refs', '5')
    if (hwm() !== null) return { method: 'VmHWM', reset: () => writeFileSync('/proc/self/clear_refs', '5'), peak: () => hwm()!, stop () {} }
  } catch {}
  let max = 0
  const timer = setInterval(() => { max = Math.max(max, process.memoryUsage.rss()) }, 2)
  return { method: 'sampled', reset: () => { max = process.memoryUsage.rss() }, peak: () => Math.max(max, process.memoryUsage.rss()), stop: () => clearInterval(timer) }
}

interface ChildArgs { endpoint: string, mode: 'stream' | 'naive', leafPem: string, intermediatePem: string }

async function child (args: ChildArgs): Promise<Record<string, unknown>> {
  const gc = (globalThis as { gc?: () => void }).gc
  if (gc === undefined) throw new Error('run with --expose-gc')
  const { createS3TrustStore } = await import('../src/trust/s3.js')
  const { createVerifier } = await import('../src/verifier/verifier.js')
  const { S3Client, GetObjectCommand } = await import('@aws-sdk/client-s3')
  const { toAlbHeader } = await import('../src/testing/index.js')
  // Warm the SDK and the parsers on a small object so their code is not counted.
  const warm = await createS3TrustStore({ caBundle: `s3://${BUCKET}/ca-bundle.pem`, crls: [`s3://${BUCKET}/small.crl.pem`], endpoint: args.endpoint, credentials: CREDENTIALS, poll: false })
  createVerifier(warm.current())
  warm.close()
  const m = meter()
  const phase = async (run: () => Promise<unknown>): Promise<PhaseMemory & { keep: unknown }> => {
    gc()
    const base = process.memoryUsage()
    m.reset()
    const started = Date.now()
    const keep = await run()
    const seconds = (Date.now() - started) / 1000
    const peak = m.peak()
    gc()
    const after = process.memoryUsage()
    return {
      keep,
      peakExtraMiB: (peak - base.rss) / MiB,
      retainedRssMiB: (after.rss - base.rss) / MiB,
      retainedHeapMiB: (after.heapUsed - base.heapUsed) / MiB,
      retainedArrayBuffersMiB: (after.arrayBuffers - base.arrayBuffers) / MiB,
      seconds
    }
  }
  const strip = ({ keep: _keep, ...rest }: PhaseMemory & { keep: unknown }): PhaseMemory => rest
  try {
    if (args.mode === 'naive') {
      const client = new S3Client({ endpoint: args.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS })
      const naive = await phase(async () => {
        const out = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'large.crl.pem' }))
        const text = Buffer.from(await out.Body!.transformToByteArray()).toString('latin1')
        return Buffer.from(text.replace(/-----[A-Z0-9 ]+-----|\s+/g, ''), 'base64')
      })
      client.destroy()
      return { naiveFetchDecode: strip(naive), peakMethod: m.method }
    }
    const fetched = await phase(async () => await createS3TrustStore({
      caBundle: `s3://${BUCKET}/ca-bundle.pem`,
      crls: [`s3://${BUCKET}/large.crl.pem`],
      endpoint: args.endpoint,
      credentials: CREDENTIALS,
      poll: false,
      maxObjectBytes: 256 * MiB,
      requestTimeout: 600_000
    }))
    const store = fetched.keep as Awaited<ReturnType<typeof createS3TrustStore>>
    const loaded = await phase(async () => createVerifier(store.current()))
    const verifier = loaded.keep as ReturnType<typeof createVerifier>
    const result = verifier.verifySync(toAlbHeader([args.leafPem, args.intermediatePem]))
    store.close()
    return { fetchDecode: strip(fetched), verifierLoad: strip(loaded), revokedFound: !result.ok && result.reason === 'revoked', peakMethod: m.method }
  } finally {
    m.stop()
  }
}

async function runChild (args: ChildArgs): Promise<Record<string, unknown>> {
  const script = fileURLToPath(import.meta.url)
  const proc = spawn(process.execPath, ['--expose-gc', '--no-warnings', '--import', 'tsx', script, 'child', JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  for await (const chunk of proc.stdout) out += String(chunk)
  const code = await new Promise<number | null>((resolve) => proc.on('close', resolve))
  if (code !== 0) throw new Error(`s3-crl child (${args.mode}) exited with ${code}`)
  return JSON.parse(out) as Record<string, unknown>
}

/** Builds the CRL, serves it from s3rver and measures each way of loading it in a child process. */
export async function runS3CrlMemory (megabytes: number): Promise<S3CrlMemoryResult> {
  const { default: S3rver } = await import('s3rver')
  const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3')
  const pki = await createTestPki()
  const revoked = await pki.issue({ subject: 'CN=revoked and listed last', extendedKeyUsage: ['clientAuth'] })
  const { der, entries } = await largeCrl(megabytes * 1e6, pki, revoked.serialNumber)
  const text = pem(der)
  const directory = mkdtempSync(join(tmpdir(), 'fastify-alb-mtls-bench-s3-'))
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, configureBuckets: [{ name: BUCKET }] })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS })
  try {
    const put = async (key: string, body: string): Promise<void> => { await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body })) }
    await put('ca-bundle.pem', `${pki.root.pem}${pki.intermediate.pem}`)
    await put('small.crl.pem', (await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key } })).pem)
    await put('large.crl.pem', text)
    const args = { endpoint, leafPem: revoked.pem, intermediatePem: pki.intermediate.pem }
    const stream = await runChild({ ...args, mode: 'stream' })
    const naive = await runChild({ ...args, mode: 'naive' })
    return {
      pemBytes: Buffer.byteLength(text),
      derBytes: der.length,
      entries,
      peakMethod: stream.peakMethod as 'VmHWM' | 'sampled',
      fetchDecode: stream.fetchDecode as PhaseMemory,
      verifierLoad: stream.verifierLoad as PhaseMemory,
      naiveFetchDecode: naive.naiveFetchDecode as PhaseMemory,
      revokedFound: stream.revokedFound as boolean
    }
  } finally {
    client.destroy()
    await server.close()
    rmSync(directory, { recursive: true, force: true })
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv[2] === 'child') {
    process.stdout.write(JSON.stringify(await child(JSON.parse(process.argv[3]!) as ChildArgs)) + '\n')
  } else {
    console.log(JSON.stringify(await runS3CrlMemory(Number(process.argv[2] ?? 50)), null, 2))
  }
}
