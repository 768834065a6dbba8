/**
 * alb-headers: the X-Amzn-Mtls-* headers AWS ALB adds for a client certificate, built from what a
 * Node TLS socket knows about the peer. Used by the local ALB emulator.
 *
 * Formats (AWS "HTTP headers and mutual TLS"):
 * - passthrough: `X-Amzn-Mtls-Clientcert`, the client's chain leaf first, URL-encoded PEM with
 *   `+ = /` left literal.
 * - verify: `-Serial-Number` (hex, uppercase, as OpenSSL prints it), `-Issuer` and `-Subject`
 *   (RFC 2253), `-Validity` (`NotBefore=2023-09-21T01:50:17Z;NotAfter=2024-09-20T01:50:17Z`),
 *   `-Leaf` (the leaf alone, encoded like the passthrough header).
 */
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls'
import { formatName } from '../x509/names.js'
import { parseCertificate } from '../x509/parse.js'
import { toPem } from '../testing/certificate.js'
import { toAlbHeader } from '../testing/chain.js'

/** Every header ALB owns starts with this (lowercase, as Node hands header names). */
export const ALB_MTLS_PREFIX = 'x-amzn-mtls-'

/**
 * The other proxies' certificate headers the emulator can write. A proxy that writes them must
 * remove client-sent ones first (RFC 9440 4; Envoy SANITIZE_SET): the emulator always does.
 */
export const PROXY_CERT_HEADERS = Object.freeze(['client-cert', 'client-cert-chain', 'x-forwarded-client-cert'])

export const ALB_HEADERS = {
  chain: 'X-Amzn-Mtls-Clientcert',
  serialNumber: 'X-Amzn-Mtls-Clientcert-Serial-Number',
  issuer: 'X-Amzn-Mtls-Clientcert-Issuer',
  subject: 'X-Amzn-Mtls-Clientcert-Subject',
  validity: 'X-Amzn-Mtls-Clientcert-Validity',
  leaf: 'X-Amzn-Mtls-Clientcert-Leaf'
} as const

/**
 * The client's certificates, leaf first, as DER. Node exposes the chain OpenSSL built from what the
 * client sent (ordered by issuer, certificates that do not chain dropped), not the raw list: see
 * the emulator's README section. Empty when the client presented no certificate. Node 24.21 and
 * 26.8+ give a server that verifies the client (`ca` set) the leaf alone, without its issuers
 * (nodejs/node#65579): the verifying listeners (verify, xfcc) may then forward the leaf only.
 */
export function peerChain (socket: TLSSocket): Buffer[] {
  // An object without `raw` (`{}`) when the client sent no certificate.
  const leaf = socket.getPeerCertificate(true) as Partial<DetailedPeerCertificate> | null
  const chain: Buffer[] = []
  const seen = new Set<string>()
  let current = leaf?.raw !== undefined ? leaf as DetailedPeerCertificate : undefined
  while (current?.raw !== undefined && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256)
    chain.push(current.raw)
    current = current.issuerCertificate
  }
  return chain
}

/** ISO 8601 in UTC without milliseconds, as ALB writes it. */
function isoSeconds (date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Passthrough mode: the whole chain in one header. */
export function passthroughHeaders (chain: readonly Uint8Array[]): Record<string, string> {
  if (chain.length === 0) return {}
  return { [ALB_HEADERS.chain]: toAlbHeader(chain.map((der) => toPem(der))) }
}

/** Verify mode: five headers describing the (already verified) leaf. */
export function verifyHeaders (leafDer: Uint8Array): Record<string, string> {
  const leaf = parseCertificate(leafDer)
  return {
    [ALB_HEADERS.serialNumber]: leaf.serialNumber.toUpperCase(),
    [ALB_HEADERS.issuer]: formatName(leaf.issuer),
    [ALB_HEADERS.subject]: formatName(leaf.subject),
    [ALB_HEADERS.validity]: `NotBefore=${isoSeconds(leaf.notBefore)};NotAfter=${isoSeconds(leaf.notAfter)}`,
    [ALB_HEADERS.leaf]: toAlbHeader([toPem(leafDer)])
  }
}

/**
 * RFC 9440 (CloudFront passthrough mode, Cloudflare, Google Cloud): `Client-Cert` is the leaf as a
 * structured-field byte sequence (`:base64 DER:`), `Client-Cert-Chain` the rest of what the client
 * sent, one byte sequence each (RFC 9440 2.2, 2.3).
 */
export function rfc9440Headers (chain: readonly Uint8Array[]): Record<string, string> {
  if (chain.length === 0) return {}
  const sf = (der: Uint8Array): string => `:${Buffer.from(der).toString('base64')}:`
  return {
    'Client-Cert': sf(chain[0]!),
    ...(chain.length > 1 ? { 'Client-Cert-Chain': chain.slice(1).map(sf).join(', ') } : {})
  }
}

/** Envoy's URL encoding of PEM in XFCC (its docs: `-----BEGIN%20CERTIFICATE-----%0a...`). */
function xfccEncode (pem: string): string {
  return encodeURIComponent(pem).replace(/%0A/g, '%0a')
}

/**
 * Envoy `X-Forwarded-Client-Cert` as `forward_client_cert_details: SANITIZE_SET` writes it with
 * every `set_current_client_cert_details` field: `By` (the proxy's own URI SAN, when it has one),
 * `Hash`, `Cert`, `Chain`, `Subject` (quoted), one `URI` and `DNS` per SAN.
 */
export function xfccHeaders (chain: readonly Uint8Array[], by?: string): Record<string, string> {
  if (chain.length === 0) return {}
  const leaf = parseCertificate(chain[0]!)
  const pems = chain.map((der) => toPem(der)).map((pem) => pem.endsWith('\n') ? pem : `${pem}\n`)
  const parts = [
    ...(by !== undefined ? [`By=${by}`] : []),
    `Hash=${leaf.fingerprint256}`,
    `Cert="${xfccEncode(pems[0]!)}"`,
    `Chain="${xfccEncode(pems.join(''))}"`,
    `Subject="${formatName(leaf.subject).replace(/"/g, '\\"')}"`,
    ...(leaf.san?.uri ?? []).map((u) => `URI=${u}`),
    ...(leaf.san?.dns ?? []).map((d) => `DNS=${d}`)
  ]
  return { 'X-Forwarded-Client-Cert': parts.join(';') }
}
