#!/usr/bin/env node
/**
 * fastify-alb-mtls CLI: `certs` (demo PKI) and `emulate` (local ALB with mutual TLS).
 */
import { realpathSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { DEMO_ALGORITHMS, generateDemoPki, PkiExistsError, type DemoAlgorithm } from './certs.js'
import { startAlbEmulator, type AlbListenerOptions } from './emulate.js'

export const USAGE = `Usage: fastify-alb-mtls <command> [options]

Commands:
  certs [dir]      Generate a demo PKI into dir (default ./demo-pki): root CA, intermediate CA,
                   trust-store.pem, server.crt/server.key for localhost, private-key.pem +
                   certificate.crt (the AWS demo's client pair) and named identities in clients/.
      --algorithm <alg>   ${DEMO_ALGORITHMS.join(' | ')} (default p-256)
      --force             replace existing files (default: refuse to overwrite keys)

  emulate          Run a local ALB HTTPS listener with mutual TLS in front of an HTTP target.
      --target <url>            target for every listener (default http://127.0.0.1:3000)
      --verify-port <n>         verify-mode listener port (default 9443; -1 disables)
      --passthrough-port <n>    passthrough-mode listener port (default 8443; -1 disables)
      --verify-target <url>     target of the verify listener (default --target)
      --passthrough-target <url> target of the passthrough listener (default --target)
      --host <addr>             listen address (default 127.0.0.1)
      --tls-headers             add X-Amzn-Tls-Version and X-Amzn-Tls-Cipher-Suite
      --pki <dir>               take server.crt, server.key, trust-store.pem from dir (default ./demo-pki)
      --cert <file> --key <file> --trust-store <file>   or name the files one by one
      --trust-store s3://bucket/key[?versionId=...]
                                read the CA bundle from S3, as ALB does, and follow it (needs
                                @aws-sdk/client-s3; credentials and region from the SDK's chain)
      --s3-endpoint <url>       S3-compatible endpoint (MinIO, LocalStack, ...), path-style
      --s3-region <region>      region of the bucket (default: the SDK's chain)
      --s3-poll <seconds>       how often the S3 trust store is checked (default 60)

  -h, --help       Show this help
`

type Write = (text: string) => void

interface Io { out: Write; err: Write }

const defaultIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text)
}

class UsageError extends Error {}

function port (value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!Number.isInteger(n) || n < -1 || n > 65535) throw new UsageError(`--${name} must be a port number (0 for any free port, -1 to disable)`)
  return n
}

async function certs (args: string[], io: Io): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { algorithm: { type: 'string' }, force: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } }
  })
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  if (positionals.length > 1) throw new UsageError('certs takes one folder')
  const algorithm = (values.algorithm ?? 'p-256') as DemoAlgorithm
  if (!DEMO_ALGORITHMS.includes(algorithm)) throw new UsageError(`--algorithm must be one of ${DEMO_ALGORITHMS.join(', ')}`)
  const dir = path.resolve(positionals[0] ?? 'demo-pki')
  const manifest = await generateDemoPki({ dir, algorithm, force: values.force === true })
  io.out(`Demo PKI (${algorithm}) written to ${dir}\n`)
  io.out(`  trust store (ALB CA bundle): ${path.join(dir, manifest.trustStore)}\n`)
  io.out(`  server (localhost):          ${path.join(dir, manifest.server.cert)}, ${path.join(dir, manifest.server.key)}\n`)
  for (const id of manifest.identities) {
    io.out(`  ${id.name.padEnd(12)} ${id.subject}  [${id.keyAlgorithm}, ${id.expected}] ${path.join(dir, id.cert)}\n`)
  }
  return 0
}

/** Options whose value may be negative (`--verify-port -1`): parseArgs would read `-1` as an option. */
const NUMERIC_OPTIONS = new Set(['--verify-port', '--passthrough-port'])

/** `--verify-port -1` -> `--verify-port=-1`, so the documented spelling parses. */
export function joinNegativeValues (args: readonly string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const next = args[i + 1]
    if (NUMERIC_OPTIONS.has(arg) && next !== undefined && /^-\d+$/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else {
      out.push(arg)
    }
  }
  return out
}

