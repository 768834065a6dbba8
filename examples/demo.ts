/**
 * `npm run demo`: the AWS ALB mutual TLS demo on localhost.
 *
 * Generates the demo PKI into ./demo-pki if it is missing, starts the example app (examples/demo-app.ts)
 * once per ALB mode, puts the ALB emulator in front (verify listener, passthrough listener) and prints
 * the curl commands of the AWS demo. Ctrl-C stops everything.
 *
 * Options (flags after `npm run demo --`, or environment variables):
 *   --verify-port <n>       MTLS_DEMO_VERIFY_PORT       default 9443 (0: any free port)
 *   --passthrough-port <n>  MTLS_DEMO_PASSTHROUGH_PORT  default 8443 (0: any free port)
 *   --rfc9440-port <n>      MTLS_DEMO_RFC9440_PORT      default 0 (any free port; -1 disables)
 *   --xfcc-port <n>         MTLS_DEMO_XFCC_PORT         default 0 (any free port; -1 disables)
 *   --pki <dir>             MTLS_DEMO_PKI               default ./demo-pki
 *   --algorithm <alg>       MTLS_DEMO_ALGORITHM         key algorithm when generating (default p-256)
 */
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import type { FastifyInstance } from 'fastify'
import { DEMO_ALGORITHMS, generateDemoPki, readDemoPki, type DemoAlgorithm } from '../src/cli/certs.js'
import { startAlbEmulator, type AlbEmulator } from '../src/cli/emulate.js'
import { buildDemoApp } from './demo-app.js'

const started = performance.now()
const say = (line = ''): void => { process.stdout.write(`${line}\n`) }
const note = (line: string): void => { process.stderr.write(`  · ${line}\n`) }

function fail (message: string): never {
  process.stderr.write(`demo: ${message}\n`)
  process.exit(1)
}

const { values } = parseArgs({
  options: {
    'verify-port': { type: 'string', default: process.env.MTLS_DEMO_VERIFY_PORT ?? '9443' },
    'passthrough-port': { type: 'string', default: process.env.MTLS_DEMO_PASSTHROUGH_PORT ?? '8443' },
    'rfc9440-port': { type: 'string', default: process.env.MTLS_DEMO_RFC9440_PORT ?? '0' },
    'xfcc-port': { type: 'string', default: process.env.MTLS_DEMO_XFCC_PORT ?? '0' },
    pki: { type: 'string', default: process.env.MTLS_DEMO_PKI ?? 'demo-pki' },
    algorithm: { type: 'string', default: process.env.MTLS_DEMO_ALGORITHM ?? 'p-256' }
  }
})

function port (value: string, name: string, allowOff = false): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < (allowOff ? -1 : 0) || n > 65535) fail(`${name} must be a port number (0 for any free port${allowOff ? ', -1 to disable' : ''})`)
  return n
}
const verifyPort = port(values['verify-port'], '--verify-port')
const passthroughPort = port(values['passthrough-port'], '--passthrough-port')
// The other sources, each behind its own listener (ports chosen freely unless given).
const otherPorts = {
  rfc9440: port(values['rfc9440-port'], '--rfc9440-port', true),
  xfcc: port(values['xfcc-port'], '--xfcc-port', true)
}
const otherModes = (['rfc9440', 'xfcc'] as const).filter((m) => otherPorts[m] !== -1)
const algorithm = values.algorithm as DemoAlgorithm
if (!DEMO_ALGORITHMS.includes(algorithm)) fail(`--algorithm must be one of ${DEMO_ALGORITHMS.join(', ')}`)
const pkiDir = path.resolve(values.pki)

// 1. The PKI: reuse it when complete, generate it when missing.
let manifest = await readDemoPki(pkiDir)
let pkiState = 'reused'
if (manifest === null) {
  try {
    manifest = await generateDemoPki({ dir: pkiDir, algorithm })
  } catch (err) {
    fail(`${(err as Error).message}\n  (${pkiDir} holds part of a PKI: delete it, or run \`npx tsx src/cli/main.ts certs ${values.pki} --force\`)`)
  }
  pkiState = `generated (${algorithm})`
}
if (new Date(manifest.server.notAfter).getTime() <= Date.now()) {
  fail(`the demo certificates in ${pkiDir} have expired: run \`npx tsx src/cli/main.ts certs ${values.pki} --force\``)
}
const read = async (file: string): Promise<string> => await readFile(path.join(pkiDir, file), 'utf8')
const [serverCert, serverKey, trustStore] = await Promise.all([read(manifest.server.cert), read(manifest.server.key), read(manifest.trustStore)])

// 2. The example app, once per mode, on loopback ephemeral ports.
const apps: FastifyInstance[] = []
let emulator: AlbEmulator | undefined
async function stopAll (): Promise<void> {
  await emulator?.close()
  await Promise.all(apps.map(async (app) => { await app.close() }))
}

