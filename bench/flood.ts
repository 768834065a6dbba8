/**
 * All-miss flood (issue 12): every request brings a certificate never seen before, so the verdict
 * cache can only cost. Measured in-process: the same sequence of distinct leaf + intermediate
 * headers through a verifier with the default cache and through one with `cache: false`, passes
 * alternating so machine load hits both alike; each pass uses new verifiers, so every request is a
 * miss. The full run sends more distinct leaves (12,000) than the default cache holds (10,000), so a
 * cache that stored every verdict would also be evicting. Target: the cached verifier at least as
 * fast as the uncached one (ratio >= 1.00, within noise).
 *
 * How (src/verifier/cache.ts, Admission): once fewer than 1 in 64 lookups hit, a fresh verdict is
 * stored only the second time its key is seen, so a flood does not churn the cache (nothing reaches
 * the old generation to be evicted later) and cannot evict real clients' verdicts either.
 */
import { createCertificate, createTestPki, generateKeyPair, toAlbHeader } from '../src/testing/index.js'
import { createVerifier } from '../src/verifier/verifier.js'

export interface FloodResult {
  requests: number
  /** Requests per second, median over passes. */
  cachedPerSecond: number
  uncachedPerSecond: number
  /** Median over passes of cached / uncached within the pass. */
  ratio: number
  /** Verdicts the cached verifier stored in its last pass (admission keeps this small). */
  stored: number
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

export async function runFlood (quick: boolean): Promise<FloodResult> {
  const pki = await createTestPki({ algorithm: 'p-256' })
  const key = await generateKeyPair('p-256')
  const n = quick ? 1500 : 12_000
  const headers: string[] = []
  for (let i = 0; i < n; i++) {
    const leaf = await createCertificate({
      subject: `CN=flood ${i},O=Example Corp`,
      key,
      issuer: { certificate: pki.intermediate, key: pki.intermediate.key },
      extendedKeyUsage: ['clientAuth']
    })
    headers.push(toAlbHeader([leaf.pem, pki.intermediate.pem]))
  }
  const pass = (cache: boolean): { seconds: number, stored: number } => {
    const v = createVerifier({ roots: pki.root.pem, ...(cache ? {} : { cache: false }) })
    const start = process.hrtime.bigint()
    for (const h of headers) {
      if (!v.verifySync(h).ok) throw new Error('flood header did not validate')
    }
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    return { seconds, stored: v.stats().entries }
  }
  // Warm-up (JIT, issuer cache) on both.
  pass(true)
  pass(false)
  const ratios: number[] = []
  const cached: number[] = []
  const uncached: number[] = []
  let stored = 0
  for (let i = 0; i < (quick ? 2 : 5); i++) {
    const order = i % 2 === 0 ? [true, false] : [false, true]
    const got = new Map<boolean, number>()
    for (const c of order) {
      const r = pass(c)
      got.set(c, n / r.seconds)
      if (c) stored = r.stored
    }
    cached.push(got.get(true)!)
    uncached.push(got.get(false)!)
    ratios.push(got.get(true)! / got.get(false)!)
  }
  return { requests: n, cachedPerSecond: median(cached), uncachedPerSecond: median(uncached), ratio: median(ratios), stored }
}