async function emulate (args: string[], io: Io): Promise<number> {
  const { values } = parseArgs({
    args: joinNegativeValues(args),
    options: {
      target: { type: 'string' },
      'verify-port': { type: 'string' },
      'passthrough-port': { type: 'string' },
      'verify-target': { type: 'string' },
      'passthrough-target': { type: 'string' },
      host: { type: 'string' },
      'tls-headers': { type: 'boolean' },
      pki: { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
      'trust-store': { type: 'string' },
      's3-endpoint': { type: 'string' },
      's3-region': { type: 'string' },
      's3-poll': { type: 'string' },
      help: { type: 'boolean', short: 'h' }
    }
  })
  if (values.help === true) {
    io.out(USAGE)
    return 0
  }
  const pki = path.resolve(values.pki ?? 'demo-pki')
  const file = (given: string | undefined, name: string): string => path.resolve(given ?? path.join(pki, name))
  const target = values.target ?? 'http://127.0.0.1:3000'
  const listeners: AlbListenerOptions[] = []
  const verifyPort = port(values['verify-port'], 'verify-port', 9443)
  const passthroughPort = port(values['passthrough-port'], 'passthrough-port', 8443)
  if (verifyPort !== -1) listeners.push({ mode: 'verify', port: verifyPort, target: values['verify-target'] ?? target })
  if (passthroughPort !== -1) listeners.push({ mode: 'passthrough', port: passthroughPort, target: values['passthrough-target'] ?? target })
  if (listeners.length === 0) throw new UsageError('both listeners are disabled')
  const fromS3 = values['trust-store']?.startsWith('s3://') === true
  if (!fromS3 && (values['s3-endpoint'] ?? values['s3-region'] ?? values['s3-poll']) !== undefined) throw new UsageError('--s3-endpoint, --s3-region and --s3-poll need --trust-store s3://bucket/key')
  const s3 = fromS3 && verifyPort !== -1 ? await followS3TrustStore(values['trust-store']!, values, io) : undefined
  const [cert, key, trustStore] = await Promise.all([
    readFile(file(values.cert, 'server.crt')),
    readFile(file(values.key, 'server.key')),
    verifyPort === -1 ? undefined : s3 !== undefined ? s3.pem : readFile(file(values['trust-store'], 'trust-store.pem'))
  ])
  const emulator = await startAlbEmulator({
    cert,
    key,
    ...(trustStore !== undefined ? { trustStore } : {}),
    ...(values.host !== undefined ? { host: values.host } : {}),
    tlsHeaders: values['tls-headers'] === true,
    listeners,
    log: (line) => io.err(`${new Date().toISOString()} ${line}\n`)
  })
  for (const l of emulator.listeners) io.out(`ALB emulator: ${l.mode} listener on https://${l.host}:${l.port} -> ${l.target}\n`)
  const unfollow = s3?.follow((pem) => emulator.setTrustStore(pem))
  if (s3 !== undefined) io.out(`ALB emulator: verify listeners trust ${values['trust-store']!}, checked every ${s3.seconds} s\n`)
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve()
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
  unfollow?.()
  s3?.close()
  await emulator.close()
  return 0
}

function certificatePem (der: Uint8Array): string {
  return `-----BEGIN CERTIFICATE-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END CERTIFICATE-----\n`
}

/**
 * The CA bundle from S3, as ALB reads its trust store, followed with the same loader the plugin
 * uses (fastify-alb-mtls/s3, imported only here so the CLI needs the AWS SDK only for this).
 */
async function followS3TrustStore (uri: string, values: { 's3-endpoint'?: string, 's3-region'?: string, 's3-poll'?: string }, io: Io): Promise<{
  pem: string
  seconds: number
  follow (apply: (pem: string) => void): () => void
  close (): void
}> {
  const seconds = values['s3-poll'] === undefined ? 60 : Number(values['s3-poll'])
  if (!Number.isFinite(seconds) || seconds < 1 || seconds > 86400) throw new UsageError('--s3-poll must be a number of seconds from 1 to 86400')
  const { createS3TrustStore } = await import('../trust/s3.js')
  const line = (level: string) => (obj: object, msg: string): void => io.err(`${new Date().toISOString()} ${level} ${msg} ${JSON.stringify(obj)}\n`)
  const store = await createS3TrustStore({
    caBundle: uri,
    // The emulator terminates TLS itself: every CA certificate of the bundle goes to OpenSSL.
    trustIntermediates: true,
    pollInterval: seconds * 1000,
    // ALB keeps serving with the trust store it has; so does the emulator.
    maxStaleness: Number.POSITIVE_INFINITY,
    ...(values['s3-endpoint'] !== undefined ? { endpoint: values['s3-endpoint'] } : {}),
    ...(values['s3-region'] !== undefined ? { region: values['s3-region'] } : {}),
    log: { info: line('info'), warn: line('warn'), error: line('error') }
  })
  const pemOf = (material: { roots: readonly unknown[], intermediates?: readonly unknown[] }): string =>
    [...material.roots, ...(material.intermediates ?? [])].map((der) => certificatePem(der as Uint8Array)).join('')
  return {
    pem: pemOf(store.current()),
    seconds,
    follow: (apply) => store.follow({ reload: (material) => apply(pemOf(material)) }),
    close: () => store.close()
  }
}

/** Runs the CLI; resolves to the exit code. */
export async function main (argv: string[], io: Io = defaultIo): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'certs': return await certs(rest, io)
      case 'emulate': return await emulate(rest, io)
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        io.out(USAGE)
        return command === undefined ? 2 : 0
      default:
        throw new UsageError(`unknown command: ${command}`)
    }
  } catch (err) {
    const usage = err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS') === true
    io.err(`fastify-alb-mtls: ${(err as Error).message}\n`)
    if (usage) io.err('Run fastify-alb-mtls --help for usage.\n')
    return err instanceof PkiExistsError ? 1 : usage ? 2 : 1
  }
}

/** True when this file is the program (also through npm's bin symlink), false when imported. */
function isProgram (): boolean {
  const script = process.argv[1]
  if (script === undefined) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href
  } catch {
    return false
  }
}

if (isProgram()) {
  process.exitCode = await main(process.argv.slice(2))
}
