/**
 * spiffe: SPIFFE IDs as the SPIFFE-ID standard defines them (github.com/spiffe/spiffe,
 * standards/SPIFFE-ID.md, sections 2 and 2.1-2.3) and as the X.509-SVID standard carries them (one
 * `spiffe://` URI SAN).
 *
 * `spiffe://<trust domain><path>`: the scheme lowercase `spiffe`; the trust domain 1-255 characters
 * of `[a-z0-9.-_]` (lowercase only, so no userinfo `@`, no port `:`); the path empty or `/`-separated
 * segments of `[A-Za-z0-9.-_]`, none empty, `.` or `..`, no trailing `/`; no query, fragment or
 * percent-encoding; at most 2048 bytes in all. Anything else is not a SPIFFE ID, whatever a URI
 * parser makes of it: `spiffe://example.org@x.partner.example/ns/prod/sa/admin` has userinfo
 * `example.org` and host `x.partner.example`, and would pass a `/^spiffe:\/\/example\.org/` rule.
 */

export interface SpiffeId {
  /** The whole ID, as in the certificate. */
  readonly id: string
  /** e.g. `example.org`. */
  readonly trustDomain: string
  /** e.g. `/ns/prod/sa/billing`, or '' for the trust domain's own ID. */
  readonly path: string
}

const MAX_ID_BYTES = 2048
const MAX_TRUST_DOMAIN = 255
const TRUST_DOMAIN = /^[a-z0-9._-]+$/
const SEGMENT = /^[A-Za-z0-9._-]+$/
const PREFIX = 'spiffe://'

/** The parts of a valid SPIFFE ID, or null for anything that is not one. */
export function parseSpiffeId (uri: string): SpiffeId | null {
  if (typeof uri !== 'string' || uri.length > MAX_ID_BYTES || !uri.startsWith(PREFIX)) return null
  const rest = uri.slice(PREFIX.length)
  const slash = rest.indexOf('/')
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash)
  const path = slash === -1 ? '' : rest.slice(slash)
  if (trustDomain.length === 0 || trustDomain.length > MAX_TRUST_DOMAIN || !TRUST_DOMAIN.test(trustDomain)) return null
  if (path !== '') {
    // The leading '/' then segments: '/a/b' -> ['', 'a', 'b']. A trailing '/' makes an empty segment.
    const segments = path.split('/')
    for (let i = 1; i < segments.length; i++) {
      const s = segments[i]!
      if (!SEGMENT.test(s) || s === '.' || s === '..') return null
    }
  }
  return { id: uri, trustDomain, path }
}

/** True when `uri` is a valid SPIFFE ID. */
export function isSpiffeId (uri: string): boolean {
  return parseSpiffeId(uri) !== null
}

/**
 * The trust domain of a SPIFFE ID (e.g. `request.clientCert.spiffeId`), or null when it is null or
 * not a valid SPIFFE ID. Compare it with `===` to the trust domain you accept, rather than matching
 * the ID with a prefix or a RegExp.
 */
export function spiffeTrustDomain (id: string | null | undefined): string | null {
  return typeof id === 'string' ? parseSpiffeId(id)?.trustDomain ?? null : null
}

/**
 * True when `id` is a valid SPIFFE ID whose trust domain is exactly `trustDomain` (itself a valid
 * trust domain name): `inTrustDomain(request.clientCert.spiffeId, 'example.org')`. Sub-domains are
 * other trust domains (`prod.example.org` is not `example.org`).
 */
export function inTrustDomain (id: string | null | undefined, trustDomain: string): boolean {
  if (typeof trustDomain !== 'string' || !TRUST_DOMAIN.test(trustDomain) || trustDomain.length > MAX_TRUST_DOMAIN) {
    throw new TypeError(`inTrustDomain: ${JSON.stringify(trustDomain)} is not a trust domain name ([a-z0-9.-_], lowercase)`)
  }
  return spiffeTrustDomain(id) === trustDomain
}

/**
 * The SPIFFE ID of a certificate's URI SANs: the one URI whose scheme is `spiffe` (any case), when
 * there is exactly one and it is a valid SPIFFE ID; else null (the URIs stay in `san.uri`).
 */
export function spiffeIdOf (uris: readonly string[]): string | null {
  let found: string | null = null
  for (const u of uris) {
    if (u.slice(0, PREFIX.length).toLowerCase() !== PREFIX) continue
    if (found !== null) return null
    found = u
  }
  return found !== null && isSpiffeId(found) ? found : null
}
