/**
 * fastify-alb-mtls/s3: the ALB trust store, read from S3 and followed.
 *
 * ALB reads its trust store from S3: a CA bundle object and CRL objects. `createS3TrustStore`
 * reads the same objects, builds the material `loadTrustStore` builds from files, and keeps
 * following it: every `pollInterval` (jittered, so a fleet does not stampede) each object is
 * fetched with `If-None-Match: <its ETag>` (RFC 9110 section 13.1.2), so an unchanged store costs one
 * 304 per object. When anything changed, the whole set is handed to the followers' `reload` in one
 * call (atomic: all objects or none). A failed fetch, a bad object or material a follower refuses
 * leaves the last good material in force; the fault is logged, counted and visible in `stats()`
 * with the material's age. Past `maxStaleness` without a confirmation, `staleness()` says so and
 * the plugin refuses accepted certificates with `FST_MTLS_TRUST_STALE` (503).
 *
 * `@aws-sdk/client-s3` is an optional peer dependency, imported only here (s3-client.ts).
 */
import { parseCertificate } from '../x509/parse.js'
import { prepareCrlFor } from './prepare-crls.js'
import { TrustSourceError, InvalidOptionError, refuseUnknownSettings } from '../errors.js'
import type { SourcedTrustMaterial, TrustSource, TrustSourceLog } from '../types.js'
import { createSdkFetcher, S3FetchError, type ObjectFetcher, type S3ConnectionOptions, type S3FaultKind, type S3ObjectRef } from './s3-client.js'

export type { S3ObjectRef, S3FaultKind, S3ConnectionOptions, S3ClientLike, ObjectFetcher, GetOptions, GetResult } from './s3-client.js'
export { S3FetchError } from './s3-client.js'

/** `s3://bucket/key`, `s3://bucket/key?versionId=...`, or `{ bucket, key, versionId? }`. */
export type S3ObjectInput = string | S3ObjectRef

export interface S3TrustStoreOptions extends S3ConnectionOptions {
  /** The CA bundle object (PEM certificates, `#` comment lines allowed), as in ALB's trust store. */
  caBundle: S3ObjectInput
  /** Extra CA bundle objects whose certificates are path-building helpers (not anchors unless self-signed). */
  intermediates?: readonly S3ObjectInput[]
  /** CRL objects (PEM `X509 CRL` blocks or DER), as ALB's trust-store revocation entries. At most 30. */
  crls?: readonly S3ObjectInput[]
  /** Every CA certificate of the bundle is an anchor, intermediates included (as `loadTrustStore`). Default false. */
  trustIntermediates?: boolean
  /** Time between polls, ms. Default 60,000. */
  pollInterval?: number
  /** Each wait is `pollInterval` times a random factor in [1 - jitter, 1 + jitter]. Default 0.2. */
  jitter?: number
  /**
   * Longest time the material may go unconfirmed (no successful poll) before accepted certificates
   * are refused (`FST_MTLS_TRUST_STALE`, 503), ms. Default 3,600,000 (one hour); `Infinity` never.
   */
  maxStaleness?: number
  /** Deadline for one object: request, retries and body, ms. Default 30,000. */
  requestTimeout?: number
  /** Largest object accepted, bytes. Default 64 MiB (ALB allows CRL files of 50 MB). */
  maxObjectBytes?: number
  /** Logger (pino style). Default: the followers' loggers (the plugin passes Fastify's). */
  log?: TrustSourceLog
  /** Clock, epoch ms (tests). Default `Date.now`. */
  now?: () => number
  /** Start polling on creation. Default true; false: call `refresh()` yourself. */
  poll?: boolean
  /** @internal Fetcher replacing the SDK (tests of this module only). */
  fetcher?: ObjectFetcher
}

export type S3TrustFaultKind = S3FaultKind | 'invalid-material'

export interface S3TrustFault {
  readonly at: number
  readonly kind: S3TrustFaultKind
  readonly message: string
}

export interface S3ObjectStats {
  readonly uri: string
  readonly etag: string | undefined
  readonly versionId: string | undefined
  readonly bytes: number
}

