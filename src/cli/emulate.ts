/**
 * emulate: a local stand-in for an AWS ALB HTTPS listener with mutual TLS, in front of an HTTP target.
 *
 * - verify mode: `requestCert` against the trust store; a client without a certificate the trust store
 *   vouches for fails the TLS handshake (as on ALB). The target gets the five
 *   `X-Amzn-Mtls-Clientcert-*` headers.
 * - passthrough mode: any client certificate is accepted (the handshake still proves the client holds
 *   the key); the target gets the chain in `X-Amzn-Mtls-Clientcert` and must verify it.
 * Either way, client-sent `X-Amzn-Mtls-*` (and `X-Amzn-Tls-Version`/`-Cipher-Suite`) headers are
 * removed before forwarding, `X-Forwarded-For`
 * is appended to and `X-Forwarded-Proto`/`-Port` are set, and bodies stream both ways.
 */
import { constants as cryptoConstants } from 'node:crypto'
import http from 'node:http'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import https from 'node:https'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { ALB_MTLS_PREFIX, PROXY_CERT_HEADERS, passthroughHeaders, peerChain, rfc9440Headers, verifyHeaders, xfccHeaders } from './alb-headers.js'

/**
 * What a listener forwards: ALB's two modes, or (to try the other sources on localhost) RFC 9440
 * headers as CloudFront passthrough writes them (any certificate accepted, like ALB passthrough) or
 * Envoy XFCC as SANITIZE_SET writes it (the handshake requires a certificate the trust store
 * vouches for, like Envoy with a validation context).
 */
export type AlbMode = 'verify' | 'passthrough' | 'rfc9440' | 'xfcc'

const MODES: readonly AlbMode[] = ['verify', 'passthrough', 'rfc9440', 'xfcc']

export interface AlbListenerOptions {
  mode: AlbMode
  /** Default 0 (an ephemeral port; read it from `ports`). */
  port?: number
  /** Default the emulator's `host`. */
  host?: string
  /** Default the emulator's `target`. */
  target?: string | URL
}

export interface AlbEmulatorOptions {
  /** Server certificate (PEM, leaf first, intermediates after). */
  cert: string | Buffer
  /** Server private key (PEM). */
  key: string | Buffer
  /** CA bundle the verify listeners trust (ALB's trust store). Required when a listener uses verify mode. */
  trustStore?: string | Buffer
  /** HTTP target, e.g. `http://127.0.0.1:3000`. Required unless every listener has its own. */
  target?: string | URL
  /** Default '127.0.0.1'. */
  host?: string
  listeners: readonly AlbListenerOptions[]
  /**
   * Add `X-Amzn-Tls-Version` and `X-Amzn-Tls-Cipher-Suite` (ALB's listener attribute
   * routing.http.x_amzn_tls_version_and_cipher_suite.enabled). Default false, as on ALB.
   * Client-sent values are dropped either way.
   */
  tlsHeaders?: boolean
  /** Connection and request log lines (handshake refusals, target errors). Default: none. */
  log?: (line: string) => void
}

export interface AlbListenerInfo {
  readonly mode: AlbMode
  readonly host: string
  readonly port: number
  readonly target: string
}

export interface AlbEmulator {
  /** Bound ports, in the order of `options.listeners`. */
  readonly ports: readonly number[]
  readonly listeners: readonly AlbListenerInfo[]
  /**
   * Replaces the CA bundle of the verify listeners (as ALB does when its trust store changes, e.g.
   * one followed from S3): handshakes from now on use it, established connections keep theirs.
   */
  setTrustStore (trustStore: string | Buffer): void
  /** Stops accepting, ends open connections, resolves when every listener is closed. */
  close (): Promise<void>
}

/** Hop-by-hop headers (RFC 9110 7.6.1) a proxy must not forward, plus the ones a listener overwrites. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'upgrade'])
const OVERWRITTEN = new Set(['x-forwarded-proto', 'x-forwarded-port', 'x-amzn-tls-version', 'x-amzn-tls-cipher-suite'])

function connectionTokens (value: string | undefined): Set<string> {
  return new Set((value ?? '').split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''))
}

function clientAddress (socket: TLSSocket): string {
  const address = socket.remoteAddress ?? ''
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address
}

/** ALB-style trace id: Root=1-<epoch seconds, hex>-<96 random bits, hex>. */
function traceId (): string {
  return `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString('hex')}`
}

/** The headers the target receives: the client's minus hop-by-hop and X-Amzn-Mtls-*, plus ALB's. */
export function forwardedHeaders (request: IncomingMessage, mode: AlbMode, listenerPort: number, tlsHeaders = false): OutgoingHttpHeaders {
  const socket = request.socket as TLSSocket
  const dropped = connectionTokens(request.headers.connection)
  const headers: OutgoingHttpHeaders = {}
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (values === undefined || name.startsWith(ALB_MTLS_PREFIX) || PROXY_CERT_HEADERS.includes(name) || HOP_BY_HOP.has(name) || OVERWRITTEN.has(name) || dropped.has(name)) continue
    headers[name] = values.length === 1 ? values[0] : values
  }
  const client = clientAddress(socket)
  const xff = request.headersDistinct['x-forwarded-for']
  headers['x-forwarded-for'] = xff === undefined ? client : `${xff.join(', ')}, ${client}`
  headers['x-forwarded-proto'] = 'https'
  headers['x-forwarded-port'] = String(listenerPort)
  if (headers['x-amzn-trace-id'] === undefined) headers['x-amzn-trace-id'] = traceId()
  if (tlsHeaders) {
    // OpenSSL names, as ALB writes them (TLSv1.2, ECDHE-RSA-AES128-GCM-SHA256).
    const version = socket.getProtocol()
    if (version !== null) headers['x-amzn-tls-version'] = version
    headers['x-amzn-tls-cipher-suite'] = socket.getCipher().name
  }
  const chain = peerChain(socket)
  if (chain.length > 0) {
    Object.assign(headers, mode === 'verify'
      ? verifyHeaders(chain[0]!)
      : mode === 'rfc9440' ? rfc9440Headers(chain) : mode === 'xfcc' ? xfccHeaders(chain) : passthroughHeaders(chain))
  }
  return headers
}

