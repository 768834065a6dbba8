/**
 * cache: verdicts by header value, so a client's second request skips every validation step.
 *
 * The hit path runs on every request, so it avoids hashing the 2-3 KB header (a SHA-256 or even
 * the engine's own string hash of a fresh header costs several times a whole cache hit). The key is
 * a short slice of the value that differs between clients: the last base64 characters of the first
 * PEM block, which are the leaf's signature bytes. A key only narrows the search: an entry counts as
 * a hit only when its stored header equals the request's header character for character, so no
 * collision can alias two chains. A header whose slot already holds a different header (a collision,
 * or a client copying another's signature bytes) is stored under its full value instead, and never
 * evicts the first one.
 *
 * Successes and failures live in two LRUs: a flood of distinct bad headers can only push out other
 * failures, never a valid client's verdict. Both are bounded by entries and by an estimate of the
 * bytes they hold. Each entry carries its own expiry on the verifier's clock: for a success the
 * earliest of `ttl` and the verdict's `validUntil` (the path's notAfter, lowered by revocation data),
 * for a failure `failureTtl`.
 */
import { LRUCache } from 'lru-cache'
import type { VerdictCacheOptions, VerifyResult } from '../types.js'
import { InvalidOptionError, refuseUnknownSettings } from '../errors.js'

export interface ResolvedCacheOptions {
  max: number
  maxBytes: number
  ttl: number
  failureTtl: number
}

export interface CacheStats {
  /** Requests answered from the cache. */
  hits: number
  /** Requests that ran a validation. */
  misses: number
  /** Successes and failures currently held. */
  entries: number
  /** Estimated bytes held. */
  bytes: number
}

interface Entry {
  readonly header: string
  readonly result: VerifyResult
  /** Reusable while validFrom <= now < expires (a clock set back must not skip notBefore). */
  readonly validFrom: number
  readonly expires: number
  readonly size: number
}

/** Characters of the key slice: 32 base64 characters are 24 bytes of the leaf's signature. */
const KEY_LENGTH = 32
/** The slice ends this far before the END marker, past the `=` padding and a `%0A`. */
const KEY_END_GAP = 8
const END_MARKER = '-----END'
/**
 * Heap an identity holds besides its leaf PEM (names, attribute maps, SAN lists, chain entries,
 * the frozen objects around them), and the LRU slot: measured 4-5 KB for a typical leaf.
 */
const SUCCESS_OVERHEAD = 5120
const FAILURE_OVERHEAD = 512

/** The lookup key of a header: the slice before the first END marker, else the whole value. */
export function cacheKey (header: string): string {
  const end = header.indexOf(END_MARKER, KEY_LENGTH + KEY_END_GAP)
  return end === -1 ? header : header.slice(end - KEY_END_GAP - KEY_LENGTH, end - KEY_END_GAP)
}

/** Bytes an entry keeps alive, estimated: the header and the leaf-specific part of the verdict. */
function estimateSize (header: string, result: VerifyResult): number {
  return result.ok
    ? SUCCESS_OVERHEAD + header.length + result.certificate.pem.length
    : FAILURE_OVERHEAD + header.length + result.message.length
}

class Store {
  readonly lru: LRUCache<string, Entry>
  constructor (max: number, maxBytes: number) {
    this.lru = new LRUCache<string, Entry>({ max, maxSize: maxBytes, sizeCalculation: (e) => e.size })
  }

  get (key: string, header: string, now: number): Entry | undefined {
    let slot = key
    let entry = this.lru.get(key)
    if (entry !== undefined && entry.header !== header && key !== header) {
      slot = header
      entry = this.lru.get(header)
    }
    if (entry === undefined || entry.header !== header) return undefined
    if (entry.expires <= now || now < entry.validFrom) {
      this.lru.delete(slot)
      return undefined
    }
    return entry
  }

  set (key: string, entry: Entry, now: number): void {
    const held = this.lru.peek(key)
    // Keep a live entry of another header in its slot; this one goes under its full value.
    const slot = held === undefined || held.header === entry.header || held.expires <= now ? key : entry.header
    this.lru.set(slot, entry)
  }
}

/** Lookups per window of the flood detector. */
const WINDOW = 256
/** A window with fewer hits than WINDOW / FLOOD_RATIO turns admission on second sight on. */
const FLOOD_RATIO = 64
/** Slots of the doorkeeper: key hashes seen once while flooded. */
const DOOR_SLOTS = 8192

/** FNV-1a of a key slice (32 characters): cheap, and no string is kept. */
function keyHash (key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  return h >>> 0 || 1
}

/**
 * Admission under all-miss traffic. Storing a verdict has a cost that only a later hit repays: the
 * entry (identity objects, the header string) lives long enough to reach the old generation and is
 * then evicted, so under a flood of distinct certificates (every request a miss) a cache that
 * stores everything does more work than no cache at all (issue 12 measured 0.85x a naive uncached
 * hook). So the cache watches its hit ratio over windows of WINDOW lookups; while fewer than one in
 * FLOOD_RATIO lookups hits, a verdict is stored only the second time its key is seen within the
 * doorkeeper's memory (a fixed table of key hashes: no allocation, nothing retained). What the cache
 * holds is kept, not evicted: a flood cannot push out the verdicts of real clients, and a real
 * client arriving during one is cached from its second request. One good window ends the mode.
 */
class Admission {
  private lookups = 0
  private hits = 0
  flooded = false
  private readonly door = new Uint32Array(DOOR_SLOTS)

