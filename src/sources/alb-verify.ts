/**
 * alb-verify: where ALB verify mode puts the certificate. Header names (ALB's header modification
 * can rename each of them) and reading them out of a request's header map. No Fastify here.
 */
import type { AlbVerifyValues, HeaderValue } from '../verifier/verify-mode.js'
import { InvalidOptionError } from '../errors.js'

/** Names of the headers ALB sends in verify mode (and the TLS headers it sends in both modes). */
export interface AlbVerifyHeaderNames {
  serialNumber: string
  issuer: string
  subject: string
  validity: string
  leaf: string
  tlsVersion: string
  cipherSuite: string
}

/** ALB's default names, lowercase as Node exposes them. */
export const DEFAULT_VERIFY_HEADERS: Readonly<AlbVerifyHeaderNames> = Object.freeze({
  serialNumber: 'x-amzn-mtls-clientcert-serial-number',
  issuer: 'x-amzn-mtls-clientcert-issuer',
  subject: 'x-amzn-mtls-clientcert-subject',
  validity: 'x-amzn-mtls-clientcert-validity',
  leaf: 'x-amzn-mtls-clientcert-leaf',
  tlsVersion: 'x-amzn-tls-version',
  cipherSuite: 'x-amzn-tls-cipher-suite'
})

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** Validates `verifyHeaders` overrides; every name is lowercased. Throws on a bad or repeated name. */
export function resolveVerifyHeaderNames (overrides: Partial<AlbVerifyHeaderNames> | undefined): AlbVerifyHeaderNames {
  if (overrides !== undefined && (overrides === null || typeof overrides !== 'object')) {
    throw new InvalidOptionError('verifyHeaders must be an object of header names')
  }
  const out = { ...DEFAULT_VERIFY_HEADERS }
  for (const [key, value] of Object.entries(overrides ?? {})) {
    if (!(key in DEFAULT_VERIFY_HEADERS)) throw new InvalidOptionError(`verifyHeaders: unknown key ${key} (use ${Object.keys(DEFAULT_VERIFY_HEADERS).join(', ')})`)
    if (value === undefined) continue
    if (typeof value !== 'string' || !TOKEN.test(value)) throw new InvalidOptionError(`verifyHeaders.${key} must be an HTTP header name`)
    out[key as keyof AlbVerifyHeaderNames] = value.toLowerCase()
  }
  const names = Object.values(out)
  if (new Set(names).size !== names.length) throw new InvalidOptionError('verifyHeaders: two headers share a name')
  return out
}

/** A header map as Node (`IncomingHttpHeaders`), Express or Fastify expose it: lowercase names. */
export type HeaderMap = Readonly<Record<string, HeaderValue>>

/** Picks the verify-mode headers out of a header map. Repeated headers stay arrays (refused later). */
export function readAlbVerifyHeaders (headers: HeaderMap, names: AlbVerifyHeaderNames = DEFAULT_VERIFY_HEADERS): AlbVerifyValues {
  return {
    serialNumber: headers[names.serialNumber],
    issuer: headers[names.issuer],
    subject: headers[names.subject],
    validity: headers[names.validity],
    leaf: headers[names.leaf],
    tlsVersion: headers[names.tlsVersion],
    cipherSuite: headers[names.cipherSuite]
  }
}

/**
 * The same from Node's `rawHeaders` (name, value, name, value, ...): a header sent twice becomes an
 * array even where Node would join the lines with ", " (which a DN header cannot be told apart from).
 */
/** Header name -> field, built once per names object (this runs on every request). */
const lookups = new WeakMap<AlbVerifyHeaderNames, Map<string, keyof AlbVerifyHeaderNames>>()

function lookupOf (names: AlbVerifyHeaderNames): Map<string, keyof AlbVerifyHeaderNames> {
  let wanted = lookups.get(names)
  if (wanted === undefined) {
    wanted = new Map()
    for (const [key, name] of Object.entries(names)) wanted.set(name.toLowerCase(), key as keyof AlbVerifyHeaderNames)
    lookups.set(names, wanted)
  }
  return wanted
}

export function readAlbVerifyRawHeaders (rawHeaders: readonly string[], names: AlbVerifyHeaderNames = DEFAULT_VERIFY_HEADERS): AlbVerifyValues {
  const wanted = lookupOf(names)
  const out: Record<string, string | string[]> = {}
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const key = wanted.get(rawHeaders[i]!.toLowerCase())
    if (key === undefined) continue
    const value = rawHeaders[i + 1]!
    const seen = out[key]
    out[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]
  }
  return out
}
