/**
 * path: builds and validates leaf -> intermediates -> configured root.
 *
 * The first header certificate is the leaf and must be the path's end. Issuers are looked up among
 * the other header certificates and the configured roots only; only a configured root ends a path.
 * The search is a depth-first walk whose cost is bounded by the work it does, not by the number of
 * candidates (RFC 4158 3.5 loop detection, rustls-webpki's Budget):
 * - a (subject name, public key) pair appears at most once on a path (RFC 4158 loop detection),
 *   whatever certificate carries it, so self-issued certificates sharing a key cannot be stacked;
 * - each (issuer key, child certificate) signature is checked at most once per validation: a
 *   second certificate with the same key reuses the first verdict;
 * - signature checks spend a work budget in units of one P-256 check (signature.ts
 *   verificationCost: a P-521 check costs 20; see workBudget), and every candidate examined
 *   spends one step;
 *   running out of either ends the search with reason `path-budget-exceeded`.
 * - before the walk, the candidates signed by a key known to lead to a configured root are found
 *   top-down (anchors first); the walk tries only those as issuers, so a client's made-up
 *   certificates never make it verify with keys the client chose;
 * The walk itself only finds a path; rules on a whole path (name constraints, revocation, policies)
 * run once a path is complete (`runRules`), and a path they refuse is backtracked from.
 */
import type { KeyObject } from 'node:crypto'
import { checkCommon, checkIssuer, checkLeaf, sameBytes, type CertificatePolicy, type Problem } from './checks.js'
import { checkNameConstraints } from './name-constraints.js'
import type { ParsedCertificate } from '../x509/parse.js'
import { checkSignature, keyIdentity, publicKeyOf, verificationCost, type AlgorithmPolicy } from './signature.js'

export interface PathPolicy extends CertificatePolicy, AlgorithmPolicy {
  maxChainDepth: number
}

export interface TrustAnchors {
  /** Roots by nameKey of their subject. */
  readonly bySubject: ReadonlyMap<string, readonly ParsedCertificate[]>
}

export type PathResult = { ok: true, path: ParsedCertificate[] } | { ok: false, problem: Problem }

/**
 * Signature work for one validation, in verificationCost units (one P-256 check = 1, P-384 = 8,
 * P-521 = 20): 16 per allowed certificate above the leaf, 80 at the default maxChainDepth of 4. That
 * is 80 P-256 or RSA-2048 checks, 10 P-384, 4 P-521: every P-384 path within maxChainDepth fits
 * with room for dead ends, a path signed by P-521 keys throughout fits with up to
 * maxChainDepth - 1 intermediates. The bound is what a crafted chain can cost (bench/hostile.ts):
 * about ten times a valid RSA-2048 leaf + intermediate.
 */
export function workBudget (maxChainDepth: number): number {
  return 16 * (maxChainDepth + 1)
}

/** Candidates examined for one validation (cheap steps: name, key and memo look-ups). */
export const STEP_BUDGET = 4096

/** Work one validation did (for tests and diagnostics): filled in when passed to buildPath. */
export interface PathStats {
  /** Signature checks run (each a distinct (issuer key, certificate) pair). */
  signatures: number
  /** verificationCost units spent. */
  work: number
  /** Candidates examined. */
  steps: number
}

/** Extension point for rules that look at a whole candidate path (name constraints, revocation). */
export type PathRule = (path: readonly ParsedCertificate[], now: number) => Problem | null

const UNTRUSTED: Problem = { reason: 'untrusted', message: 'no path to a configured root' }

/** Lower rank = more informative failure to report when no path validates. */
function rank (p: Problem): number {
  return p.reason === 'untrusted' ? 2 : p.reason === 'max-chain-depth-exceeded' ? 1 : 0
}

/**
 * Every rule on the client certificate on its own (structure, validity, extensions, leaf rules, key
 * policy): what passthrough checks before building a path, and what ALB verify mode checks on the
 * leaf it is sent (the load balancer validated the chain, not our structure rules).
 */
export function checkLeafCertificate (leaf: ParsedCertificate, now: number, policy: PathPolicy): Problem | null {
  return checkCommon(leaf, now, policy) ?? checkLeaf(leaf, policy) ?? keyProblem(leaf, policy)
}