export interface S3TrustStoreStats {
  /** When the material in force was loaded (epoch ms). */
  readonly loadedAt: number
  /** Last time the material in force was confirmed as S3's current one (loaded, or every object answered 304). */
  readonly confirmedAt: number
  /** now - confirmedAt, ms. */
  readonly ageMs: number
  readonly maxStalenessMs: number
  /** ageMs > maxStalenessMs: accepted certificates are being refused. */
  readonly stale: boolean
  /** Poll rounds run (the first load included). */
  readonly polls: number
  /** Rounds where every object answered 304. */
  readonly unchanged: number
  /** New material handed to the followers. */
  readonly reloads: number
  /** Rounds that failed; the last good material stayed in force. */
  readonly failures: number
  readonly faults: Readonly<Record<S3TrustFaultKind, number>>
  readonly lastFault: S3TrustFault | null
  readonly objects: readonly S3ObjectStats[]
}

export type RefreshOutcome = 'reloaded' | 'unchanged' | 'failed'

export interface S3TrustStore extends TrustSource {
  current (): LoadedS3Material
  stats (): S3TrustStoreStats
  /** Polls now (or joins the poll running); resolves when that round is over. */
  refresh (): Promise<RefreshOutcome>
  /** Resolves after the next poll round ends, whoever started it. */
  nextPoll (): Promise<RefreshOutcome>
  /** Stops polling and releases the client. */
  close (): void
}

/** The material, DER, as `loadTrustStore` returns it (plus where it came from). */
export interface LoadedS3Material extends SourcedTrustMaterial {
  roots: Uint8Array[]
  intermediates: Uint8Array[]
  crls: Uint8Array[]
}

const DEFAULTS = { pollInterval: 60_000, jitter: 0.2, maxStaleness: 3_600_000, requestTimeout: 30_000, maxObjectBytes: 64 * 1024 * 1024 }
/** ALB: at most 30 CRL files per trust store (revocation entries). */
const MAX_CRLS = 30

const FAULT_KINDS: readonly S3TrustFaultKind[] = ['not-found', 'access-denied', 'timeout', 'unreachable', 'too-large', 'bad-body', 'error', 'invalid-material']

