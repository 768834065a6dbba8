/**
 * nginx: `proxy_set_header <name> $ssl_client_escaped_cert;` (the leaf, URL-encoded PEM, nginx
 * 1.13.5+) with an optional `proxy_set_header <name> $ssl_client_verify;` (`SUCCESS`,
 * `FAILED:<reason>`, `NONE`). The default names are ingress-nginx's (`ssl-client-cert`,
 * `ssl-client-verify`, annotation `auth-tls-pass-certificate-to-upstream`).
 *
 * With `roots` configured the plugin validates the leaf itself (plus configured `intermediates`),
 * and the verification header, when forwarded, can only refuse. Without `roots` it is believed:
 * `SUCCESS` is required (`ssl_verify_client on` or `optional`, never `optional_no_ca`, which passes
 * unverified certificates with `FAILED`). `verify: false` means the header is not forwarded: then
 * `roots` is required.
 */
import { decodeHeader } from './decode.js'
import {
  ABSENT, cacheText, createHeaderCollector, fail, isFailure, keySlice, malformed, printable, refused, resolveHeaderNames, single,
  type Decoded, type Material, type SourceReader, type SourceRequest
} from './material.js'

export interface NginxHeaderNames {
  /** `$ssl_client_escaped_cert`. Default `ssl-client-cert`. */
  cert: string
  /** `$ssl_client_verify`, or false when not forwarded. Default `ssl-client-verify`. */
  verify: string | false
}

export const DEFAULT_NGINX_HEADERS: Readonly<NginxHeaderNames> = Object.freeze({ cert: 'ssl-client-cert', verify: 'ssl-client-verify' })

/** `$ssl_client_escaped_cert`: URL-encoded PEM (the leaf; a custom variable may add the chain). */
function decodeChain (cert: string, maxCertificates: number): Decoded {
  const decoded = decodeHeader(cert, maxCertificates)
  return decoded.ok ? { kind: 'chain', certificates: decoded.certificates } : malformed(decoded.reason, decoded.message)
}

export function nginxSource (headers: Partial<NginxHeaderNames> | undefined, context: { validates: boolean }): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('nginx', DEFAULT_NGINX_HEADERS, headers, ['verify']) as NginxHeaderNames
  const collect = createHeaderCollector([names.cert, names.verify])
  return {
    name: 'nginx',
    fromHeaders: true,
    needsRoots: names.verify === false,
    read (request, limits): Material {
      const [certLines, verifyLines] = collect(request.rawHeaders)
      if (certLines === undefined && verifyLines === undefined) return ABSENT
      const cert = single(certLines, names.cert, limits.maxHeaderBytes)
      if (isFailure(cert)) return refused(cert)
      const verify = single(verifyLines, names.verify === false ? 'verify' : names.verify, 256)
      if (isFailure(verify)) return refused(verify)
      const present = cert !== undefined && cert !== ''
      // What the refusal log names when nginx's word refuses a certificate that was sent anyway.
      const claimed = present ? () => decodeChain(cert, limits.maxCertificates) : undefined
      if (names.verify !== false) {
        if (verify === undefined) {
          if (present) return refused(malformed('incomplete-headers', `${names.cert} without ${names.verify} ($ssl_client_verify)`))
        } else if (verify === 'NONE' || verify === '') {
          if (present) return refused(malformed('header-mismatch', `${names.verify} is NONE next to a certificate (possible header tampering)`), claimed)
        } else if (verify.startsWith('FAILED:')) {
          return refused(fail('FST_MTLS_CERT_INVALID', 'untrusted', `nginx refused the certificate: ${printable(verify.slice(7))}`), claimed)
        } else if (verify !== 'SUCCESS') {
          return refused(malformed('bad-encoding', `${names.verify} is not SUCCESS, FAILED:<reason> or NONE`))
        } else if (!present) {
          return refused(malformed('incomplete-headers', `${names.verify} is SUCCESS without ${names.cert}`))
        }
      }
      if (!present) return ABSENT
      // Read per request: roots given by a later reload make the plugin validate from then on.
      const validates = context.validates || names.verify === false
      return {
        kind: 'present',
        key: keySlice(cert),
        text: cacheText([cert, verify]),
        decode: (): Decoded => {
          const decoded = decodeChain(cert, limits.maxCertificates)
          if (validates || isFailure(decoded) || decoded.kind !== 'chain') return decoded
          return { kind: 'verified', leaf: decoded.certificates[0]!, claims: {} }
        }
      }
    }
  }
}