export function buildPath (
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  anchors: TrustAnchors,
  policy: PathPolicy,
  now: number,
  pathRules: readonly PathRule[] = [],
  stats?: PathStats
): PathResult {
  const leafProblem = checkLeafCertificate(leaf, now, policy)
  if (leafProblem !== null) return { ok: false, problem: leafProblem }

  // Candidates from which a configured root can be reached by names alone (no crypto): a header
  // whose issuer names lead nowhere configured costs no signature check at all.
  const reachable = anchorReachable(intermediates, anchors)
  if (anchors.bySubject.get(leaf.issuerKey) === undefined && !intermediates.some((c) => reachable.has(c) && c.subjectKey === leaf.issuerKey)) {
    return { ok: false, problem: UNTRUSTED }
  }

  // Certificates from another CA before self-issued ones (key rollover is rare; a crafted header
  // sends many self-issued certificates to make the search try every order of them).
  const ordered = [...intermediates.filter((c) => !c.selfIssued), ...intermediates.filter((c) => c.selfIssued)]
  let work = workBudget(policy.maxChainDepth)
  let steps = STEP_BUDGET
  let exhausted = false
  let best: Problem = UNTRUSTED
  const note = (p: Problem): void => { if (rank(p) < rank(best)) best = p }
  const commonChecked = new Map<ParsedCertificate, Problem | null>()
  /** Signature verdicts by child, then by issuer key identity. */
  const signatures = new Map<ParsedCertificate, Map<string, Problem | null>>()
  const path: ParsedCertificate[] = [leaf]
  // Issuer (name, key) pairs on the path. The leaf's own key is not one: it signs nothing here, and
  // a leaf that shares its CA's key (odd, but seen in test PKIs) is not a loop.
  const keysOnPath = new Set<string>()

  /** The issuer's key, or the problem that rules it out (cheap checks first, the signature last). */
  const candidateProblem = (issuer: ParsedCertificate, child: ParsedCertificate, isAnchor: boolean): Problem | KeyObject => {
    // Non-self-issued intermediates between `issuer` and the leaf: path[1..].
    let below = 0
    for (let i = 1; i < path.length; i++) if (!path[i]!.selfIssued) below++
    let common = commonChecked.get(issuer)
    if (common === undefined) {
      common = checkCommon(issuer, now, policy)
      commonChecked.set(issuer, common)
    }
    if (common !== null) return common
    const structural = checkIssuer(issuer, below, isAnchor)
    if (structural !== null) return structural
    return publicKeyOf(issuer, policy)
  }

  /** null when `key` signed `child`; each pair is checked once, and each check spends work. */
  const signatureProblem = (child: ParsedCertificate, key: KeyObject, id: string): Problem | null | 'exhausted' => {
    let byKey = signatures.get(child)
    if (byKey === undefined) signatures.set(child, byKey = new Map())
    const known = byKey.get(id)
    if (known !== undefined) return known
    work -= verificationCost(key)
    if (work < 0) return 'exhausted'
    if (stats !== undefined) { stats.signatures++; stats.work += verificationCost(key) }
    const p = checkSignature(child, key, policy)
    byKey.set(id, p)
    return p
  }

  /** Tries `issuer` above the path's top: the complete path, null to go on, or 'stop'. */
  const tryIssuer = (issuer: ParsedCertificate, isAnchor: boolean): ParsedCertificate[] | null | 'stop' => {
    if (--steps < 0) { exhausted = true; return 'stop' }
    if (stats !== undefined) stats.steps++
    const child = path[path.length - 1]!
    const key = candidateProblem(issuer, child, isAnchor)
    if (!isKey(key)) { note(key); return null }
    const id = keyIdentity(key)
    // A (name, key) pair already on the path closes a loop (RFC 4158 2.4.2, 5.2), whatever
    // certificate carries it: self-issued copies of one CA cannot be stacked.
    const onPath = `${issuer.subjectKey}\n${id}`
    if (keysOnPath.has(onPath)) return null
    const sig = signatureProblem(child, key, id)
    if (sig === 'exhausted') { exhausted = true; return 'stop' }
    if (sig !== null) { note(sig); return null }
    if (isAnchor) {
      const p = runRules([...path, issuer])
      if (p === null) return [...path, issuer]
      note(p)
      return null
    }
    path.push(issuer)
    keysOnPath.add(onPath)
    const found = walk()
    path.pop()
    keysOnPath.delete(onPath)
    return found
  }

  const walk = (): ParsedCertificate[] | null | 'stop' => {
    const child = path[path.length - 1]!
    // Self-issued intermediates (key rollover) do not count towards the depth, as for pathLen.
    let intermediatesSoFar = 0
    for (let i = 1; i < path.length; i++) if (!path[i]!.selfIssued) intermediatesSoFar++
    for (const root of anchors.bySubject.get(child.issuerKey) ?? []) {
      if (path.includes(root) || !akiMatches(child, root)) continue
      const r = tryIssuer(root, true)
      if (r !== null) return r
    }
    for (const next of ordered) {
      if (next.subjectKey !== child.issuerKey || !vouched.has(next) || path.includes(next) || !akiMatches(child, next)) continue
      if (isAnchorCopy(next, anchors)) continue
      if (!next.selfIssued && intermediatesSoFar >= policy.maxChainDepth) {
        note({ reason: 'max-chain-depth-exceeded', message: `more than ${policy.maxChainDepth} intermediates` })
        continue
      }
      const r = tryIssuer(next, false)
      if (r !== null) return r
    }
    return null
  }

  const runRules = (candidate: readonly ParsedCertificate[]): Problem | null => {
    const nc = checkNameConstraints(candidate)
    if (nc !== null) return { reason: 'name-constraints', message: nc }
    for (const rule of pathRules) {
      const p = rule(candidate, now)
      if (p !== null) return p
    }
    return null
  }

  /**
   * Top-down first: the candidates signed by a key already known to lead to a configured root (an
   * anchor's, then theirs, ...), found with signature checks by those keys only. The walk then tries
   * nothing else as an issuer, so certificates a client made up can cost at most one check each by
   * a real CA key (whose algorithm the PKI chose), never a search through keys of their choosing.
   * Only candidates on a name chain from the leaf's issuer up to a root are looked at.
   */
  const vouched = new Set<ParsedCertificate>()
  // A header copy of a configured root is reached as the root itself: never checked here.
  const relevant = upwardFrom(leaf, intermediates, reachable).filter((c) => !isAnchorCopy(c, anchors))
  // Only the anchors a relevant candidate names as its issuer (a trust store may hold hundreds).
  let frontier = [...new Set(relevant.flatMap((c) => anchors.bySubject.get(c.issuerKey) ?? []))]
  while (frontier.length > 0 && !exhausted) {
    const next: ParsedCertificate[] = []
    for (const issuer of frontier) {
      for (const c of relevant) {
        if (vouched.has(c) || c.issuerKey !== issuer.subjectKey || !akiMatches(c, issuer)) continue
        if (--steps < 0) { exhausted = true; break }
        const key = publicKeyOf(issuer, policy)
        if (!isKey(key)) { note(key); continue }
        const sig = signatureProblem(c, key, keyIdentity(key))
        if (sig === 'exhausted') { exhausted = true; break }
        // A candidate a trusted key does not vouch for stays out of the walk; its failure is what
        // the verdict reports when nothing else validates (a forged intermediate: bad-signature).
        if (sig === null) { vouched.add(c); next.push(c) } else note(sig)
      }
      if (exhausted) break
    }
    frontier = next
  }

  const found = exhausted ? 'stop' : walk()
  if (found !== null && found !== 'stop') return { ok: true, path: found }
  if (exhausted) {
    return {
      ok: false,
      problem: {
        reason: 'path-budget-exceeded',
        message: `path building stopped: work budget spent without a valid path (${best === UNTRUSTED ? 'no failure found before' : `last failure: ${best.message}`})`
      }
    }
  }
  return { ok: false, problem: best }
}

