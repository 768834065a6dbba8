/**
 * The demo's target application: a Fastify app behind the local ALB emulator. It answers with the
 * identity it saw as JSON.
 *
 * - `mode: 'passthrough'`: the plugin verifies `X-Amzn-Mtls-Clientcert` against the trust store
 *   (no certificate: 401 FST_MTLS_CERT_MISSING; bad chain: 401 FST_MTLS_CERT_INVALID).
 * - `mode: 'verify'`: ALB (here: the emulator) already validated the certificate during the handshake
 *   and forwards five `X-Amzn-Mtls-Clientcert-*` headers.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify'
import mtls from '../src/index.js'
import type { ClientCertificate } from '../src/index.js'

export interface DemoAppOptions {
  mode: 'passthrough' | 'verify'
  /** The trust store (PEM bundle): the same CA file the ALB trust store holds. */
  roots: string
  /** Fastify logger. Default false. */
  logger?: boolean
  /** One line per answered request (method, URL, status, who). Default: none. */
  log?: (line: string) => void
}

/** What the app tells the client about its certificate. */
function identityOf (cert: ClientCertificate): Record<string, unknown> {
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
    chain: cert.chain.map((c) => c.subject),
    source: cert.source,
    verifiedBy: cert.verifiedBy
  }
}

function forwardedOf (request: FastifyRequest): Record<string, string | undefined> {
  const h = request.headers
  return {
    for: h['x-forwarded-for'] as string | undefined,
    proto: h['x-forwarded-proto'] as string | undefined,
    port: h['x-forwarded-port'] as string | undefined
  }
}

/** The `X-Amzn-Mtls-*` headers as received, long values shortened for reading. */
function albHeadersOf (request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(request.headers)) {
    if (!name.startsWith('x-amzn-mtls-') || value === undefined) continue
    const text = Array.isArray(value) ? value.join(', ') : value
    out[name] = text.length > 120 ? `${text.slice(0, 60)}...${text.slice(-40)} (${text.length} chars)` : text
  }
  return out
}

export async function buildDemoApp (options: DemoAppOptions): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? false })
  // Pretty JSON: people read these answers in a terminal.
  app.setReplySerializer((payload) => `${JSON.stringify(payload, null, 2)}\n`)
  const log = options.log
  if (log !== undefined) {
    app.addHook('onResponse', async (request, reply) => {
      const h = request.headers
      const who = request.clientCert?.subject ?? h['x-amzn-mtls-clientcert-subject'] ??
        (h['x-amzn-mtls-clientcert'] !== undefined ? 'certificate refused' : 'no certificate')
      log(`${options.mode} app: ${request.method} ${request.url} -> ${reply.statusCode} (${String(who)})`)
    })
  }

  // Echo a body of any type back, to show bodies stream through the load balancer both ways.
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 8 * 1024 * 1024 }, (_request, body, done) => done(null, body))
  const echo = async (request: FastifyRequest): Promise<Buffer> => request.body as Buffer

  if (options.mode === 'passthrough') {
    // The emulator connects from 127.0.0.1: the plugin's default trustedProxies (loopback and
    // private ranges) believe it. Behind a real ALB, list the ALB subnets instead.
    await app.register(mtls, { roots: options.roots })

    app.get('/', async (request) => ({
      mode: 'passthrough',
      identity: request.clientCert === null ? null : identityOf(request.clientCert),
      forwarded: forwardedOf(request)
    }))

    // Guarded route: the spot for `requireClientCert` (branch `guards`), e.g.
    //   app.get('/engineering', { onRequest: requireClientCert({ subject: { OU: 'Engineering' } }) }, ...)
    // wired by the integrator once route guards are on main.

    app.post('/echo', echo)
    return app
  }

  // Verify mode: the plugin's `mode: 'verify'` is being built (branch `verify`); until it lands this
  // target shows the headers ALB forwards, which is what the plugin will read. Integrator: register
  //   await app.register(mtls, { mode: 'verify', roots: options.roots })
  // and answer `identity: identityOf(request.clientCert)` as in passthrough mode.
  app.get('/', async (request) => ({
    mode: 'verify',
    albHeaders: albHeadersOf(request),
    forwarded: forwardedOf(request)
  }))
  app.post('/echo', echo)
  return app
}
