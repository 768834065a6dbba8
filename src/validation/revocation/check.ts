/**
 * check: certificate revocation status per RFC 5280 6.3, for every certificate of a path but the
 * trust anchor.
 *
 * For each certificate, each of its distribution points (or, without cRLDistributionPoints, one
 * point standing for "the issuer's CRLs, all reasons") is matched against the complete CRLs held
 * (6.3.3 (b)): CRL issuer (the certificate's issuer, or the point's cRLIssuer with an indirect CRL),
 * issuingDistributionPoint names and only* flags, and reasons (onlySomeReasons, 6.3.3 (c)-(d)). A
 * matching CRL must be current (a), signed by a key whose certificate chains to the path's trust
 * anchor with cRLSign and is not revoked itself (f)-(g), and is combined with a delta CRL of the same
 * scope when one is held (h)-(i). The status is "revoked" as soon as a usable CRL lists the
 * certificate (certificateHold included; removeFromCRL on a delta lifts a listing), "good" once the
 * usable CRLs cover every reason, else undetermined.
 *
 * Undetermined is refused as `crl-unusable` whenever a configured CRL names the certificate's issuer
 * (by name, by its key identifier, or as a cRLIssuer of its distribution points): such a CRL is
 * never silently ignored. When no CRL concerns it, `onMissing: 'allow'` (default, ALB's meaning)
 * lets it pass and `'reject'` refuses it as `revocation-unknown`.
 *
 * Cost: CRL lookups are map lookups; signature checks are cached per (CRL, signer) and bounded per
 * call (SIGNATURE_BUDGET); CRL-signer paths are at most MAX_SIGNER_DEPTH deep and nest at most
 * MAX_NESTING times (the signer of the signer's CRL ...).
 */
import type { KeyObject } from 'node:crypto'
import { checkCommon, checkIssuer, sameBytes, type CertificatePolicy, type Problem } from '../checks.js'
import { KeyUsage, type ParsedCertificate } from '../../x509/parse.js'
import { checkSignature, publicKeyOf, type AlgorithmPolicy } from '../signature.js'
import { InvalidOptionError } from '../../errors.js'
import { crlName, crlUsableAt, findEntry, keyIdentifiersAgree, REASON_NAMES, type ParsedCrl } from './crl.js'
import { checkNameConstraints } from '../name-constraints.js'
import { ALL_REASONS, distributionPointsOf, intersects, type DistributionPoint } from './scope.js'

/** Signature verifications (certificates and CRLs, not cached) one validation may spend on revocation. */
const SIGNATURE_BUDGET = 64
/** Certificates between a CRL signer and the trust anchor. */
const MAX_SIGNER_DEPTH = 6
/** A CRL signer's status needs a CRL whose signer's status needs a CRL ...: at most this deep. */
const MAX_NESTING = 3

export interface Revocation {
  /**
   * Path rule: null when no certificate on the path is revoked and the status of each is known (or,
   * under onMissing 'allow', no CRL concerns it). `offered`: further certificates (the request's
   * chain) that may sign CRLs or link a CRL signer to the anchor.
   */
  check (path: readonly ParsedCertificate[], now: number, offered?: readonly ParsedCertificate[], budget?: RevocationBudget): Problem | null
  /**
   * Until when a verdict on `path` stands as far as revocation goes: the earliest nextUpdate of the
   * CRLs that concern it or that its last successful `check` relied on (CRL signers' CRLs included):
   * a newer CRL may list it, or a stale one refuses it. Infinity when no CRL applies, or when stale
   * CRLs keep applying (`onExpired: 'ignore'`).
   */
  validUntil (path: readonly ParsedCertificate[]): number
}

/** Signature checks left for one validation; share one object across the candidate paths of a request. */
export interface RevocationBudget { remaining: number }

/** A fresh budget for one validation. */
export function revocationBudget (): RevocationBudget {
  return { remaining: SIGNATURE_BUDGET }
}

