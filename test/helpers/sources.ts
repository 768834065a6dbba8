/**
 * Header values in the exact form each proxy's documentation shows, built from generated
 * certificates with node:crypto and hand-written encoders (not the library's own decoders).
 */
import { createHash, X509Certificate } from 'node:crypto'

export interface Cert { der: Uint8Array, pem: string }

const b64 = (c: Cert): string => Buffer.from(c.der).toString('base64')
export const sha256Hex = (c: Cert): string => createHash('sha256').update(c.der).digest('hex')

/** RFC 2253 from Node's one-attribute-per-line view (which lists the name in certificate order). */
export function rfc2253 (name: string): string {
  return name.split('\n').reverse().join(',')
}

function iso (text: string): string {
  return new Date(text).toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** Every byte but A-Z a-z 0-9 - _ . ~ and + = / percent-encoded (ALB, CloudFront). */
export function awsEncode (text: string): string {
  let out = ''
  for (const byte of Buffer.from(text, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-_.~+=/]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

const pemOf = (certs: Cert[]): string => certs.map((c) => c.pem.endsWith('\n') ? c.pem : `${c.pem}\n`).join('')

/** ALB passthrough: `X-Amzn-Mtls-Clientcert`. */
export function albPassthrough (chain: Cert[]): Record<string, string> {
  return { 'X-Amzn-Mtls-Clientcert': awsEncode(pemOf(chain)) }
}

/** ALB verify mode: five headers (AWS "HTTP headers and mutual TLS"). */
export function albVerify (leaf: Cert): Record<string, string> {
  const x = new X509Certificate(leaf.der)
  return {
    'X-Amzn-Mtls-Clientcert-Serial-Number': x.serialNumber.toUpperCase(),
    'X-Amzn-Mtls-Clientcert-Issuer': rfc2253(x.issuer),
    'X-Amzn-Mtls-Clientcert-Subject': rfc2253(x.subject),
    'X-Amzn-Mtls-Clientcert-Validity': `NotBefore=${iso(x.validFrom)};NotAfter=${iso(x.validTo)}`,
    'X-Amzn-Mtls-Clientcert-Leaf': awsEncode(pemOf([leaf]))
  }
}

/** CloudFront viewer mTLS (verify modes): AWS "Viewer mTLS headers ... forwarded to origin". */
export function cloudFront (leaf: Cert): Record<string, string> {
  const x = new X509Certificate(leaf.der)
  const hex = x.serialNumber.toLowerCase()
  return {
    'CloudFront-Viewer-Cert-Serial-Number': (hex.length % 2 === 1 ? `0${hex}` : hex).match(/../g)!.join(':'),
    'CloudFront-Viewer-Cert-Issuer': rfc2253(x.issuer),
    'CloudFront-Viewer-Cert-Subject': rfc2253(x.subject),
    'CloudFront-Viewer-Cert-Present': '1',
    'CloudFront-Viewer-Cert-Sha256': sha256Hex(leaf),
    'CloudFront-Viewer-Cert-Validity': `NotBefore=${iso(x.validFrom)};NotAfter=${iso(x.validTo)}`,
    'CloudFront-Viewer-Cert-Pem': awsEncode(pemOf([leaf]))
  }
}

/** RFC 9440 2.2 / 2.3: `Client-Cert: :<base64 DER>:` and `Client-Cert-Chain: :a:, :b:`. */
export function rfc9440 (leaf: Cert, chain: Cert[] = []): Record<string, string> {
  return {
    'Client-Cert': `:${b64(leaf)}:`,
    ...(chain.length > 0 ? { 'Client-Cert-Chain': chain.map((c) => `:${b64(c)}:`).join(', ') } : {})
  }
}

/** Envoy's URL encoding of PEM (its docs show `-----BEGIN%20CERTIFICATE-----%0a...`). */
function envoyEncode (text: string): string {
  return encodeURIComponent(text).replace(/%0A/g, '%0a')
}

/** Envoy / Istio `X-Forwarded-Client-Cert`, one element as SANITIZE_SET writes it. */
export function xfccElement (leaf: Cert, chain: Cert[], options: { by?: string, uri?: string[], dns?: string[], subject?: string, hash?: string } = {}): string {
  const x = new X509Certificate(leaf.der)
  const parts = [
    `By=${options.by ?? 'spiffe://cluster.local/ns/edge/sa/gateway'}`,
    `Hash=${options.hash ?? sha256Hex(leaf)}`,
    `Cert="${envoyEncode(pemOf([leaf]))}"`,
    `Chain="${envoyEncode(pemOf([leaf, ...chain]))}"`,
    `Subject="${(options.subject ?? rfc2253(x.subject)).replace(/"/g, '\\"')}"`,
    ...(options.uri ?? []).map((u) => `URI=${u}`),
    ...(options.dns ?? []).map((d) => `DNS=${d}`)
  ]
  return parts.join(';')
}

/** nginx `$ssl_client_escaped_cert` (every reserved character escaped) and `$ssl_client_verify`. */
export function nginx (leaf: Cert, verify: string | null = 'SUCCESS'): Record<string, string> {
  return {
    'ssl-client-cert': encodeURIComponent(pemOf([leaf])),
    ...(verify === null ? {} : { 'ssl-client-verify': verify })
  }
}

/** Traefik passTLSClientCert `pem: true`: base64 DER, no armour, comma-separated, leaf first. */
export function traefik (chain: Cert[]): Record<string, string> {
  return { 'X-Forwarded-Tls-Client-Cert': chain.map(b64).join(',') }
}

/** Google Cloud custom headers with `{client_cert_*}` variables, RFC 9440 leaf and chain. */
export function gcp (leaf: Cert, chain: Cert[], verified = true, error = ''): Record<string, string> {
  return {
    'X-Client-Cert-Present': 'true',
    'X-Client-Cert-Chain-Verified': verified ? 'true' : 'false',
    'X-Client-Cert-Error': error,
    'X-Client-Cert-Leaf': `:${b64(leaf)}:`,
    'X-Client-Cert-Chain': chain.map((c) => `:${b64(c)}:`).join(',')
  }
}

/** Cloudflare: RFC 9440 headers from a Transform Rule plus the Managed Transform's flags. */
export function cloudflare (leaf: Cert, chain: Cert[], verified = true, revoked = false): Record<string, string> {
  return { ...rfc9440(leaf, chain), 'cf-cert-verified': String(verified), 'cf-cert-revoked': String(revoked) }
}

/** Azure App Service `X-ARR-ClientCert`: the leaf, base64 DER. */
export function base64Der (leaf: Cert): Record<string, string> {
  return { 'X-ARR-ClientCert': b64(leaf) }
}
