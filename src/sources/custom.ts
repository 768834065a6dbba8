/**
 * custom: any other proxy. `extract(request)` returns the raw material and the plugin does the
 * rest (trusted-proxy rule, validation or cross-check, cache, identity, guards):
 * - `undefined` / `null`: no certificate;
 * - `{ chain }`: certificates, leaf first, as DER bytes or PEM text: validated here against `roots`;
 * - `{ verifiedLeaf, claims? }`: a leaf the proxy validated, with what the proxy said about it
 *   (checked against the leaf, as in ALB verify mode).
 * A thrown error refuses the request (`bad-encoding`). Each PEM text is bounded by `maxHeaderBytes`,
 * each DER item by 32 KiB, the list by the chain limit.
 */
import { decodeReference } from './decode.js'
import { ABSENT, cacheText, isFailure, malformed, refused, type Decoded, type LeafClaims, type Material, type ReadLimits, type SourceReader } from './material.js'
import type { VerifyFailure } from '../types.js'

export type CustomMaterial =
  | { readonly chain: ReadonlyArray<Uint8Array | string> }
  | { readonly verifiedLeaf: Uint8Array | string, readonly claims?: LeafClaims }

export interface CustomSource<R = unknown> {
  extract (request: R): CustomMaterial | null | undefined
  /** The material comes from request headers (default): the trusted-proxy rule applies. False when it comes from the connection. */
  fromHeaders?: boolean
}

/**
 * Longest DER certificate taken from `extract` (the verifier's own per-certificate limit): larger
 * ones are refused before they are copied or encoded for the cache key.
 */
const MAX_DER_BYTES = 32 * 1024

function toDer (value: Uint8Array | string, limits: ReadLimits): Uint8Array[] | VerifyFailure {
  if (value instanceof Uint8Array) {
    return value.byteLength > MAX_DER_BYTES ? malformed('bad-der', `custom source: a certificate of ${value.byteLength} bytes exceeds ${MAX_DER_BYTES}`) : [value]
  }
  if (typeof value !== 'string') return malformed('bad-encoding', 'custom source: a certificate is neither bytes nor PEM text')
  // PEM text is what a header would carry: the same bound as every header source.
  if (value.length > limits.maxHeaderBytes) return malformed('header-too-large', `custom source: PEM text of ${value.length} bytes exceeds maxHeaderBytes ${limits.maxHeaderBytes}`)
  const decoded = decodeReference(value, limits.maxCertificates)
  return decoded.ok ? decoded.certificates : malformed('bad-encoding', `custom source: ${decoded.message}`)
}

export function customSource<R> (source: CustomSource<R>): SourceReader<R> {
  const fromHeaders = source.fromHeaders !== false
  return {
    name: 'custom',
    fromHeaders,
    // `{ verifiedLeaf }` needs no roots; a `{ chain }` without roots fails closed (`untrusted`).
    needsRoots: false,
    read (request, limits): Material {
      let got: CustomMaterial | null | undefined
      try {
        got = source.extract(request)
      } catch (err) {
        return refused(malformed('bad-encoding', `custom source: ${(err as Error)?.message ?? 'extract threw'}`))
      }
      if (got === null || got === undefined) return ABSENT
      const list = 'chain' in got ? got.chain : 'verifiedLeaf' in got ? [got.verifiedLeaf] : null
      if (list === null || !Array.isArray(list) || list.length === 0) return refused(malformed('bad-encoding', 'custom source: extract returned neither { chain } nor { verifiedLeaf }'))
      if (list.length > limits.maxCertificates) return refused(malformed('too-many-certificates', `more than ${limits.maxCertificates} certificates`))
      const certificates: Uint8Array[] = []
      for (const item of list as ReadonlyArray<Uint8Array | string>) {
        const der = toDer(item, limits)
        if (isFailure(der)) return refused(der)
        certificates.push(...der)
        if (certificates.length > limits.maxCertificates) return refused(malformed('too-many-certificates', `more than ${limits.maxCertificates} certificates`))
      }
      const encoded = certificates.map((der) => Buffer.from(der).toString('base64'))
      const verified = 'verifiedLeaf' in got
      const claims = verified ? (got as { claims?: LeafClaims }).claims ?? {} : undefined
      return {
        kind: 'present',
        key: encoded[0]!.slice(-40, -8),
        text: cacheText([verified ? 'verified' : 'chain', JSON.stringify(claims ?? null), ...encoded]),
        decode: (): Decoded => verified
          ? { kind: 'verified', leaf: certificates[0]!, claims: claims! }
          : { kind: 'chain', certificates }
      }
    }
  }
}