export interface RevocationOptions {
  onExpired?: 'reject' | 'ignore'
  onMissing?: 'allow' | 'reject'
  /** Certificates that came with the CRLs (separate CRL signers, rolled-over keys). */
  certificates?: readonly ParsedCertificate[]
  /**
   * The configured trust anchors. A CRL that a configured CA signed, and whose signer chains only to
   * other anchors, belongs to another hierarchy: it does not concern a path ending at this anchor,
   * however alike the names (a CA rotated to a new key under the same names, both in the bundle).
   */
  anchors?: readonly ParsedCertificate[]
}

type Status = { kind: 'good' } | { kind: 'revoked', message: string } | { kind: 'unknown', concerned: boolean, message: string }

/** Why `signer` cannot vouch for `crl` (keyUsage without cRLSign, bad signature), or null. */
export function crlIssuerProblem (crl: ParsedCrl, signer: ParsedCertificate, policy: AlgorithmPolicy): string | null {
  if (signer.keyUsage !== null && (signer.keyUsage & KeyUsage.cRLSign) === 0) return `CRL issuer ${signer.serialNumber} lacks keyUsage cRLSign`
  const key = publicKeyOf(signer, policy)
  if ('reason' in key) return `CRL issuer key: ${key.message}`
  const bad = checkSignature(crl, key, policy)
  return bad === null ? null : `${crlName(crl)}: ${bad.message}`
}

function isCa (cert: ParsedCertificate): boolean {
  return cert.basicConstraints?.ca === true
}

function crlLabel (crl: ParsedCrl): string {
  return `${crlName(crl)}${crl.deltaBase !== null ? ' (delta)' : ''}`
}

/**
 * Indexes CRLs by issuer name. A CRL naming a configured CA (root or intermediate) and its key
 * identifier is verified at load time (InvalidOptionError when that CA did not sign it); the others
 * are verified on first use, once per (CRL, signer) pair.
 */
