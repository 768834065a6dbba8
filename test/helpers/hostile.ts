/**
 * Helpers for the hostile-input suites: a tiny DER writer for structures no honest encoder makes,
 * the reason -> code table the property checks hold answers to, and fast-check settings.
 */
import assert from 'node:assert/strict'
import type { FailureReason, InvalidReason, MalformedReason, VerifyErrorCode, VerifyResult } from '../../src/index.js'

/** DER length octets (minimal definite form). */
export function derLength (n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}

/** One TLV with `content` (already encoded). */
export function tlv (tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content)
  return Uint8Array.from([tag, ...derLength(body.length), ...body])
}

/** `depth` SEQUENCEs, each holding the next, definite lengths. */
export function nestedSequences (depth: number): Uint8Array {
  // Built from the inside out in one buffer: the header of each level is at most 5 octets.
  const buf = new Uint8Array(depth * 5)
  let start = buf.length
  for (let i = 0; i < depth; i++) {
    const header = [0x30, ...derLength(buf.length - start)]
    start -= header.length
    buf.set(header, start)
  }
  return buf.subarray(start)
}

/** An OBJECT IDENTIFIER of `arcs` one-octet arcs after 1.2 (about `arcs` octets of DER). */
export function longOidText (arcs: number): string {
  return '1.2' + '.1'.repeat(arcs)
}

/** PEM text of arbitrary bytes labelled CERTIFICATE. */
export function pemOf (der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
}

// Records over the reason unions: a reason added to types.ts without a code here fails to compile.
const MALFORMED: Record<MalformedReason, true> = {
  'header-too-large': true,
  'repeated-header': true,
  'bad-encoding': true,
  'bad-pem': true,
  'not-a-certificate': true,
  'bad-base64': true,
  'bad-der': true,
  'too-many-certificates': true,
  'incomplete-headers': true,
  'header-mismatch': true
}
const INVALID: Record<InvalidReason, true> = {
  untrusted: true,
  'bad-signature': true,
  expired: true,
  'not-yet-valid': true,
  revoked: true,
  'crl-unusable': true,
  'ca-as-leaf': true,
  'not-a-ca': true,
  'path-length-exceeded': true,
  'max-chain-depth-exceeded': true,
  'key-usage': true,
  'extended-key-usage': true,
  'unknown-critical-extension': true,
  'name-constraints': true,
  'certificate-policy': true,
  'policy-limit-exceeded': true,
  'weak-algorithm': true,
  'weak-key': true,
  'invalid-certificate': true
}

/** The documented code for each reason (README "Errors"). */
export function codeFor (reason: FailureReason): VerifyErrorCode {
  if (reason === 'missing') return 'FST_MTLS_CERT_MISSING'
  if (Object.hasOwn(MALFORMED, reason)) return 'FST_MTLS_CERT_MALFORMED'
  if (Object.hasOwn(INVALID, reason)) return 'FST_MTLS_CERT_INVALID'
  throw new Error(`undocumented reason ${String(reason)}`)
}

/** HTTP status for each code. */
export const STATUS: Record<string, number> = {
  FST_MTLS_CERT_MISSING: 401,
  FST_MTLS_CERT_MALFORMED: 400,
  FST_MTLS_CERT_INVALID: 401,
  FST_MTLS_FORBIDDEN: 403
}

/**
 * A refusal is well formed: a documented reason under its code, and not the verifier's last-resort
 * catch (which means an exception escaped a parser or a check: a bug even though it fails closed).
 */
export function assertDefinedRefusal (result: VerifyResult, input: string): asserts result is Extract<VerifyResult, { ok: false }> {
  assert.equal(result.ok, false, `accepted: ${input.slice(0, 120)}`)
  if (result.ok) return
  assert.equal(result.code, codeFor(result.reason), `${result.reason} under ${result.code}`)
  assert.doesNotMatch(result.message, /^unexpected error/, `escaped exception for ${JSON.stringify(input.slice(0, 120))}: ${result.message}`)
}

/**
 * fast-check settings: a fixed seed and a small number of runs by default (npm test stays short on
 * a busy 2-core machine); `FUZZ_RUNS=<n>` multiplies every property's runs for a long session,
 * `FUZZ_SEED=<n>` replays or varies the seed.
 */
export function fuzzParameters (defaultRuns: number): { seed: number, numRuns: number, endOnFailure: true, includeErrorInReport: true } {
  const factor = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10)
  const seed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10)
  return {
    seed: Number.isFinite(seed) ? seed : 0x5eed,
    numRuns: Number.isFinite(factor) && factor > 0 ? defaultRuns * factor : defaultRuns,
    endOnFailure: true,
    includeErrorInReport: true
  }
}

/** Records the slowest inputs of a suite; reported, never asserted (see the brief: no timed assertions). */
export class Timings {
  readonly samples: number[] = []
  readonly byLabel = new Map<string, number>()
  time<T>(label: string, fn: () => T): T {
    const start = process.hrtime.bigint()
    try {
      return fn()
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      this.record(label, ms)
    }
  }

  async timeAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint()
    try {
      return await fn()
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      this.record(label, ms)
    }
  }

  record (label: string, ms: number): void {
    this.samples.push(ms)
    if (ms > (this.byLabel.get(label) ?? -1)) this.byLabel.set(label, ms)
  }

  /** Count, percentiles, and the slowest sample of each kind of input. */
  summary (): string {
    const sorted = [...this.samples].sort((a, b) => a - b)
    const p = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2)
    const kinds = [...this.byLabel].sort((a, b) => b[1] - a[1]).map(([label, ms]) => `${label} ${ms.toFixed(1)}`).join(', ')
    return `${sorted.length} inputs, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; slowest by kind (ms): ${kinds}`
  }
}