/** Parses `s3://bucket/key[?versionId=...]` or checks `{ bucket, key, versionId? }`. */
export function parseS3Uri (input: S3ObjectInput, what = 'object'): S3ObjectRef {
  if (typeof input === 'string') {
    const m = /^s3:\/\/([^/?#]+)\/([^?#]+)(?:\?versionId=([^&#]+))?$/.exec(input)
    if (m === null) throw new InvalidOptionError(`${what}: ${JSON.stringify(input)} is not an s3://bucket/key URI (optionally ?versionId=...)`)
    return checkRef({ bucket: m[1]!, key: decodeURIComponent(m[2]!), ...(m[3] !== undefined ? { versionId: decodeURIComponent(m[3]) } : {}) }, what)
  }
  if (input === null || typeof input !== 'object') throw new InvalidOptionError(`${what} must be an s3:// URI or { bucket, key, versionId? }`)
  return checkRef(input, what)
}

function checkRef (ref: S3ObjectRef, what: string): S3ObjectRef {
  // Bucket naming rules (S3 user guide): 3-63 characters, lowercase, digits, dots, hyphens.
  if (typeof ref.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(ref.bucket)) throw new InvalidOptionError(`${what}: bad bucket name ${JSON.stringify(ref.bucket)}`)
  if (typeof ref.key !== 'string' || ref.key === '' || ref.key.length > 1024) throw new InvalidOptionError(`${what}: the key must be 1 to 1024 characters`)
  if (ref.versionId !== undefined && (typeof ref.versionId !== 'string' || ref.versionId === '' || ref.versionId.length > 1024)) throw new InvalidOptionError(`${what}: bad versionId`)
  return Object.freeze({ bucket: ref.bucket, key: ref.key, ...(ref.versionId !== undefined ? { versionId: ref.versionId } : {}) })
}

function uriOf (ref: S3ObjectRef): string {
  return `s3://${ref.bucket}/${ref.key}${ref.versionId !== undefined ? `?versionId=${ref.versionId}` : ''}`
}

function numberOption (value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || Number.isNaN(value) || value < min || value > max) throw new InvalidOptionError(`${name} must be a number from ${min} to ${max}`)
  return value
}

/**
 * Wait before the next poll: `interval` times a factor spread evenly over [1 - jitter, 1 + jitter],
 * so instances started together (an autoscaling group) do not keep polling together.
 */
export function pollDelay (interval: number, jitter: number, random: () => number = Math.random): number {
  return interval * (1 - jitter + 2 * jitter * random())
}

type Role = 'bundle' | 'intermediates' | 'crl'

interface Tracked {
  readonly ref: S3ObjectRef
  readonly uri: string
  readonly role: Role
  etag: string | undefined
  versionId: string | undefined
  size: number
  /** DER items of the copy in force. */
  items: Uint8Array[]
}

class MaterialError extends Error {}

function sameItems (a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((item, i) => Buffer.from(item.buffer, item.byteOffset, item.byteLength).equals(b[i]!))
}

/** Sorts the certificates of the bundle objects into anchors and helpers, as loadTrustStore does. */
function buildMaterial (objects: ReadonlyArray<{ role: Role, uri: string, items: Uint8Array[] }>, trustIntermediates: boolean): LoadedS3Material {
  const out: LoadedS3Material = { roots: [], intermediates: [], crls: [] }
  const seen = new Set<string>()
  for (const object of objects) {
    if (object.role === 'crl') {
      out.crls.push(...object.items)
      continue
    }
    for (const der of object.items) {
      let cert
      try {
        cert = parseCertificate(der)
      } catch (err) {
        throw new MaterialError(`${object.uri}: not a readable certificate (${(err as Error).message})`)
      }
      if (seen.has(cert.fingerprint256)) continue
      seen.add(cert.fingerprint256)
      // Only the CA bundle supplies anchors: a self-signed certificate among the intermediates too.
      if (trustIntermediates || cert.selfIssued) out.roots.push(der)
      else out.intermediates.push(der)
    }
  }
  if (out.roots.length === 0) throw new MaterialError('no root (self-signed) CA certificate in the CA bundle')
  return out
}

/**
 * Loads the trust store from S3 (the first load must succeed: it throws `FST_MTLS_TRUST_SOURCE`
 * otherwise) and starts following it.
 */
/** Every setting of createS3TrustStore: typed, so a new option fails to compile until listed here. */
const S3_SETTINGS: Record<keyof S3TrustStoreOptions, true> = { caBundle: true, intermediates: true, crls: true, trustIntermediates: true, pollInterval: true, jitter: true, maxStaleness: true, requestTimeout: true, maxObjectBytes: true, log: true, now: true, poll: true, fetcher: true, endpoint: true, region: true, forcePathStyle: true, credentials: true, maxAttempts: true, client: true }

export async function createS3TrustStore (options: S3TrustStoreOptions): Promise<S3TrustStore> {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('createS3TrustStore expects options')
  refuseUnknownSettings(options, Object.keys(S3_SETTINGS), 'createS3TrustStore')
  const bundleRef = parseS3Uri(options.caBundle, 'caBundle')
  const intermediateRefs = (options.intermediates ?? []).map((r, i) => parseS3Uri(r, `intermediates[${i}]`))
  if (options.crls !== undefined && !Array.isArray(options.crls)) throw new InvalidOptionError('crls must be an array of S3 objects')
  const crlRefs = (options.crls ?? []).map((r, i) => parseS3Uri(r, `crls[${i}]`))
  if (crlRefs.length > MAX_CRLS) throw new InvalidOptionError(`crls: at most ${MAX_CRLS} CRL objects (ALB's limit per trust store)`)
  const pollInterval = numberOption(options.pollInterval, 'pollInterval', DEFAULTS.pollInterval, 10, 86_400_000)
  const jitter = numberOption(options.jitter, 'jitter', DEFAULTS.jitter, 0, 1)
  const maxStaleness = numberOption(options.maxStaleness, 'maxStaleness', DEFAULTS.maxStaleness, 0, Number.POSITIVE_INFINITY)
  const requestTimeout = numberOption(options.requestTimeout, 'requestTimeout', DEFAULTS.requestTimeout, 1, 600_000)
  const maxObjectBytes = numberOption(options.maxObjectBytes, 'maxObjectBytes', DEFAULTS.maxObjectBytes, 1024, 1 << 30)
  if (options.now !== undefined && typeof options.now !== 'function') throw new InvalidOptionError('now must be a function returning epoch ms')
  const now = options.now ?? Date.now
  const trustIntermediates = options.trustIntermediates === true
  const objectCount = 1 + intermediateRefs.length + crlRefs.length
  // A limit shorter than one normal poll cycle would refuse certificates between healthy polls.
  if (options.poll !== false && maxStaleness < pollInterval * (1 + jitter) + requestTimeout * objectCount) {
    throw new InvalidOptionError(`maxStaleness (${maxStaleness} ms) must cover one poll cycle: pollInterval x (1 + jitter) + requestTimeout x ${objectCount} objects = ${Math.ceil(pollInterval * (1 + jitter) + requestTimeout * objectCount)} ms`)
  }

  const tracked: Tracked[] = [
    { ref: bundleRef, role: 'bundle' as const },
    ...intermediateRefs.map((ref) => ({ ref, role: 'intermediates' as const })),
    ...crlRefs.map((ref) => ({ ref, role: 'crl' as const }))
  ].map(({ ref, role }) => ({ ref, role, uri: uriOf(ref), etag: undefined, versionId: undefined, size: 0, items: [] }))

  let fetcher: ObjectFetcher
  try {
    fetcher = options.fetcher ?? await createSdkFetcher(options)
  } catch (err) {
    throw new TrustSourceError((err as Error).message)
  }

  const followers = new Set<{ reload (material: SourcedTrustMaterial): void, log?: TrustSourceLog }>()
  const log = (level: keyof TrustSourceLog, obj: object, msg: string): void => {
    if (options.log !== undefined) {
      options.log[level]({ mtls: { s3: obj } }, msg)
      return
    }
    const seen = new Set<TrustSourceLog>()
    for (const f of followers) {
      if (f.log === undefined || seen.has(f.log)) continue
      seen.add(f.log)
      f.log[level]({ mtls: { s3: obj } }, msg)
    }
  }

  let material: LoadedS3Material | null = null
  let loadedAt = 0
  let confirmedAt = 0
  let polls = 0
  let unchanged = 0
  let reloads = 0
  let failures = 0
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<S3TrustFaultKind, number>
  let lastFault: S3TrustFault | null = null
  let closed = false

  /** Logs the end of a stale period (certificates are accepted again). */
  const recovered = (at: number): void => {
    if (material !== null && at - confirmedAt > maxStaleness) {
      log('info', { event: 'recovered', ageMs: at - confirmedAt, maxStalenessMs: maxStaleness }, 'mtls: S3 trust material confirmed again: certificates are accepted again')
    }
  }

  const label = (role: Role): string => role === 'crl' ? 'X509 CRL' : 'CERTIFICATE'

  /** One round: conditional GETs, then one atomic hand-over when anything changed. */
  const round = async (): Promise<RefreshOutcome> => {
    polls++
    const started = now()
    const fetched = new Map<Tracked, { etag: string | undefined, versionId: string | undefined, size: number, items: Uint8Array[] }>()
    try {
      for (const object of tracked) {
        const result = await fetcher.get(object.ref, {
          // Nothing in hand yet (first load): no condition.
          ...(material !== null && object.etag !== undefined ? { ifNoneMatch: object.etag } : {}),
          label: label(object.role),
          maxBytes: maxObjectBytes,
          timeout: requestTimeout
        })
        if (!result.modified) continue
        // Same bytes under a new ETag (a re-upload, or a store without ETags): nothing to reload.
        if (material !== null && sameItems(result.body.items, object.items)) {
          object.etag = result.etag
          object.versionId = result.versionId
          continue
        }
        fetched.set(object, { etag: result.etag, versionId: result.versionId, size: result.body.size, items: result.body.items })
      }
      if (fetched.size === 0) {
        recovered(started)
        confirmedAt = started
        unchanged++
        return 'unchanged'
      }
      const next = buildMaterial(tracked.map((o) => ({ role: o.role, uri: o.uri, items: fetched.get(o)?.items ?? o.items })), trustIntermediates)
      // Changed CRLs are parsed here, in slices that yield to the event loop (a CRL of 500,000
      // entries takes most of a second), and their signatures by the bundle's CAs are hashed in
      // slices too, while requests keep being served on the material in force; the followers'
      // reload then takes them parsed (prepareCrl), finds the signature outcomes recorded,
      // applies its own checks and swaps.
      const cas = [...next.roots, ...next.intermediates].map((der) => parseCertificate(der))
      for (const [object, got] of fetched) {
        if (object.role !== 'crl') continue
        for (const der of got.items) {
          try {
            await prepareCrlFor(der, cas)
          } catch (err) {
            throw new MaterialError(`${object.uri}: unusable CRL (${(err as Error).message})`)
          }
        }
      }
      const accepted: Array<{ reload (m: SourcedTrustMaterial): void }> = []
      try {
        for (const follower of followers) {
          follower.reload(next)
          accepted.push(follower)
        }
      } catch (err) {
        // All followers or none: put back the last good material where it was already taken.
        if (material !== null) for (const follower of accepted) follower.reload(material)
        throw new MaterialError(`refused by the verifier: ${(err as Error).message}`)
      }
      const previous = material
      material = next
      for (const [object, got] of fetched) Object.assign(object, got)
      recovered(started)
      loadedAt = confirmedAt = started
      if (previous !== null) {
        reloads++
        log('info', { event: 'reloaded', changed: [...fetched.keys()].map((o) => o.uri), roots: next.roots.length, intermediates: next.intermediates.length, crls: next.crls.length },
          'mtls: trust material reloaded from S3')
      }
      return 'reloaded'
    } catch (err) {
      if (material === null) throw err
      // close() during a round: the client was torn down on purpose.
      if (closed) return 'failed'
      const kind: S3TrustFaultKind = err instanceof S3FetchError ? err.kind : err instanceof MaterialError ? 'invalid-material' : 'error'
      failures++
      faults[kind]++
      lastFault = { at: started, kind, message: (err as Error).message }
      const ageMs = now() - confirmedAt
      const stale = ageMs > maxStaleness
      log(stale ? 'error' : 'warn', { event: 'fault', kind, detail: lastFault.message, ageMs, maxStalenessMs: maxStaleness, stale },
        stale
          ? 'mtls: S3 trust material could not be refreshed and is past maxStaleness: accepted certificates are refused'
          : 'mtls: S3 trust material could not be refreshed; the last good material stays in force')
      return 'failed'
    }
  }

  let running: Promise<RefreshOutcome> | null = null
  let waiters: Array<(outcome: RefreshOutcome) => void> = []
  const refresh = async (): Promise<RefreshOutcome> => {
    running ??= round().finally(() => { running = null })
    const outcome = await running
    const ready = waiters
    waiters = []
    for (const resolve of ready) resolve(outcome)
    return outcome
  }

  try {
    await refresh()
  } catch (err) {
    fetcher.destroy()
    throw new TrustSourceError(err instanceof Error ? err.message : String(err))
  }

  let timer: NodeJS.Timeout | null = null
  const schedule = (): void => {
    if (closed) return
    const delay = pollDelay(pollInterval, jitter)
    timer = setTimeout(() => {
      timer = null
      refresh().catch(() => {}).finally(schedule)
    }, delay)
    timer.unref()
  }
  if (options.poll !== false) schedule()

  return {
    current: () => material!,
    follow (follower) {
      if (follower === null || typeof follower !== 'object' || typeof follower.reload !== 'function') throw new InvalidOptionError('follow expects { reload(material) }')
      followers.add(follower)
      return () => { followers.delete(follower) }
    },
    staleness () {
      const age = now() - confirmedAt
      return age > maxStaleness ? `trust material from S3 not confirmed for ${Math.round(age / 1000)} s (maxStaleness ${Math.round(maxStaleness / 1000)} s)` : null
    },
    stats () {
      const ageMs = now() - confirmedAt
      return {
        loadedAt,
        confirmedAt,
        ageMs,
        maxStalenessMs: maxStaleness,
        stale: ageMs > maxStaleness,
        polls,
        unchanged,
        reloads,
        failures,
        faults: { ...faults },
        lastFault,
        objects: tracked.map((o) => ({ uri: o.uri, etag: o.etag, versionId: o.versionId, bytes: o.size }))
      }
    },
    refresh,
    nextPoll: async () => await new Promise<RefreshOutcome>((resolve) => { waiters.push(resolve) }),
    close () {
      closed = true
      if (timer !== null) clearTimeout(timer)
      timer = null
      fetcher.destroy()
    }
  }
}