function responseHeaders (response: IncomingMessage): OutgoingHttpHeaders {
  const dropped = connectionTokens(response.headers.connection)
  const headers: OutgoingHttpHeaders = {}
  for (const [name, values] of Object.entries(response.headersDistinct)) {
    // Node frames the body itself: drop the target's transfer-encoding along with hop-by-hop headers.
    if (values === undefined || HOP_BY_HOP.has(name) || name === 'transfer-encoding' || dropped.has(name)) continue
    headers[name] = values.length === 1 ? values[0] : values
  }
  return headers
}

function badGateway (response: ServerResponse, status: number): void {
  if (response.headersSent) {
    response.destroy()
    return
  }
  const body = `${status} ${http.STATUS_CODES[status] ?? ''}\n`
  response.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), server: 'awselb/2.0' })
  response.end(body)
}

function targetUrl (value: string | URL | undefined): URL {
  if (value === undefined) throw new TypeError('target is required (e.g. http://127.0.0.1:3000)')
  const url = new URL(value)
  if (url.protocol !== 'http:') throw new TypeError(`target must be an http:// URL, got ${url.href}`)
  return url
}

/** Starts the emulator; resolves once every listener is bound. */
export async function startAlbEmulator (options: AlbEmulatorOptions): Promise<AlbEmulator> {
  if (options.listeners.length === 0) throw new TypeError('at least one listener is required')
  const log = options.log ?? (() => {})
  const agent = new http.Agent({ keepAlive: true })
  const servers: https.Server[] = []
  const verifyServers: https.Server[] = []
  const infos: AlbListenerInfo[] = []
  const contextOptions = {
    cert: options.cert,
    key: options.key,
    minVersion: 'TLSv1.2' as const,
    // ALB supports no session resumption with mutual TLS: every connection presents its certificate.
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET
  }

  const close = async (): Promise<void> => {
    await Promise.all(servers.map(async (server) => await new Promise<void>((resolve) => {
      if (!server.listening) {
        resolve()
        return
      }
      server.close(() => resolve())
      server.closeAllConnections()
    })))
    agent.destroy()
  }

  try {
    for (const listener of options.listeners) {
      if (!MODES.includes(listener.mode)) throw new TypeError(`mode must be one of ${MODES.join(', ')}, got ${String(listener.mode)}`)
      if ((listener.mode === 'verify' || listener.mode === 'xfcc') && options.trustStore === undefined) throw new TypeError(`${listener.mode} mode needs a trustStore (CA bundle)`)
      const target = targetUrl(listener.target ?? options.target)
      const host = listener.host ?? options.host ?? '127.0.0.1'
      const verify = listener.mode === 'verify' || listener.mode === 'xfcc'
      const server = https.createServer({
        // The same context options setTrustStore uses (cert, key, TLS 1.2+, no session tickets).
        ...contextOptions,
        ...(verify ? { ca: options.trustStore } : {}),
        requestCert: true,
        rejectUnauthorized: verify
      })
      let port = 0
      server.on('tlsClientError', (err: Error & { reason?: string }) => {
        log(`${listener.mode} :${port} TLS handshake refused: ${err.reason ?? err.message.trim()}`)
      })
      server.on('request', (request: IncomingMessage, response: ServerResponse) => {
        let headers: OutgoingHttpHeaders
        try {
          headers = forwardedHeaders(request, listener.mode, port, options.tlsHeaders === true)
        } catch (err) {
          log(`${listener.mode} :${port} cannot read the client certificate: ${(err as Error).message}`)
          badGateway(response, 502)
          return
        }
        const upstream = http.request({
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers,
          agent
        })
        upstream.on('response', (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.statusMessage, responseHeaders(answer))
          pipeline(answer, response, () => {})
        })
        pipeline(request, upstream, (err) => {
          if (err == null) return
          if (!response.writableEnded) {
            log(`${listener.mode} :${port} target ${target.host}: ${err.message}`)
            badGateway(response, 502)
          }
        })
        response.on('close', () => {
          if (!response.writableFinished) upstream.destroy()
        })
      })
      servers.push(server)
      if (verify) verifyServers.push(server)
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(listener.port ?? 0, host, () => {
          server.off('error', reject)
          resolve()
        })
      })
      port = (server.address() as AddressInfo).port
      infos.push(Object.freeze({ mode: listener.mode, host, port, target: target.href }))
    }
  } catch (err) {
    await close()
    throw err
  }

  return {
    ports: Object.freeze(infos.map((i) => i.port)),
    listeners: Object.freeze(infos),
    setTrustStore (trustStore) {
      for (const server of verifyServers) server.setSecureContext({ ...contextOptions, ca: trustStore })
    },
    close
  }
}
