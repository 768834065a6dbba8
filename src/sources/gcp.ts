/**
 * gcp: Google Cloud Application Load Balancer mutual TLS, custom request headers the operator
 * defines with the load balancer's variables (Google Cloud "Set up mutual TLS", custom headers):
 * `{client_cert_present}` and `{client_cert_chain_verified}` (`true` / `false`),
 * `{client_cert_error}` (e.g. `client_cert_chain_exceeded_limit`), `{client_cert_leaf}` and
 * `{client_cert_chain}` (RFC 9440 form: `:base64 DER:` and a list of them, leaf excluded). The
 * header names are the operator's: the defaults follow Google's examples (`X-Client-Cert-Present`,
 * ...), and each can be renamed.
 *
 * With "allow invalid or missing client certificates" the load balancer forwards certificates it did
 * not verify. So: with `roots` configured the plugin validates the chain itself (the flags can only
 * refuse); without `roots` the leaf is believed only when `chainVerified` says `true`.
 */
import {
  ABSENT, createHeaderCollector, fail, isFailure, list, malformed, printable, refused, resolveHeaderNames, single,
  type Material, type SourceReader, type SourceRequest
} from './material.js'
import { claimedLeaf, rfc9440Material } from './rfc9440.js'

export interface GcpHeaderNames {
  present: string | false
  chainVerified: string | false
  error: string | false
  leaf: string
  chain: string | false
}

export const DEFAULT_GCP_HEADERS: Readonly<GcpHeaderNames> = Object.freeze({
  present: 'x-client-cert-present',
  chainVerified: 'x-client-cert-chain-verified',
  error: 'x-client-cert-error',
  leaf: 'x-client-cert-leaf',
  chain: 'x-client-cert-chain'
})

function flag (value: string | undefined): boolean | undefined | 'bad' {
  if (value === undefined) return undefined
  if (value === 'true') return true
  if (value === 'false') return false
  return 'bad'
}

export function gcpSource (headers: Partial<GcpHeaderNames> | undefined, context: { validates: boolean }): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('gcp', DEFAULT_GCP_HEADERS, headers, ['present', 'chainVerified', 'error', 'chain']) as GcpHeaderNames
  const collect = createHeaderCollector([names.present, names.chainVerified, names.error, names.leaf, names.chain])
  return {
    name: 'gcp',
    fromHeaders: true,
    needsRoots: names.chainVerified === false,
    read (request, limits): Material {
      const lines = collect(request.rawHeaders)
      if (lines.every((l) => l === undefined)) return ABSENT
      const max = limits.maxHeaderBytes
      const present = single(lines[0], 'client_cert_present', 16)
      if (isFailure(present)) return refused(present)
      const verified = single(lines[1], 'client_cert_chain_verified', 16)
      if (isFailure(verified)) return refused(verified)
      const error = single(lines[2], 'client_cert_error', 512)
      if (isFailure(error)) return refused(error)
      const leaf = single(lines[3], 'client_cert_leaf', max)
      if (isFailure(leaf)) return refused(leaf)
      const chain = list(lines[4], 'client_cert_chain', max)
      if (isFailure(chain)) return refused(chain)
      const isPresent = flag(present)
      const isVerified = flag(verified)
      if (isPresent === 'bad' || isVerified === 'bad') return refused(malformed('bad-encoding', 'client_cert_present / client_cert_chain_verified is neither true nor false'))
      const hasLeaf = leaf !== undefined && leaf !== ''
      if (isPresent === false && hasLeaf) return refused(malformed('header-mismatch', 'client_cert_present is false next to a certificate (possible header tampering)'), claimedLeaf(leaf, limits))
      if (!hasLeaf) {
        if (isPresent === true) return refused(malformed('incomplete-headers', 'client_cert_present is true but the leaf header is missing'))
        return chain === undefined || chain === '' ? ABSENT : refused(malformed('incomplete-headers', 'client_cert_chain without client_cert_leaf'))
      }
      // Without roots nothing here validates: the load balancer's word is all there is (a chain
      // verified flag not forwarded means roots are required, see needsRoots).
      if (!context.validates && isVerified !== true) {
        const why = error === undefined || error === '' ? 'client_cert_chain_verified is not true' : printable(error)
        return refused(fail('FST_MTLS_CERT_INVALID', 'untrusted', `the load balancer did not verify the certificate: ${why} (configure roots to validate it here)`), claimedLeaf(leaf, limits))
      }
      const material = rfc9440Material(leaf, chain === '' ? undefined : chain, limits, [present ?? '-', verified ?? '-'])
      if (material.kind !== 'present' || context.validates || names.chainVerified === false) return material
      // Believed on the load balancer's word: the leaf alone, no path here.
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
