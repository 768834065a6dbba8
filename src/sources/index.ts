/**
 * sources: how the client certificate reaches the application, one module per proxy format. Each
 * turns a request into a chain to validate against `roots` or a proxy-verified leaf to
 * cross-check (see material.ts). ALB's two modes keep their own readers (alb-verify.ts, and the
 * passthrough header read by the plugin) so `mode` behaves exactly as before.
 */
import { InvalidOptionError } from '../errors.js'
import type { SourceReader, SourceRequest } from './material.js'
import { base64DerSource, type Base64DerHeaderNames } from './base64-der.js'
import { cloudflareSource, type CloudflareHeaderNames } from './cloudflare.js'
import { cloudFrontSource, type CloudFrontHeaderNames } from './cloudfront.js'
import { customSource, type CustomSource } from './custom.js'
import { gcpSource, type GcpHeaderNames } from './gcp.js'
import { nginxSource, type NginxHeaderNames } from './nginx.js'
import { rfc9440Source, type Rfc9440HeaderNames } from './rfc9440.js'
import { tlsSource } from './tls.js'
import { traefikSource, type TraefikHeaderNames } from './traefik.js'
import { xfccSource, type XfccHeaderNames } from './xfcc.js'

/** Header-name overrides per source (every proxy here lets operators rename its headers). */
export interface SourceHeaderNames {
  cloudfront: CloudFrontHeaderNames
  rfc9440: Rfc9440HeaderNames
  xfcc: XfccHeaderNames
  nginx: NginxHeaderNames
  traefik: TraefikHeaderNames
  gcp: GcpHeaderNames
  cloudflare: CloudflareHeaderNames
  'base64-der': Base64DerHeaderNames
  tls: Record<never, never>
}

/** A source other than ALB's, by name. */
export type SourceName = keyof SourceHeaderNames

/** Every value of the `source` option. */
export type SourceOption =
  | 'alb-passthrough' | 'alb-verify'
  | SourceName
  | { [N in SourceName]: { name: N, headers?: Partial<SourceHeaderNames[N]> } }[SourceName]
  | CustomSource<any>

export const SOURCE_NAMES: readonly SourceName[] = Object.freeze(['cloudfront', 'rfc9440', 'xfcc', 'nginx', 'traefik', 'gcp', 'cloudflare', 'base64-der', 'tls'])

/** The ALB mode a `source` value selects, or null for every other source. Throws on an unknown one. */
export function albModeOf (source: unknown): 'passthrough' | 'verify' | null {
  if (source === 'alb-passthrough') return 'passthrough'
  if (source === 'alb-verify') return 'verify'
  return null
}

/**
 * The reader for a non-ALB `source` option. `validates`: roots are configured, so sources whose
 * proxy may or may not have validated (nginx, GCP, Cloudflare) validate the chain here. Sources
 * read it on every request (it may turn true on a reload, see createSourceVerifier).
 */
export function resolveSource (source: unknown, context: { validates: boolean }): SourceReader<any> {
  if (typeof source === 'object' && source !== null && typeof (source as CustomSource).extract === 'function') {
    return customSource(source as CustomSource)
  }
  let name: unknown = source
  let headers: unknown
  if (typeof source === 'object' && source !== null) {
    name = (source as { name?: unknown }).name
    headers = (source as { headers?: unknown }).headers
    for (const key of Object.keys(source)) {
      if (key !== 'name' && key !== 'headers') throw new InvalidOptionError(`source.${key} is not a setting (name, headers; or extract for a custom source)`)
    }
  }
  switch (name) {
    case 'cloudfront': return cloudFrontSource(headers as Partial<CloudFrontHeaderNames>)
    case 'rfc9440': return rfc9440Source(headers as Partial<Rfc9440HeaderNames>)
    case 'xfcc': return xfccSource(headers as Partial<XfccHeaderNames>)
    case 'nginx': return nginxSource(headers as Partial<NginxHeaderNames>, context)
    case 'traefik': return traefikSource(headers as Partial<TraefikHeaderNames>)
    case 'gcp': return gcpSource(headers as Partial<GcpHeaderNames>, context)
    case 'cloudflare': return cloudflareSource(headers as Partial<CloudflareHeaderNames>, context)
    case 'base64-der': return base64DerSource(headers as Partial<Base64DerHeaderNames>)
    case 'tls':
      if (headers !== undefined) throw new InvalidOptionError('source tls reads no header')
      return tlsSource()
    default:
      throw new InvalidOptionError(`source must be one of alb-passthrough, alb-verify, ${SOURCE_NAMES.join(', ')}, { name, headers } or { extract }`)
  }
}

export type { SourceReader, SourceRequest }
