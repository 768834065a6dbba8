/**
 * path: builds and validates leaf -> intermediates -> configured root.
 *
 * The first header certificate is the leaf and must be the path's end. Issuers are looked up among
 * the other header certificates and the configured roots only; only a configured root ends a path.
 * The search is a depth-first walk with no certificate twice on a path, a depth bound and a budget of
 * issuer checks, so cycles and crafted candidate explosions end quickly with a verdict.
 */
import type { KeyObject } from 'node:crypto'
import { checkCommon, checkIssuer, checkLeaf, sameBytes, type CertificatePolicy, type Problem } from './checks.js'
import { checkNameConstraints } from './name-constraints.js'
import type { ParsedCertificate } from '../x509/parse.js'
import { checkSignature, publicKeyOf, type AlgorithmPolicy } from './signature.js'

export interface PathPolicy extends CertificatePolicy, AlgorithmPolicy {
  maxChainDepth: number
}

export interface TrustAnchors {
  /** Roots by nameKey of their subject. */
  readonly bySubject: ReadonlyMap<string, readonly ParsedCertificate[]>
}

export type PathResult = { ok: true, path: ParsedCertificate[] } | { ok: false, problem: Problem }

/** Most issuer candidates examined for one validation (each costs at most one signature check). */
const CANDIDATE_BUDGET = 64

/** Extension point for rules that look at a whole candidate path (name constraints, revocation). */
export type PathRule = (path: readonly ParsedCertificate[], now: number) => Problem | null

const UNTRUSTED: Problem = { reason: 'untrusted', message: 'no path to a configured root' }

/** Lower rank = more informative failure to report when no path validates. */
function rank (p: Problem): number {
  return p.reason === 'untrusted' ? 2 : p.reason === 'max-chain-depth-exceeded' ? 1 : 0
}

export function buildPath (
  leaf: ParsedCertificate,
  intermediates: readonly ParsedCertificate[],
  anchors: TrustAnchors,
  policy: PathPolicy,
  now: number,
  pathRules: readonly PathRule[] = []
): PathResult {
  const leafProblem = checkCommon(leaf, now, policy) ?? checkLeaf(leaf, policy) ?? keyProblem(leaf, policy)
  if (leafProblem !== null) return { ok: false, problem: leafProblem }

  let budget = CANDIDATE_BUDGET
  let best: Problem = UNTRUSTED
  const note = (p: Problem): void => { if (rank(p) < rank(best)) best = p }
  const commonChecked = new Map<ParsedCertificate, Problem | null>()
  const path: ParsedCertificate[] = [leaf]

  const candidateProblem = (issuer: ParsedCertificate, child: ParsedCertificate, isAnchor: boolean): Problem | null => {
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
    const key = publicKeyOf(issuer, policy)
    if (!isKey(key)) return key
    return checkSignature(child, key, policy)
  }

  const walk = (): ParsedCertificate[] | null => {
    const child = path[path.length - 1]!
    // Self-issued intermediates (key rollover) do not count towards the depth, as for pathLen.
    let intermediatesSoFar = 0
    for (let i = 1; i < path.length; i++) if (!path[i]!.selfIssued) intermediatesSoFar++
    for (const root of anchors.bySubject.get(child.issuerKey) ?? []) {
      if (path.includes(root) || !akiMatches(child, root)) continue
      if (--budget < 0) return null
      const p = candidateProblem(root, child, true) ?? runRules([...path, root])
      if (p === null) return [...path, root]
      note(p)
    }
    for (const next of intermediates) {
      if (next.subjectKey !== child.issuerKey || path.includes(next) || !akiMatches(child, next)) continue
      if (isAnchorCopy(next, anchors)) continue
      if (!next.selfIssued && intermediatesSoFar >= policy.maxChainDepth) {
        note({ reason: 'max-chain-depth-exceeded', message: `more than ${policy.maxChainDepth} intermediates` })
        continue
      }
      if (--budget < 0) return null
      const p = candidateProblem(next, child, false)
      if (p !== null) { note(p); continue }
      path.push(next)
      const found = walk()
      if (found !== null) return found
      path.pop()
      if (budget < 0) return null
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

  const found = walk()
  if (found !== null) return { ok: true, path: found }
  if (budget < 0 && best === UNTRUSTED) return { ok: false, problem: { reason: 'untrusted', message: 'path building limit reached without a valid path' } }
  return { ok: false, problem: best }
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