  lookup (hit: boolean): void {
    if (hit) this.hits++
    if (++this.lookups < WINDOW) return
    this.flooded = this.hits * FLOOD_RATIO < this.lookups
    this.lookups = 0
    this.hits = 0
  }

  /** Whether a fresh verdict under `key` should be stored now. */
  admit (key: string): boolean {
    if (!this.flooded) return true
    const h = keyHash(key)
    const slot = h & (DOOR_SLOTS - 1)
    if (this.door[slot] === h) {
      this.door[slot] = 0
      return true
    }
    this.door[slot] = h
    return false
  }
}

/** Verdict cache of one verifier. */
export class VerdictCache {
  readonly options: ResolvedCacheOptions
  private readonly ok: Store
  private readonly failed: Store
  private readonly admission = new Admission()
  hits = 0
  misses = 0
  /** Fresh verdicts not stored because the cache was flooded (see Admission). */
  declined = 0

  constructor (options: ResolvedCacheOptions) {
    this.options = options
    this.ok = new Store(options.max, options.maxBytes)
    this.failed = new Store(Math.max(16, options.max >>> 2), Math.max(1 << 16, Math.floor(options.maxBytes / 4)))
  }

  /** The cached verdict for exactly this header, or undefined. */
  get (key: string, header: string, now: number): VerifyResult | undefined {
    const entry = this.ok.get(key, header, now) ?? this.failed.get(key, header, now)
    this.admission.lookup(entry !== undefined)
    if (entry === undefined) return undefined
    this.hits++
    return entry.result
  }

  /**
   * Stores a fresh verdict. A success is reused from `validFrom` (the latest notBefore on the path)
   * until the earliest of `now + ttl` and `validUntil`; a failure for `failureTtl` from `now`.
   */
  set (key: string, header: string, result: VerifyResult, now: number, validFrom: number, validUntil: number): void {
    if (!this.admission.admit(key)) {
      this.declined++
      return
    }
    if (result.ok) {
      const expires = Math.min(now + this.options.ttl, validUntil)
      if (expires > now) this.ok.set(key, { header, result, validFrom, expires, size: estimateSize(header, result) }, now)
    } else if (this.options.failureTtl > 0) {
      this.failed.set(key, { header, result, validFrom: now, expires: now + this.options.failureTtl, size: estimateSize(header, result) }, now)
    }
  }

  clear (): void {
    this.ok.lru.clear()
    this.failed.lru.clear()
  }

  stats (): CacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      entries: this.ok.lru.size + this.failed.lru.size,
      bytes: this.ok.lru.calculatedSize + this.failed.lru.calculatedSize
    }
  }
}

function positiveInteger (value: unknown, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > Number.MAX_SAFE_INTEGER) {
    throw new InvalidOptionError(`cache.${name} must be an integer of at least ${min}`)
  }
  return value
}

/** Checks the `cache` option; null when caching is off. */
export function resolveCacheOptions (value: VerdictCacheOptions | false | undefined): ResolvedCacheOptions | null {
  if (value === false) return null
  if (value !== undefined && (value === null || typeof value !== 'object')) throw new InvalidOptionError('cache must be an object or false')
  const options = value ?? {}
  refuseUnknownSettings(options, ['max', 'maxBytes', 'ttl', 'failureTtl'], 'cache')
  return {
    max: positiveInteger(options.max, 'max', 10_000, 1),
    maxBytes: positiveInteger(options.maxBytes, 'maxBytes', 64 * 1024 * 1024, 1024),
    ttl: positiveInteger(options.ttl, 'ttl', 600_000, 1),
    failureTtl: positiveInteger(options.failureTtl, 'failureTtl', 5_000, 0)
  }
}

/** A verdict as validation produces it: the result, and when it may be reused. */
export interface Verdict {
  result: VerifyResult
  /** Epoch ms before which the verdict must not be reused: the latest notBefore on the path. */
  validFrom: number
  /** Epoch ms from which the verdict must not be reused (success only). */
  validUntil: number
}

export interface VerifierStats extends CacheStats {
  /** Validations run (cache misses, or every call when the cache is off). */
  validations: number
}

/**
 * The validations of one verifier, through its verdict cache when it has one, counted for
 * `stats()`. `validate(arg, now)` runs on a miss; it is passed with its argument rather than as a
 * closure so a cache hit allocates nothing.
 */
export class Validations {
  private readonly cache: VerdictCache | null
  private count = 0

  constructor (option: VerdictCacheOptions | false | undefined) {
    const options = resolveCacheOptions(option)
    this.cache = options === null ? null : new VerdictCache(options)
  }

  /** The verdict for `text` (looked up under `key`, see cacheKey), validated on a miss. */
  run<T> (key: string, text: string, now: number, validate: (arg: T, now: number) => Verdict, arg: T): VerifyResult {
    if (this.cache === null) return this.uncached(validate, arg, now)
    const hit = this.cache.get(key, text, now)
    if (hit !== undefined) return hit
    this.cache.misses++
    this.count++
    const verdict = validate(arg, now)
    this.cache.set(key, text, verdict.result, now, verdict.validFrom, verdict.validUntil)
    return verdict.result
  }

  /** A validation that is never cached (inputs refused before any parsing). */
  uncached<T> (validate: (arg: T, now: number) => Verdict, arg: T, now: number): VerifyResult {
    this.count++
    return validate(arg, now).result
  }

  /** Drops every verdict: they were reached with trust material that is being replaced. */
  clear (): void {
    this.cache?.clear()
  }

  stats (): VerifierStats {
    return { ...(this.cache?.stats() ?? { hits: 0, misses: 0, entries: 0, bytes: 0 }), validations: this.count }
  }
}
