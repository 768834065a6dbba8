/**
 * traefik: the `passTLSClientCert` middleware with `pem: true` sets `X-Forwarded-Tls-Client-Cert`:
 * the client's certificates as base64 DER without PEM armour or line breaks, comma-separated, leaf
 * first. Older Traefik versions URL-escaped the PEM body (`%2B`, `%2F`, `%3D`, `%0A` line breaks);
 * both spellings are read. Whether Traefik validated depends on its `clientAuthType`, which the
 * origin cannot see: the chain is validated here against `roots`.
 */
import { percentDecode } from './decode.js'
import { strictBase64 } from './structured.js'
import {
  ABSENT, boundedSplit, cacheText, createHeaderCollector, isFailure, keySlice, malformed, refused, resolveHeaderNames, single, tooMany,
  type Decoded, type Material, type SourceReader, type SourceRequest
} from './material.js'

export interface TraefikHeaderNames {
  /** Default `x-forwarded-tls-client-cert`. */
  cert: string
}

export const DEFAULT_TRAEFIK_HEADERS: Readonly<TraefikHeaderNames> = Object.freeze({ cert: 'x-forwarded-tls-client-cert' })

/** One certificate of the header: base64 DER, or (older versions) URL-escaped, possibly armoured, PEM. */
function decodeOne (text: string): Uint8Array | null {
  let body = text.trim()
  if (body.includes('%')) {
    const decoded = percentDecode(body)
    if (decoded === null) return null
    body = decoded
  }
  body = body.replace(/^-----BEGIN CERTIFICATE-----/, '').replace(/-----END CERTIFICATE-----$/, '').replace(/[\r\n\t ]+/g, '')
  return strictBase64(body)
}

export function traefikSource (headers?: Partial<TraefikHeaderNames>): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('traefik', DEFAULT_TRAEFIK_HEADERS, headers) as TraefikHeaderNames
  const collect = createHeaderCollector([names.cert])
  return {
    name: 'traefik',
    fromHeaders: true,
    needsRoots: true,
    read (request, limits): Material {
      const [lines] = collect(request.rawHeaders)
      // Traefik writes one line; its own list separator is the comma, so a second line cannot be told apart.
      const value = single(lines, names.cert, limits.maxHeaderBytes)
      if (isFailure(value)) return refused(value)
      if (value === undefined || value.trim() === '') return ABSENT
      return {
        kind: 'present',
        key: keySlice(value.split(',', 1)[0]!),
        text: cacheText([value]),
        decode: (): Decoded => {
          // Counted before any certificate is cut out or decoded.
          const parts = boundedSplit(value, ',', limits.maxCertificates)
          if (parts === null) return tooMany(limits.maxCertificates + 1, limits)!
          const certificates: Uint8Array[] = []
          for (const [i, part] of parts.entries()) {
            const der = decodeOne(part)
            if (der === null) return malformed('bad-base64', `${names.cert}: certificate ${i + 1} is not base64 DER`)
            certificates.push(der)
          }
          return { kind: 'chain', certificates }
        }
      }
    }
  }
}