/**
 * The intermediates whose issuer name is a configured root's subject or the subject of another such
 * intermediate: the only ones a path to a root can go through. A fixpoint over names, O(n^2) for
 * the handful of certificates a header holds (plus the configured intermediates).
 */
function anchorReachable (intermediates: readonly ParsedCertificate[], anchors: TrustAnchors): Set<ParsedCertificate> {
  const names = new Set<string>(anchors.bySubject.keys())
  const out = new Set<ParsedCertificate>()
  let grew = true
  while (grew) {
    grew = false
    for (const c of intermediates) {
      if (out.has(c) || !names.has(c.issuerKey)) continue
      out.add(c)
      names.add(c.subjectKey)
      grew = true
    }
  }
  return out
}

/**
 * The candidates on a name chain from the leaf's issuer upward (whose subject is the leaf's issuer
 * name, or the issuer name of another such candidate), among `reachable` (those with a name chain to
 * a root): configured intermediates of other branches of the PKI are never checked.
 */
function upwardFrom (leaf: ParsedCertificate, intermediates: readonly ParsedCertificate[], reachable: ReadonlySet<ParsedCertificate>): ParsedCertificate[] {
  const names = new Set<string>([leaf.issuerKey])
  const out = new Set<ParsedCertificate>()
  let grew = true
  while (grew) {
    grew = false
    for (const c of intermediates) {
      if (out.has(c) || !reachable.has(c) || !names.has(c.subjectKey)) continue
      out.add(c)
      names.add(c.issuerKey)
      grew = true
    }
  }
  return [...out]
}

function isKey (k: KeyObject | Problem): k is KeyObject {
  return !('reason' in k)
}

function keyProblem (cert: ParsedCertificate, policy: AlgorithmPolicy): Problem | null {
  const key = publicKeyOf(cert, policy)
  return isKey(key) ? null : key
}

/** When both identifiers are present they must agree (RFC 5280 4.2.1.1); otherwise names decide. */
function akiMatches (child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const aki = child.authorityKeyIdentifier
  const ski = issuer.subjectKeyIdentifier
  return aki === null || ski === null || sameBytes(aki, ski)
}

/** A header copy of a configured root is the root itself: it is reached through the anchors. */
function isAnchorCopy (cert: ParsedCertificate, anchors: TrustAnchors): boolean {
  for (const root of anchors.bySubject.get(cert.subjectKey) ?? []) {
    if (sameBytes(root.der, cert.der)) return true
  }
  return false
}