try {
  const verifyApp = await buildDemoApp({ mode: 'verify', roots: trustStore, log: note })
  apps.push(verifyApp)
  const passthroughApp = await buildDemoApp({ mode: 'passthrough', roots: trustStore, log: note })
  apps.push(passthroughApp)
  const verifyTarget = await verifyApp.listen({ host: '127.0.0.1', port: 0 })
  const passthroughTarget = await passthroughApp.listen({ host: '127.0.0.1', port: 0 })
  const otherTargets: string[] = []
  for (const mode of otherModes) {
    // The xfcc listener verifies the handshake; on Node 24.21 / 26.8+ the server then loses the client's
    // chain (nodejs/node#65579), so that app knows the demo intermediate itself.
    const app = await buildDemoApp({ mode, roots: trustStore, log: note, ...(mode === 'xfcc' ? { intermediates: await read('intermediate-ca.crt') } : {}) })
    apps.push(app)
    otherTargets.push(await app.listen({ host: '127.0.0.1', port: 0 }))
  }

  // 3. The ALB emulator in front, both modes.
  emulator = await startAlbEmulator({
    cert: serverCert,
    key: serverKey,
    trustStore,
    tlsHeaders: true,
    listeners: [
      { mode: 'verify', port: verifyPort, target: verifyTarget },
      { mode: 'passthrough', port: passthroughPort, target: passthroughTarget },
      ...otherModes.map((mode, i) => ({ mode, port: otherPorts[mode], target: otherTargets[i]! }))
    ],
    log: (line) => note(`alb ${line}`)
  })
} catch (err) {
  await stopAll()
  const busy = (err as NodeJS.ErrnoException).code === 'EADDRINUSE'
  fail(busy ? `${(err as Error).message}: choose other ports with --verify-port / --passthrough-port` : (err as Error).stack ?? String(err))
}

// 4. Ctrl-C / SIGTERM (installed before the walk-through announces readiness): close the listeners and the apps, exit 0. A second signal exits at once.
let stopping = false
const onSignal = (signal: NodeJS.Signals): void => {
  if (stopping) process.exit(130)
  stopping = true
  say(`\n${signal}: stopping`)
  stopAll().then(() => {
    say('stopped')
    process.exitCode = 0
  }, (err: unknown) => {
    process.stderr.write(`demo: error while stopping: ${String(err)}\n`)
    process.exitCode = 1
  })
  // Everything is closed above; a handle left open would be a bug, not a reason to hang.
  setTimeout(() => {
    process.stderr.write('demo: still running 5 s after the signal, exiting\n')
    process.exit(1)
  }, 5000).unref()
}
process.on('SIGINT', onSignal)
process.on('SIGTERM', onSignal)

// 5. The walk-through.
const [verify, passthrough] = emulator.listeners as [typeof emulator.listeners[0], typeof emulator.listeners[0]]
const relative = path.relative(process.cwd(), pkiDir)
const cdTo = relative === '' ? '.' : relative.startsWith('..') ? pkiDir : relative
const v = `https://localhost:${verify.port}`
const p = `https://localhost:${passthrough.port}`
const ca = '--cacert root-ca.crt'
const client = '--key private-key.pem --cert certificate.crt'
const moreIdentities = manifest.identities.filter((i) => i.name !== 'demo-client').map((i) => i.expected === 'refused' ? `${i.name} (refused)` : i.name)

say('fastify-alb-mtls demo: an ALB with mutual TLS on localhost, in front of a Fastify app using the plugin')
say()
say(`  PKI          ${cdTo}/ ${pkiState}: root CA, intermediate CA, server certificate for localhost, clients`)
say(`  verify       ${v}  ->  example app, ALB verify headers       (${verify.target})`)
say(`  passthrough  ${p}  ->  example app, plugin verifies the chain (${passthrough.target})`)
const others = emulator.listeners.slice(2)
for (const l of others) {
  const what = l.mode === 'rfc9440' ? 'RFC 9440 Client-Cert (CloudFront passthrough style)' : 'Envoy X-Forwarded-Client-Cert'
  say(`  ${l.mode.padEnd(11)}  https://localhost:${l.port}  ->  example app, source '${l.mode}': ${what} (${l.target})`)
}
say()
say('In another terminal:')
say()
say(`  cd ${cdTo}`)
say()
say('Mutual TLS verify mode')
say('  Step 1: without a client certificate the TLS handshake fails')
say(`    curl -v ${v} ${ca}`)
say('  Step 2: with the certificate the handshake succeeds; the target gets X-Amzn-Mtls-Clientcert-* headers')
say(`    curl -v ${v} ${ca} ${client}`)
say()
say('Mutual TLS passthrough')
say('  Step 3: the target gets the whole chain in X-Amzn-Mtls-Clientcert; the plugin verifies it')
say(`    curl -v ${p} ${ca} ${client}`)
say('  Step 4: without a certificate the handshake succeeds and the plugin answers 401')
say(`    curl -v ${p} ${ca}`)
say('  Step 5: a forged header is stripped by the load balancer: still 401')
say(`    curl ${p} ${ca} -H 'X-Amzn-Mtls-Clientcert: forged'`)
say('  Step 6: an expired (or untrusted) certificate: the plugin answers 401 and this terminal prints the reason')
say(`    curl ${p} ${ca} --key clients/expired/private-key.pem --cert clients/expired/certificate.crt`)
say('    (the verify listener refuses it in the TLS handshake, as ALB does, and prints why)')
say()
if (others.length > 0) {
  say('Other sources: the same app code, another proxy format (source option)')
  for (const l of others) {
    say(`  Step 6${l.mode === 'rfc9440' ? 'a' : 'b'}: ${l.mode === 'rfc9440' ? 'the target gets Client-Cert / Client-Cert-Chain' : 'the target gets X-Forwarded-Client-Cert'}; the plugin validates the chain`)
    say(`    curl -v https://localhost:${l.port} ${ca} ${client}`)
  }
  say()
}
say(`More identities in clients/<name>/: ${moreIdentities.join(', ')}`)
say(`    curl ${p} ${ca} --key clients/alice/private-key.pem --cert clients/alice/certificate.crt`)
say()
say(`Ready in ${((performance.now() - started) / 1000).toFixed(1)} s. Ctrl-C stops everything.`)
