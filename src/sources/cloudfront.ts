/**
 * cloudfront: Amazon CloudFront viewer mTLS, verify modes (Required, Optional). CloudFront validated
 * the chain against its trust store and forwards (AWS "Viewer mTLS headers for cache policies and
 * forwarded to origin"):
 * - `CloudFront-Viewer-Cert-Pem`: the leaf, URL-encoded PEM (`-----BEGIN%20CERTIFICATE-----%0A...`);
 * - `-Serial-Number`: lowercase colon hex (`4a:3f:5c:92:d1:e8:7b:6c`);
 * - `-Issuer`, `-Subject`: RFC 2253; `-Validity`: `NotBefore=<ISO 8601>;NotAfter=<ISO 8601>`;
 * - `-Sha256`: hex SHA-256 of the leaf DER; `-Present`: `1` or `0`.
 * The leaf is the source of truth and every other header must agree with it (the cross-check ALB
 * verify mode uses). Passthrough mode forwards RFC 9440 headers instead: use the `rfc9440` source.
 */
import { decodeHeader } from './decode.js'
import {
  ABSENT, cacheText, createHeaderCollector, isFailure, keySlice, malformed, refused, resolveHeaderNames, single,
  type Decoded, type Material, type SourceReader, type SourceRequest
} from './material.js'

export interface CloudFrontHeaderNames {
  pem: string
  serialNumber: string
  issuer: string
  subject: string
  validity: string
  sha256: string | false
  present: string | false
}

export const DEFAULT_CLOUDFRONT_HEADERS: Readonly<CloudFrontHeaderNames> = Object.freeze({
  pem: 'cloudfront-viewer-cert-pem',
  serialNumber: 'cloudfront-viewer-cert-serial-number',
  issuer: 'cloudfront-viewer-cert-issuer',
  subject: 'cloudfront-viewer-cert-subject',
  validity: 'cloudfront-viewer-cert-validity',
  sha256: 'cloudfront-viewer-cert-sha256',
  present: 'cloudfront-viewer-cert-present'
})

const KEYS = ['pem', 'serialNumber', 'issuer', 'subject', 'validity', 'sha256', 'present'] as const

/** The leaf of `CloudFront-Viewer-Cert-Pem` (URL-encoded PEM, one certificate). */
function decodePem (pem: string): Decoded {
  const decoded = decodeHeader(pem, 1)
  return decoded.ok ? { kind: 'chain', certificates: decoded.certificates } : malformed(decoded.reason, decoded.message)
}

export function cloudFrontSource (headers?: Partial<CloudFrontHeaderNames>): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('cloudfront', DEFAULT_CLOUDFRONT_HEADERS, headers, ['sha256', 'present']) as CloudFrontHeaderNames
  const collect = createHeaderCollector(KEYS.map((k) => names[k]))
  return {
    name: 'cloudfront',
    fromHeaders: true,
    needsRoots: false,
    read (request, limits): Material {
      const lines = collect(request.rawHeaders)
      if (lines.every((l) => l === undefined)) return ABSENT
      const values: Array<string | undefined> = []
      for (const [i, key] of KEYS.entries()) {
        // Every CloudFront header is a singleton: a second line is someone else's.
        const value = single(lines[i], `CloudFront-Viewer-Cert ${key}`, limits.maxHeaderBytes)
        if (isFailure(value)) return refused(value)
        values.push(value)
      }
      const [pem, serialNumber, issuer, subject, validity, sha256, present] = values
      if (present !== undefined && present !== '0' && present !== '1') return refused(malformed('bad-encoding', 'CloudFront-Viewer-Cert-Present is neither 1 nor 0'))
      if (pem === undefined || pem === '') {
        if (present === '1') return refused(malformed('incomplete-headers', 'CloudFront-Viewer-Cert-Present is 1 but the PEM header is missing (forward it in the origin request policy)'))
        if (serialNumber === undefined && issuer === undefined && subject === undefined && validity === undefined && sha256 === undefined) return ABSENT
        return refused(malformed('incomplete-headers', 'CloudFront certificate headers without CloudFront-Viewer-Cert-Pem'))
      }
      if (present === '0') return refused(malformed('header-mismatch', 'CloudFront-Viewer-Cert-Present is 0 next to a certificate (possible header tampering)'), () => decodePem(pem))
      if (serialNumber === undefined || issuer === undefined || subject === undefined || validity === undefined) {
        return refused(malformed('incomplete-headers', 'CloudFront-Viewer-Cert-Pem without all of Serial-Number, Issuer, Subject and Validity'))
      }
      return {
        kind: 'present',
        key: keySlice(pem),
        text: cacheText(values),
        decode: (): Decoded => {
          const decoded = decodePem(pem)
          if (isFailure(decoded) || decoded.kind !== 'chain') return decoded
          return {
            kind: 'verified',
            leaf: decoded.certificates[0]!,
            claims: { serialNumber, serialColons: true, issuer, subject, validity, ...(sha256 !== undefined ? { sha256 } : {}) }
          }
        }
      }
    }
  }
}