export function createRevocation (
  crls: readonly ParsedCrl[],
  cas: readonly ParsedCertificate[],
  policy: AlgorithmPolicy & CertificatePolicy,
  options: RevocationOptions = {}
): Revocation {
  const ignoreExpired = options.onExpired === 'ignore'
  const rejectMissing = options.onMissing === 'reject'
  const complete = new Map<string, ParsedCrl[]>()
  const deltas = new Map<string, ParsedCrl[]>()
  const byKeyId = new Map<string, ParsedCrl[]>()
  for (const crl of crls) {
    const index = crl.deltaBase === null ? complete : deltas
    index.set(crl.issuerKey, [...(index.get(crl.issuerKey) ?? []), crl])
    if (crl.authorityKeyIdentifier !== null) {
      const id = Buffer.from(crl.authorityKeyIdentifier).toString('hex')
      byKeyId.set(id, [...(byKeyId.get(id) ?? []), crl])
    }
  }
  const staticPool = [...cas, ...(options.certificates ?? [])]
  const anyIndirect = crls.some((crl) => crl.idp?.indirectCRL === true)

  const reliedUntil = new WeakMap<ParsedCertificate, number>()
  const signatures = new WeakMap<ParsedCertificate, Map<ParsedCrl, string | null>>()
  const certSignatures = new WeakMap<ParsedCertificate, Map<ParsedCertificate, string | null>>()

  // A CRL that names a configured CA and that CA's key (authorityKeyIdentifier = its
  // subjectKeyIdentifier) but that the CA did not sign is a configuration error. CRLs without that
  // link (a separate CRL signer, a rolled-over key) are verified when a path needs them.
  for (const crl of crls) {
    const issuers = cas.filter((ca) => ca.subjectKey === crl.issuerKey &&
      crl.authorityKeyIdentifier !== null && ca.subjectKeyIdentifier !== null && sameBytes(crl.authorityKeyIdentifier, ca.subjectKeyIdentifier))
    if (issuers.length === 0) continue
    const problems = issuers.map((ca) => crlIssuerProblem(crl, ca, policy))
    if (!problems.includes(null)) throw new InvalidOptionError(`crls: ${crlName(crl)} of a configured CA does not verify: ${problems[0]!}`)
  }

  // The anchors each load-verified CRL's signers chain to (RFC 5280 6.3.3 (f): a CRL counts for a
  // path only when its signer chains to that path's anchor). Names, key identifiers and signatures
  // only, not time: this says which hierarchy a CRL belongs to, not whether it is usable now.
  const anchors = options.anchors ?? []
  const hierarchyOf = new Map<ParsedCrl, Set<ParsedCertificate>>()
  const anchorsAbove = (cert: ParsedCertificate, seen: ParsedCertificate[], found: Set<ParsedCertificate>): void => {
    if (anchors.includes(cert)) found.add(cert)
    if (seen.length > MAX_SIGNER_DEPTH) return
    for (const issuer of staticPool) {
      if (issuer.subjectKey !== cert.issuerKey || seen.includes(issuer) || issuer === cert) continue
      if (cert.authorityKeyIdentifier !== null && issuer.subjectKeyIdentifier !== null && !sameBytes(cert.authorityKeyIdentifier, issuer.subjectKeyIdentifier)) continue
      const key = publicKeyOf(issuer, policy)
      if ('reason' in key || checkSignature(cert, key, policy) !== null) continue
      anchorsAbove(issuer, [...seen, issuer], found)
    }
  }
  if (anchors.length > 1) {
    for (const crl of crls) {
      const found = new Set<ParsedCertificate>()
      for (const owner of cas) {
        if (owner.subjectKey !== crl.issuerKey || !keyIdentifiersAgree(crl, owner) || crlIssuerProblem(crl, owner, policy) !== null) continue
        anchorsAbove(owner, [owner], found)
      }
      if (found.size > 0) hierarchyOf.set(crl, found)
    }
  }
  /** A CRL verified at load under other anchors only: not this path's CRL. */
  const foreign = (crl: ParsedCrl, anchor: ParsedCertificate): boolean => {
    const hierarchy = hierarchyOf.get(crl)
    return hierarchy !== undefined && !hierarchy.has(anchor) && ![...hierarchy].some((a) => sameBytes(a.spki, anchor.spki))
  }

  const timeProblem = (crl: ParsedCrl, now: number): string | null => {
    const time = crlUsableAt(crl, now)
    // crlPolicy.onExpired 'ignore': a CRL past nextUpdate still applies (its revocations stand).
    return time === null || (time.reason === 'stale' && ignoreExpired) ? null : time.message
  }

  /** One `check` call: its budget, the certificates it may use, the statuses in progress. */
  interface Run {
    now: number
    /** Earliest nextUpdate of the CRLs relied on (signers' CRLs included). */
    until: number
    budget: RevocationBudget
    pool: readonly ParsedCertificate[]
    anchor: ParsedCertificate
    inProgress: Set<ParsedCertificate>
    nesting: number
  }

  const spend = (run: Run): boolean => --run.budget.remaining >= 0

  const crlSignedBy = (run: Run, crl: ParsedCrl, signer: ParsedCertificate): string | null => {
    let perSigner = signatures.get(signer)
    if (perSigner === undefined) signatures.set(signer, perSigner = new Map())
    let result = perSigner.get(crl)
    if (result === undefined) {
      if (!spend(run)) return 'revocation work limit reached'
      result = crlIssuerProblem(crl, signer, policy)
      perSigner.set(crl, result)
    }
    return result
  }

  const certSignedBy = (run: Run, cert: ParsedCertificate, issuer: ParsedCertificate): string | null => {
    let perIssuer = certSignatures.get(issuer)
    if (perIssuer === undefined) certSignatures.set(issuer, perIssuer = new Map())
    let result = perIssuer.get(cert)
    if (result === undefined) {
      if (!spend(run)) return 'revocation work limit reached'
      const key: KeyObject | Problem = publicKeyOf(issuer, policy)
      result = 'reason' in key ? key.message : checkSignature(cert, key, policy)?.message ?? null
      perIssuer.set(cert, result)
    }
    return result
  }

  /**
   * A path from `cert` (a CRL signer, or a CA above it) up to the run's trust anchor, RFC 5280 6.3.3
   * (f): certificates from the pool, signatures, validity, CA rules for the issuers.
   */
  const chainToAnchor = (run: Run, chain: ParsedCertificate[]): ParsedCertificate[] | string => {
    const child = chain[chain.length - 1]!
    if (child === run.anchor) return chain
    if (chain.length > MAX_SIGNER_DEPTH) return 'CRL signer path too long'
    let why = 'no path from CRL signer to the trust anchor'
    const below = chain.slice(1).filter((c) => !c.selfIssued).length
    for (const issuer of [run.anchor, ...run.pool]) {
      if (issuer.subjectKey !== child.issuerKey || chain.includes(issuer)) continue
      if (child.authorityKeyIdentifier !== null && issuer.subjectKeyIdentifier !== null && !sameBytes(child.authorityKeyIdentifier, issuer.subjectKeyIdentifier)) continue
      const isAnchor = issuer === run.anchor
      const structural = (isAnchor ? null : checkCommon(issuer, run.now, policy)) ?? checkIssuer(issuer, below, isAnchor)
      if (structural !== null) { why = structural.message; continue }
      const bad = certSignedBy(run, child, issuer)
      if (bad !== null) { why = bad; continue }
      const found = chainToAnchor(run, [...chain, issuer])
      if (typeof found !== 'string') return found
      why = found
    }
    return why
  }

  /**
   * 6.3.3 (f)-(g): a certificate of the CRL's issuer whose key signed it, with cRLSign, on a valid path
   * to the same anchor, not revoked. `above`: the path certificates above the one being checked,
   * whose paths and statuses the path validation itself establishes.
   */
  const signerOf = (run: Run, crl: ParsedCrl, above: readonly ParsedCertificate[]): string | null => {
    let why = `no certificate of ${crlLabel(crl)}'s issuer with a key that signed it`
    const candidates = [...above, ...run.pool.filter((c) => !above.includes(c))]
    for (const signer of candidates) {
      if (signer.subjectKey !== crl.issuerKey || !keyIdentifiersAgree(crl, signer)) continue
      // On the path being validated, or the signer whose status is being determined here, covered by
      // a CRL it signs itself (PKITS 4.14.30): the caller validates its path; trusting its CRL trusts
      // nothing new.
      if (above.includes(signer) || run.inProgress.has(signer)) {
        const bad = crlSignedBy(run, crl, signer)
        if (bad !== null) { why = bad; continue }
        return null
      }
      // Anyone else (a certificate from the client's header, say) shows its own path first: that
      // costs signature checks over certificates, whereas checking the CRL's signature hashes the
      // whole CRL (50 MB allowed), which made-up candidates would otherwise buy for free.
      const common = signer === run.anchor ? null : checkCommon(signer, run.now, policy)
      if (common !== null) { why = `CRL signer ${signer.serialNumber}: ${common.message}`; continue }
      const chain = chainToAnchor(run, [signer])
      if (typeof chain === 'string') { why = `CRL signer ${signer.serialNumber}: ${chain}`; continue }
      // The signer's path is validated as 6.1 would (6.3.3 (f)), so the name constraints of the CAs
      // on it apply to the signer (bounded like any path's: COMPARISON_BUDGET).
      const outside = checkNameConstraints(chain)
      if (outside !== null) { why = `CRL signer ${signer.serialNumber}: ${outside}`; continue }
      const bad = crlSignedBy(run, crl, signer)
      if (bad !== null) { why = bad; continue }
      // The signer's own status, and that of the CAs linking it to the anchor (not on the main path).
      const statusProblem = chainStatus(run, chain, above)
      if (statusProblem !== null) { why = `CRL signer ${signer.serialNumber}: ${statusProblem}`; continue }
      return null
    }
    return why
  }

  const chainStatus = (run: Run, chain: readonly ParsedCertificate[], known: readonly ParsedCertificate[]): string | null => {
    if (run.nesting >= MAX_NESTING) return 'CRL signers nest too deep'
    run.nesting++
    try {
      for (let i = 0; i + 1 < chain.length; i++) {
        const cert = chain[i]!
        if (known.includes(cert)) continue
        if (run.inProgress.has(cert)) return `status of ${cert.serialNumber} depends on itself`
        const status = statusOf(run, cert, chain.slice(i + 1))
        if (status.kind === 'revoked') return status.message
        if (status.kind === 'unknown' && (status.concerned || rejectMissing)) return status.message
      }
      return null
    } finally {
      run.nesting--
    }
  }

  /** A delta CRL and a complete CRL of one scope: the same issuingDistributionPoint, or none (6.3.3 (c)). */
  const sameScope = (delta: ParsedCrl, base: ParsedCrl): boolean =>
    delta.idp === null ? base.idp === null : base.idp !== null && sameBytes(delta.idp.der, base.idp.der)

  /** A delta CRL for `base` (6.3.3 (h)): same issuer and scope, base at least as new as its BaseCRLNumber. */
  const deltaFor = (run: Run, base: ParsedCrl, above: readonly ParsedCertificate[]): ParsedCrl | string | null => {
    let best: ParsedCrl | null = null
    let why: string | null = null
    let needsNewerBase: ParsedCrl | null = null
    for (const delta of deltas.get(base.issuerKey) ?? []) {
      if (foreign(delta, run.anchor)) continue
      // A delta no newer than the complete CRL is superseded by it.
      if (!sameScope(delta, base) || delta.crlNumberValue <= base.crlNumberValue) continue
      if (delta.deltaBase! > base.crlNumberValue) { needsNewerBase = delta; continue }
      const bad = timeProblem(delta, run.now) ?? signerOf(run, delta, above)
      if (bad !== null) { why = `${crlLabel(delta)}: ${bad}`; continue }
      if (best === null || delta.crlNumberValue > best.crlNumberValue) best = delta
    }
    // A matching delta that cannot be used makes the pair unusable: its revocations would be lost.
    if (why !== null) return why
    // A newer delta whose base is not held: the complete CRL held is out of date, say so.
    if (best === null && needsNewerBase !== null) return `${crlLabel(needsNewerBase)} applies to base CRL ${needsNewerBase.deltaBase!.toString(16)} or newer, but the complete CRL held is ${base.crlNumber ?? 'unnumbered'}`
    return best
  }

  /** Why `crl`, issued under `key`, does not cover `cert` at distribution point `dp` (6.3.3 (b)), or null. */
  const scopeProblem = (crl: ParsedCrl, dp: DistributionPoint, cert: ParsedCertificate, key: string): string | null => {
    // (b)(1): an indirect CRL for a cRLIssuer; the certificate's issuer otherwise.
    if (dp.crlIssuers !== null && key !== cert.issuerKey && crl.idp?.indirectCRL !== true) return `${crlLabel(crl)} of the cRLIssuer is not an indirect CRL`
    const idp = crl.idp
    if (idp === null) return null
    // (b)(2)(i): the distribution point names.
    if (idp.names !== null) {
      const theirs = dp.names ?? dp.crlIssuers?.keys ?? null
      if (theirs === null || !intersects(idp.names, theirs)) return `${crlLabel(crl)} covers another distribution point`
    }
    // (b)(2)(ii)-(iv)
    if (idp.onlyContainsUserCerts && isCa(cert)) return `${crlLabel(crl)} covers only end-entity certificates`
    if (idp.onlyContainsCACerts && !isCa(cert)) return `${crlLabel(crl)} covers only CA certificates`
    if (idp.onlyContainsAttributeCerts) return `${crlLabel(crl)} covers only attribute certificates`
    return null
  }

  const statusOf = (run: Run, cert: ParsedCertificate, above: readonly ParsedCertificate[]): Status => {
    const issuer = above[0]
    const listed = distributionPointsOf(cert)
    if (typeof listed === 'string') {
      // Unreadable distribution points: the scope cannot be decided. Refused when CRLs concern the issuer.
      const concerned = (complete.get(cert.issuerKey)?.length ?? 0) > 0 || (deltas.get(cert.issuerKey)?.length ?? 0) > 0
      return { kind: 'unknown', concerned, message: `revocation of certificate ${cert.serialNumber} cannot be checked: ${listed}` }
    }
    // No cRLDistributionPoints: the issuer's own CRLs for all reasons (RFC 5280 6.3.3, first paragraph).
    const points: readonly DistributionPoint[] = listed ?? [{ names: null, reasons: null, crlIssuers: null }]
    run.inProgress.add(cert)
    try {
      let mask = 0
      const problems: string[] = []
      let concerned = false
      for (const dp of points) {
        const issuerKeys = dp.crlIssuers === null ? [cert.issuerKey] : dp.crlIssuers.dirKeys
        for (const key of issuerKeys) {
          // Unlike the letter of 6.3.3 (which stops once every reason is covered), every CRL in scope
          // is looked at: with an old and a new CRL of one issuer both held, the new one's listing wins.
          for (const crl of complete.get(key) ?? []) {
            if (foreign(crl, run.anchor)) continue
            concerned = true
            const outside = scopeProblem(crl, dp, cert, key)
            if (outside !== null) { problems.push(outside); continue }
            // (c)-(d): the reasons this CRL can add.
            const interim = (crl.idp?.onlySomeReasons ?? ALL_REASONS) & (dp.reasons ?? ALL_REASONS) & ALL_REASONS
            if (interim === 0) continue
            const bad = timeProblem(crl, run.now) ?? signerOf(run, crl, above)
            if (bad !== null) { problems.push(`${crlLabel(crl)}: ${bad}`); continue }
            const delta = deltaFor(run, crl, above)
            if (typeof delta === 'string') { problems.push(delta); continue }
            run.until = Math.min(run.until, crl.nextUpdate, delta?.nextUpdate ?? Number.POSITIVE_INFINITY)
            // (i)-(k): the delta's entry wins (removeFromCRL lifts a listing), then the complete CRL's.
            const inDelta = delta === null ? undefined : findEntry(delta, cert.issuerKey, cert.serialBytes)
            const entry = inDelta ?? findEntry(crl, cert.issuerKey, cert.serialBytes)
            if (entry !== undefined && entry.reason !== 8) {
              const from = inDelta !== undefined ? delta! : crl
              return { kind: 'revoked', message: `certificate ${cert.serialNumber} is revoked by ${crlLabel(from)} (${REASON_NAMES[entry.reason ?? 0]!})` }
            }
            mask |= interim
          }
        }
      }
      // A delta CRL that covers the certificate but shares its scope with no complete CRL held:
      // never silently ignored, its listings would be lost. (One whose complete CRL is held but
      // unusable follows that CRL.)
      const orphans = new Set<ParsedCrl>()
      for (const dp of points) {
        for (const key of dp.crlIssuers === null ? [cert.issuerKey] : dp.crlIssuers.dirKeys) {
          for (const delta of deltas.get(key) ?? []) {
            if (orphans.has(delta) || foreign(delta, run.anchor) || scopeProblem(delta, dp, cert, key) !== null) continue
            if ((complete.get(key) ?? []).some((base) => !foreign(base, run.anchor) && sameScope(delta, base))) continue
            if (((delta.idp?.onlySomeReasons ?? ALL_REASONS) & (dp.reasons ?? ALL_REASONS) & ALL_REASONS) === 0) continue
            orphans.add(delta)
            concerned = true
            problems.push(`${crlLabel(delta)} covers it, but no complete CRL of the same scope is held`)
          }
        }
      }
      if (mask === ALL_REASONS && orphans.size === 0) return { kind: 'good' }
      if (!concerned && (deltas.get(cert.issuerKey) ?? []).some((delta) => !foreign(delta, run.anchor))) {
        // RFC 5280 5.2.4: a delta CRL is only usable with its complete CRL (PKITS 4.15.1).
        concerned = true
        problems.push('a delta CRL is held but no complete CRL it applies to')
      }
      if (!concerned && anyIndirect && points.some((dp) => dp.crlIssuers !== null)) {
        // The certificate delegates its revocation to a cRLIssuer and indirect CRLs are configured:
        // a missing CRL for that issuer is a gap, not "no CRL wanted" (PKITS 4.14.26).
        concerned = true
        problems.push('no CRL of the cRLIssuer its distribution point names')
      }
      if (!concerned && issuer !== undefined) {
        // A CRL signed with the issuer's key but under another name still concerns the certificate.
        const ski = issuer.subjectKeyIdentifier
        if (ski !== null && (byKeyId.get(Buffer.from(ski).toString('hex'))?.length ?? 0) > 0) {
          concerned = true
          problems.push('a CRL signed with the issuer\'s key names another issuer')
        }
      }
      // At most three reasons in the message: a CA may publish hundreds of partitions.
      const listedProblems = problems.length > 3 ? [...problems.slice(0, 3), `and ${problems.length - 3} more`] : problems
      const detail = problems.length > 0 ? listedProblems.join('; ') : mask === 0 ? 'no CRL for its issuer' : 'the CRLs held do not cover every revocation reason'
      return { kind: 'unknown', concerned: concerned || mask !== 0, message: `revocation of certificate ${cert.serialNumber} cannot be checked: ${detail}` }
    } finally {
      run.inProgress.delete(cert)
    }
  }

  return {
    check (path, now, offered = [], budget = revocationBudget()) {
      const anchor = path[path.length - 1]
      if (anchor === undefined || path.length < 2 || (crls.length === 0 && !rejectMissing)) return null
      const run: Run = { now, until: Number.POSITIVE_INFINITY, budget, pool: [...offered, ...staticPool.filter((c) => !offered.includes(c))], anchor, inProgress: new Set(), nesting: 0 }
      for (let i = 0; i + 1 < path.length; i++) {
        const status = statusOf(run, path[i]!, path.slice(i + 1))
        if (status.kind === 'revoked') return { reason: 'revoked', message: status.message }
        if (status.kind === 'unknown') {
          if (status.concerned) return { reason: 'crl-unusable', message: status.message }
          if (rejectMissing) return { reason: 'revocation-unknown', message: status.message }
        }
      }
      // The leaf is parsed anew for each request: the path that passed last is the one validUntil gets.
      reliedUntil.set(path[0]!, run.until)
      return null
    },
    validUntil (path) {
      let until = Number.POSITIVE_INFINITY
      if (ignoreExpired) return until
      until = Math.min(until, path[0] === undefined ? until : reliedUntil.get(path[0]) ?? until)
      for (const cert of path.slice(0, -1)) {
        const dps = distributionPointsOf(cert)
        const keys = [cert.issuerKey, ...(Array.isArray(dps) ? dps.flatMap((dp) => dp.crlIssuers?.dirKeys ?? []) : [])]
        for (const key of keys) {
          for (const crl of [...(complete.get(key) ?? []), ...(deltas.get(key) ?? [])]) until = Math.min(until, crl.nextUpdate)
        }
      }
      return until
    }
  }
}
