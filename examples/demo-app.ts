/**
 * The demo's target application: a Fastify app behind the local ALB emulator. It answers with the
 * identity it saw as JSON.
 *
 * - `mode: 'passthrough'`: the plugin verifies `X-Amzn-Mtls-Clientcert` (the whole chain) against the
 *   trust store (no certificate: 401 FST_MTLS_CERT_MISSING; bad chain: 401 FST_MTLS_CERT_INVALID).
 * - `mode: 'verify'`: ALB (here: the emulator) validated the certificate during the handshake; the
 *   plugin reads the five `X-Amzn-Mtls-Clientcert-*` headers and checks they agree with the leaf.
 *
 * - `mode: 'rfc9440'` / `'xfcc'`: the other sources (`source: 'rfc9440'`, `source: 'xfcc'`): the
 *   emulator forwards `Client-Cert` / `Client-Cert-Chain` (CloudFront passthrough style) or
 *   `X-Forwarded-Client-Cert` (Envoy style) and the plugin validates the chain against the trust store.
 *
 * `GET /engineering` is guarded by `requireClientCert`: only subjects with OU=Engineering get in (403
 * for everyone else).
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import mtls, { requireClientCert } from '../src/index.js'
import type { ClientCertificate, MtlsRefusedMessage } from '../src/index.js'

export interface DemoAppOptions {
  mode: 'passthrough' | 'verify' | 'rfc9440' | 'xfcc'
  /** The trust store (PEM bundle): the same CA file the ALB trust store holds. */
  roots: string
  /**
   * Intermediate CAs the app knows itself (not trust anchors). The xfcc app gets the demo's: Node
   * 24.21 and 26.8+ lose the client's chain on a TLS server that verifies it (nodejs/node#65579), so
   * the emulated Envoy may forward the leaf alone.
   */
  intermediates?: string
  /** Fastify logger. Default false. */
  logger?: boolean
  /** One line per answered request (method, URL, status, who). Default: none. */
  log?: (line: string) => void
}

/** What the app tells the client about its certificate. */
function identityOf (cert: ClientCertificate | null): Record<string, unknown> | null {
  if (cert === null) return null
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    commonName: cert.commonName,
    serialNumber: cert.serialNumber,
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    san: cert.san,
    spiffeId: cert.spiffeId,
    fingerprint256: cert.fingerprint256,
    x5tS256: cert.x5tS256,
    chain: cert.chain.map((c) => c.subject),
    source: cert.source,
    verifiedBy: cert.verifiedBy,
    ...(cert.tls !== undefined ? { tls: cert.tls } : {})
  }
}

/** The load balancer's headers as received (`X-Amzn-Mtls-*`, `X-Forwarded-*`), long values shortened. */
function albHeadersOf (request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (!/^(x-(amzn-mtls-|amzn-tls-|forwarded-)|client-cert)/.test(name) || value === undefined) continue
    const text = Array.isArray(value) ? value.join(', ') : value
    out[name] = text.length > 100 ? `${text.slice(0, 50)}...${text.slice(-40)} (${text.length} chars)` : text
  }
  return out
}

export async function buildDemoApp (options: DemoAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  // Pretty JSON: people read these answers in a terminal.
  app.setReplySerializer((payload) => `${JSON.stringify(payload, null, 2)}\n`)
  const log = options.log
  if (log !== undefined) {
    // Every refusal on its own line, with its reason: the `fastify-alb-mtls:refused` diagnostics
    // channel (docs/observability.md) is how an app audits refusals without patching the plugin.
    const onRefused = (message: unknown): void => {
      const m = message as MtlsRefusedMessage
      if (m.request.server !== app) return // both demo apps share the process-wide channel
      const client = m.client === null ? '' : ` client="${m.client.subject}" issuer="${m.client.issuer}"`
      const alb = m.albStatus === null ? '' : ` (ALB: ${m.albStatus})`
      log(`${options.mode} app: refused ${m.request.method} ${m.request.url}: ${m.reason}${alb}${m.rule === undefined ? '' : ` rule=${m.rule}`}${client}`)
    }
    diagnosticsChannel.subscribe('fastify-alb-mtls:refused', onRefused)
    app.addHook('onClose', async () => { diagnosticsChannel.unsubscribe('fastify-alb-mtls:refused', onRefused) })
    app.addHook('onResponse', async (request, reply) => {
      const h = request.headers
      const who = request.clientCert?.subject ??
        (h['x-amzn-mtls-clientcert'] !== undefined || h['x-amzn-mtls-clientcert-leaf'] !== undefined ||
          h['client-cert'] !== undefined || h['x-forwarded-client-cert'] !== undefined
          ? 'certificate refused'
          : 'no certificate')
      log(`${options.mode} app: ${request.method} ${request.url} -> ${reply.statusCode} (${who})`)
    })
  }

  // The emulator connects from 127.0.0.1: the plugin's default trustedProxies (loopback and private
  // ranges) believe it. Behind a real ALB, list the ALB subnets instead.
  if (options.mode === 'passthrough') {
    await app.register(mtls, { roots: options.roots })
  } else if (options.mode === 'rfc9440' || options.mode === 'xfcc') {
    await app.register(mtls, { source: options.mode, roots: options.roots, ...(options.intermediates !== undefined ? { intermediates: options.intermediates } : {}) })
  } else {
    await app.register(mtls, { mode: 'verify' })
  }

  app.get('/', async (request) => ({
    mode: options.mode,
    identity: identityOf(request.clientCert),
    headers: albHeadersOf(request)
  }))

  app.get('/engineering', { onRequest: requireClientCert({ subject: { OU: 'Engineering' } }) }, async (request) => ({
    welcome: request.clientCert?.commonName ?? null
  }))

  // Echo a body of any type back, to show bodies stream through the load balancer both ways.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 8 * 1024 * 1024 }, (_request, body, done) => done(null, body))
  app.post('/echo', async (request) => request.body as Buffer)
  return app
}
