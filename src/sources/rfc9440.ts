/**
 * rfc9440: RFC 9440 `Client-Cert` / `Client-Cert-Chain` (CloudFront passthrough mode, Cloudflare
 * Transform Rules, Google Cloud, Envoy's filter). The proxy forwards what the client sent without
 * vouching for it, so the chain is validated here against `roots`.
 *
 * - `Client-Cert` (RFC 9440 2.2): an Item, a Byte Sequence of the leaf DER. A singleton: a repeated
 *   line is refused.
 * - `Client-Cert-Chain` (RFC 9440 2.3): a List of Byte Sequences, the leaf excluded, possibly split
 *   across several lines (RFC 9110 5.3 combines them). It is only meaningful with `Client-Cert`
 *   (RFC 9440 2.3: "MUST NOT be sent without Client-Cert").
 */
import { parseByteSequence, parseByteSequenceList } from './structured.js'
import {
  ABSENT, cacheText, createHeaderCollector, isFailure, keySlice, list, malformed, refused, resolveHeaderNames, single, tooMany,
  type Decoded, type Material, type ReadLimits, type SourceReader, type SourceRequest
} from './material.js'
import type { VerifyFailure } from '../types.js'

export interface Rfc9440HeaderNames {
  /** Default `client-cert`. */
  cert: string
  /** Default `client-cert-chain`. */
  chain: string
}

export const DEFAULT_RFC9440_HEADERS: Readonly<Rfc9440HeaderNames> = Object.freeze({ cert: 'client-cert', chain: 'client-cert-chain' })

/** Decodes an RFC 9440 pair: the leaf, then the chain (leaf excluded). */
export function decodeRfc9440 (cert: string, chain: string | undefined, limits: ReadLimits): Uint8Array[] | VerifyFailure {
  const leaf = parseByteSequence(cert)
  if (leaf === null) return malformed('bad-encoding', 'Client-Cert is not a structured-field byte sequence (:base64 DER:)')
  if (chain === undefined) return [leaf]
  const rest = parseByteSequenceList(chain, limits.maxCertificates)
  if (rest === 'too-many') return tooMany(limits.maxCertificates + 1, limits)!
  if (rest === null) return malformed('bad-encoding', 'Client-Cert-Chain is not a list of structured-field byte sequences')
  return tooMany(rest.length + 1, limits) ?? [leaf, ...rest]
}

/** The leaf of a `Client-Cert` value for the refusal log of a request refused without validation. */
export function claimedLeaf (cert: string, limits: ReadLimits): () => Decoded {
  return () => {
    const certificates = decodeRfc9440(cert, undefined, limits)
    return isFailure(certificates) ? certificates : { kind: 'chain', certificates }
  }
}

/** Reads an RFC 9440 pair from already collected header values. */
export function rfc9440Material (cert: string | undefined, chain: string | undefined, limits: ReadLimits, extra: readonly string[] = []): Material {
  if (cert === undefined || cert === '') {
    // Proxies that fill the fields from variables write empty values when no certificate came.
    if (chain === undefined || chain.trim() === '') return ABSENT
    return refused(malformed('incomplete-headers', 'Client-Cert-Chain without Client-Cert (RFC 9440 2.3)'))
  }
  return {
    kind: 'present',
    key: keySlice(cert),
    text: cacheText([cert, chain, ...extra]),
    decode: (): Decoded => {
      const certificates = decodeRfc9440(cert, chain === undefined || chain.trim() === '' ? undefined : chain, limits)
      return isFailure(certificates) ? certificates : { kind: 'chain', certificates }
    }
  }
}

export function rfc9440Source (headers?: Partial<Rfc9440HeaderNames>): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('rfc9440', DEFAULT_RFC9440_HEADERS, headers) as Rfc9440HeaderNames
  const collect = createHeaderCollector([names.cert, names.chain])
  return {
    name: 'rfc9440',
    fromHeaders: true,
    needsRoots: true,
    read (request, limits) {
      const [certLines, chainLines] = collect(request.rawHeaders)
      if (certLines === undefined && chainLines === undefined) return ABSENT
      const cert = single(certLines, 'Client-Cert', limits.maxHeaderBytes)
      if (isFailure(cert)) return refused(cert)
      const chain = list(chainLines, 'Client-Cert-Chain', limits.maxHeaderBytes)
      if (isFailure(chain)) return refused(chain)
      return rfc9440Material(cert, chain, limits)
    }
  }
}
