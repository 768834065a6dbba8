/**
 * options-check: misconfigurations that would otherwise pass silently in JavaScript, refused at
 * registration with a message that says what to fix.
 */
import type { FastifyInstance } from 'fastify'
import type { VerifierOptions } from '../types.js'
import type { AlbVerifyOptions } from '../verifier/verify-mode.js'
import type { LoadedTrustStore } from '../trust/load-trust-store.js'
import { InvalidOptionError } from '../errors.js'

/**
 * Options of the verifier core. Typed over VerifierOptions/AlbVerifyOptions: an option added there
 * fails to compile until it is listed here, so the plugin can never refuse a real option.
 */
const CORE_OPTIONS: Record<keyof VerifierOptions | keyof AlbVerifyOptions, true> = {
  roots: true,
  intermediates: true,
  clockTolerance: true,
  extendedKeyUsage: true,
  allowAnyExtendedKeyUsage: true,
  maxChainDepth: true,
  maxHeaderBytes: true,
  now: true,
  ignoreExpiry: true,
  minRsaKeyBits: true,
  allowSha1: true,
  cache: true,
  crls: true,
  crlPolicy: true,
  policies: true,
  verifyChain: true
}

/** `loadTrustStore()`'s result is documented as spread into the options: its bookkeeping fields are accepted. */
const TRUST_STORE_FIELDS: Record<keyof LoadedTrustStore, true> = { roots: true, intermediates: true, crls: true, files: true }

/**
 * Plugin-level options (plugin.ts), `source` (certificate sources), and what Fastify itself passes
 * to every plugin's options (`prefix`, `logLevel`, `logSerializers`). Extend this list with any new
 * plugin-level option.
 */
export const PLUGIN_OPTIONS: readonly string[] = [
  'mode', 'header', 'required', 'trustedProxies', 'verifyHeaders', 'authorize', 'source', 'trustSource',
  'prefix', 'logLevel', 'logSerializers'
]

const KNOWN = new Set<string>([...Object.keys(CORE_OPTIONS), ...Object.keys(TRUST_STORE_FIELDS), ...PLUGIN_OPTIONS])

/** Levenshtein distance, stopped early past `max` (option names are short). */
function distance (a: string, b: string, max: number): number {
  if (Math.abs(a.length - b.length) > max) return max + 1
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const row = [i]
    let best = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      const value = Math.min((prev[j] as number) + 1, (row[j - 1] as number) + 1, (prev[j - 1] as number) + cost)
      row.push(value)
      best = Math.min(best, value)
    }
    if (best > max) return max + 1
    prev = row
  }
  return prev[b.length] as number
}

/** The known option closest to `key`, when one is close enough to be a typo. */
export function suggestOption (key: string): string | null {
  let found: string | null = null
  let bestDistance = Math.max(2, Math.floor(key.length / 4))
  for (const known of KNOWN) {
    const d = distance(key, known, bestDistance)
    if (d <= bestDistance && (found === null || d < bestDistance)) {
      found = known
      bestDistance = d
    }
  }
  return found
}

/** Refuses option names the plugin does not know (`trustedProxy`, `root`): JavaScript would silently ignore them. */
export function checkOptionNames (options: object): void {
  for (const key of Object.keys(options)) {
    if (KNOWN.has(key)) continue
    const hint = suggestOption(key)
    throw new InvalidOptionError(`unknown option ${JSON.stringify(key)}${hint === null ? '' : ` (did you mean ${JSON.stringify(hint)}?)`}`)
  }
}

/** A second registration in the same app: say so, instead of Fastify's generic decorator error. */
export function checkRegisteredOnce (fastify: FastifyInstance): void {
  if (fastify.hasDecorator('mtls') || fastify.hasRequestDecorator('clientCert')) {
    throw new InvalidOptionError('fastify-alb-mtls is already registered in this app: register it once, ' +
      'and use route config.mtls or requireClientCert for per-route needs')
  }
}
