/**
 * trusted-proxies: who may send the certificate headers. Matched against the socket's remote
 * address only (never X-Forwarded-For, which the client writes). CIDR matching, keywords and
 * IPv4-mapped IPv6 come from @fastify/proxy-addr, the matcher Fastify's own trustProxy uses.
 */
import proxyAddr from '@fastify/proxy-addr'
import { InvalidOptionError } from '../errors.js'

/** IPs/CIDRs, the keywords `loopback`, `linklocal`, `uniquelocal`, or a predicate. */
export type TrustedProxies = string | readonly string[] | ((address: string) => boolean)

/** Loopback and the private ranges where ALB nodes live (10/8, 172.16/12, 192.168/16, fc00::/7). */
export const DEFAULT_TRUSTED_PROXIES: readonly string[] = Object.freeze(['loopback', 'uniquelocal'])

export function compileTrustedProxies (value: TrustedProxies | undefined): (address: string | undefined) => boolean {
  if (typeof value === 'function') {
    return (address) => address !== undefined && value(address) === true
  }
  const list = value === undefined ? DEFAULT_TRUSTED_PROXIES : typeof value === 'string' ? value.split(',').map((s) => s.trim()) : value
  if (!Array.isArray(list) || list.some((s) => typeof s !== 'string')) {
    throw new InvalidOptionError('trustedProxies must be a list of IPs/CIDRs, a comma-separated string, or a function')
  }
  let match: (address: string, i: number) => boolean
  try {
    match = proxyAddr.compile([...list])
  } catch (err) {
    throw new InvalidOptionError(`trustedProxies: ${(err as Error).message}`)
  }
  return (address) => address !== undefined && match(address, 0)
}
