/**
 * tls: Node terminates TLS itself (`https.createServer({ requestCert: true, ... })`, Fastify's
 * `https` option). The chain Node received (`socket.getPeerCertificate(true)`) is validated like any
 * other chain against `roots`, so local development and proxyless deployments need no proxy. No
 * header is read, so the trusted-proxy rule does not apply. With `rejectUnauthorized: false` the
 * handshake only proves the client holds the key; the validation here decides.
 */
import { ABSENT, cacheText, type Decoded, type Material, type SourceReader, type SourceRequest } from './material.js'

interface PeerCertificate { raw?: Uint8Array, fingerprint256?: string, issuerCertificate?: PeerCertificate }
interface PeerSocket { getPeerCertificate?: (detailed: boolean) => PeerCertificate | null }

/**
 * The peer's certificates as Node hands them, leaf first (OpenSSL's view of what the client sent,
 * ordered by issuer, ending at a self-issued one). Bounded by `max`.
 */
export function peerCertificates (socket: unknown, max: number): Uint8Array[] {
  const getter = (socket as PeerSocket | undefined)?.getPeerCertificate
  if (typeof getter !== 'function') return []
  const leaf = getter.call(socket, true)
  const out: Uint8Array[] = []
  const seen = new Set<string>()
  let current = leaf ?? undefined
  while (current?.raw !== undefined && out.length <= max) {
    const id = current.fingerprint256 ?? String(out.length)
    if (seen.has(id)) break
    seen.add(id)
    out.push(current.raw)
    current = current.issuerCertificate
  }
  return out
}

export function tlsSource (): SourceReader<SourceRequest> {
  return {
    name: 'tls',
    fromHeaders: false,
    needsRoots: true,
    read (request, limits): Material {
      const certificates = peerCertificates(request.socket, limits.maxCertificates)
      if (certificates.length === 0) return ABSENT
      const encoded = certificates.map((der) => Buffer.from(der).toString('base64'))
      return {
        kind: 'present',
        key: encoded[0]!.slice(-40, -8),
        text: cacheText(encoded),
        decode: (): Decoded => ({ kind: 'chain', certificates })
      }
    }
  }
}
