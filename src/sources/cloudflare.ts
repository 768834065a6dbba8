/**
 * cloudflare: Cloudflare mTLS (API Shield / Access). Cloudflare forwards what the operator asks for:
 * - RFC 9440 `Client-Cert` / `Client-Cert-Chain`, set by a request header Transform Rule from
 *   `cf.tls_client_auth.cert_rfc9440` and `cert_chain_rfc9440`. Cloudflare fills these "regardless of
 *   the certificate validation result" (Cloudflare docs, "Forward a client certificate");
 * - the flags `cf.tls_client_auth.cert_verified` and `cert_revoked` (`true` / `false`), as the
 *   Managed Transform "Add TLS client auth headers" names them: `cf-cert-verified`, `cf-cert-revoked`;
 * - the legacy `Cf-Client-Cert-Der-Base64` (the leaf, base64 DER), read when `Client-Cert` is absent.
 * `cert_verified` is also true for a revoked certificate, so `cf-cert-revoked: true` always refuses.
 * With `roots` configured the plugin validates the chain itself; without, the leaf is believed only
 * when `cf-cert-verified` is `true`.
 */
import { strictBase64, toByteSequence } from './structured.js'
import {
  ABSENT, createHeaderCollector, fail, isFailure, list, malformed, refused, resolveHeaderNames, single,
  type Material, type SourceReader, type SourceRequest
} from './material.js'
import { claimedLeaf, rfc9440Material } from './rfc9440.js'

export interface CloudflareHeaderNames {
  cert: string
  chain: string | false
  verified: string | false
  revoked: string | false
  legacy: string | false
}

export const DEFAULT_CLOUDFLARE_HEADERS: Readonly<CloudflareHeaderNames> = Object.freeze({
  cert: 'client-cert',
  chain: 'client-cert-chain',
  verified: 'cf-cert-verified',
  revoked: 'cf-cert-revoked',
  legacy: 'cf-client-cert-der-base64'
})

export function cloudflareSource (headers: Partial<CloudflareHeaderNames> | undefined, context: { validates: boolean }): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('cloudflare', DEFAULT_CLOUDFLARE_HEADERS, headers, ['chain', 'verified', 'revoked', 'legacy']) as CloudflareHeaderNames
  const collect = createHeaderCollector([names.cert, names.chain, names.verified, names.revoked, names.legacy])
  return {
    name: 'cloudflare',
    fromHeaders: true,
    needsRoots: names.verified === false,
    read (request, limits): Material {
      const lines = collect(request.rawHeaders)
      if (lines.every((l) => l === undefined)) return ABSENT
      const max = limits.maxHeaderBytes
      const cert = single(lines[0], 'Client-Cert', max)
      if (isFailure(cert)) return refused(cert)
      const chain = list(lines[1], 'Client-Cert-Chain', max)
      if (isFailure(chain)) return refused(chain)
      const verified = single(lines[2], 'cf-cert-verified', 16)
      if (isFailure(verified)) return refused(verified)
      const revoked = single(lines[3], 'cf-cert-revoked', 16)
      if (isFailure(revoked)) return refused(revoked)
      const legacy = single(lines[4], 'Cf-Client-Cert-Der-Base64', max)
      if (isFailure(legacy)) return refused(legacy)
      for (const value of [verified, revoked]) {
        if (value !== undefined && value !== 'true' && value !== 'false') return refused(malformed('bad-encoding', 'cf-cert-verified / cf-cert-revoked is neither true nor false'))
      }
      let leaf = cert === '' ? undefined : cert
      if (leaf === undefined && legacy !== undefined && legacy !== '') {
        const der = strictBase64(legacy.trim())
        if (der === null) return refused(malformed('bad-base64', 'Cf-Client-Cert-Der-Base64 is not base64 DER'))
        leaf = toByteSequence(der)
      }
      if (leaf === undefined) return chain === undefined || chain === '' ? ABSENT : refused(malformed('incomplete-headers', 'Client-Cert-Chain without Client-Cert (RFC 9440 2.3)'))
      // Read per request: roots given by a later reload make the plugin validate from then on.
      const believesFlag = !context.validates && names.verified !== false
      if (revoked === 'true') return refused(fail('FST_MTLS_CERT_INVALID', 'revoked', 'Cloudflare reports the certificate revoked (cf.tls_client_auth.cert_revoked)'), claimedLeaf(leaf, limits))
      if (believesFlag && verified !== 'true') {
        return refused(fail('FST_MTLS_CERT_INVALID', 'untrusted', 'Cloudflare did not verify the certificate (cf.tls_client_auth.cert_verified is not true; configure roots to validate it here)'), claimedLeaf(leaf, limits))
      }
      const material = rfc9440Material(leaf, chain === '' ? undefined : chain, limits, [verified ?? '-', revoked ?? '-'])
      if (material.kind !== 'present' || !believesFlag) return material
      return {
        ...material,
        decode: () => {
          const decoded = material.decode()
          return isFailure(decoded) || decoded.kind !== 'chain' ? decoded : { kind: 'verified', leaf: decoded.certificates[0]!, claims: {} }
        }
      }
    }
  }
}
