/**
 * base64-der: one header holding the client's leaf as base64 DER, no armour: Azure App Service
 * `X-ARR-ClientCert` (the default name), HAProxy `http-request set-header X-SSL-Client-Cert
 * %[ssl_c_der,base64]`, ASP.NET Core's certificate forwarding `X-Client-Cert`. None of these
 * promise the certificate was validated (App Service forwards whatever the client sent), so the
 * chain is validated here against `roots` (plus configured `intermediates`).
 */
import { strictBase64 } from './structured.js'
import {
  ABSENT, cacheText, createHeaderCollector, isFailure, keySlice, malformed, refused, resolveHeaderNames, single,
  type Decoded, type Material, type SourceReader, type SourceRequest
} from './material.js'

export interface Base64DerHeaderNames {
  /** Default `x-arr-clientcert`. */
  cert: string
}

export const DEFAULT_BASE64_DER_HEADERS: Readonly<Base64DerHeaderNames> = Object.freeze({ cert: 'x-arr-clientcert' })

export function base64DerSource (headers?: Partial<Base64DerHeaderNames>): SourceReader<SourceRequest> {
  const names = resolveHeaderNames('base64-der', DEFAULT_BASE64_DER_HEADERS, headers) as Base64DerHeaderNames
  const collect = createHeaderCollector([names.cert])
  return {
    name: 'base64-der',
    fromHeaders: true,
    needsRoots: true,
    read (request, limits): Material {
      const [lines] = collect(request.rawHeaders)
      const value = single(lines, names.cert, limits.maxHeaderBytes)
      if (isFailure(value)) return refused(value)
      if (value === undefined || value.trim() === '') return ABSENT
      return {
        kind: 'present',
        key: keySlice(value),
        text: cacheText([value]),
        decode: (): Decoded => {
          const der = strictBase64(value.trim())
          if (der === null) return malformed('bad-base64', `${names.cert} is not base64 DER`)
          return { kind: 'chain', certificates: [der] }
        }
      }
    }
  }
}
