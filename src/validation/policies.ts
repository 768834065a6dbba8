/**
 * policies: certificate policy processing, RFC 5280 6.1 (valid_policy_tree, policy mappings,
 * requireExplicitPolicy, inhibitPolicyMapping, inhibitAnyPolicy, anyPolicy; qualifiers ignored).
 *
 * Runs on a candidate path once path building has one (a PathRule), so a path that fails the policy
 * rules lets the search try another. The tree is the RFC's own, with one cost bound: every node and
 * every expected-policy entry costs one unit of a fixed budget, and a path that needs more is refused
 * with reason `policy-limit-exceeded` (crafted mappings can make the tree grow exponentially with
 * depth; see CVE-2023-0464). Work per certificate is proportional to the budget spent.
 */
import { OID, type ParsedCertificate } from '../x509/parse.js'
import { ANY_POLICY, policyExtensions, type CertificatePolicyExtensions } from '../x509/policies.js'
import { InvalidOptionError, refuseUnknownSettings } from '../errors.js'
import type { CertificatePolicyOptions } from '../types.js'
import type { Problem } from './checks.js'
import type { PathRule } from './path.js'

export { ANY_POLICY }

/** Tree nodes plus expected-policy entries one path may create before it is refused. */
export const POLICY_TREE_BUDGET = 10_000

/** Resolved `policies` option: the RFC 5280 6.1.1 (c)-(f) inputs. */
export interface PolicySettings {
  /** user-initial-policy-set; `[ANY_POLICY]` means any-policy. */
  readonly initialPolicySet: readonly string[]
  readonly requireExplicitPolicy: boolean
  readonly inhibitPolicyMapping: boolean
  readonly inhibitAnyPolicy: boolean
}

export const DEFAULT_POLICY_SETTINGS: PolicySettings = Object.freeze({
  initialPolicySet: Object.freeze([ANY_POLICY]),
  requireExplicitPolicy: false,
  inhibitPolicyMapping: false,
  inhibitAnyPolicy: false
})

const OID_TEXT = /^[0-2](\.(0|[1-9]\d{0,17}))+$/

/** Validates the `policies` option; throws FST_MTLS_INVALID_OPTION on anything that cannot work. */
export function resolvePolicyOptions (value: CertificatePolicyOptions | undefined): PolicySettings {
  if (value === undefined) return DEFAULT_POLICY_SETTINGS
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidOptionError('policies must be an object { initialPolicySet?, requireExplicitPolicy?, inhibitPolicyMapping?, inhibitAnyPolicy? }')
  }
  refuseUnknownSettings(value, ['initialPolicySet', 'requireExplicitPolicy', 'inhibitPolicyMapping', 'inhibitAnyPolicy'], 'policies')
  const flag = (name: 'requireExplicitPolicy' | 'inhibitPolicyMapping' | 'inhibitAnyPolicy'): boolean => {
    const v = value[name]
    if (v !== undefined && typeof v !== 'boolean') throw new InvalidOptionError(`policies.${name} must be a boolean`)
    return v === true
  }
  let initialPolicySet: readonly string[] = DEFAULT_POLICY_SETTINGS.initialPolicySet
  if (value.initialPolicySet !== undefined) {
    const set = value.initialPolicySet
    if (!Array.isArray(set) || set.length === 0 || set.length > 256) {
      throw new InvalidOptionError('policies.initialPolicySet must be a non-empty array of dotted policy OIDs')
    }
    for (const oid of set as unknown[]) {
      if (typeof oid !== 'string' || !OID_TEXT.test(oid)) throw new InvalidOptionError(`policies.initialPolicySet: ${JSON.stringify(oid)} is not a dotted OID`)
    }
    // anyPolicy among others means any-policy: the others add nothing (RFC 5280 6.1.1 (c)).
    initialPolicySet = (set as string[]).includes(ANY_POLICY) ? DEFAULT_POLICY_SETTINGS.initialPolicySet : Object.freeze([...new Set(set as string[])])
  }
  return Object.freeze({
    initialPolicySet,
    requireExplicitPolicy: flag('requireExplicitPolicy'),
    inhibitPolicyMapping: flag('inhibitPolicyMapping'),
    inhibitAnyPolicy: flag('inhibitAnyPolicy')
  })
}

export type PolicyOutcome = { ok: true, policies: readonly string[] } | { ok: false, problem: Problem }

interface PolicyNode {
  readonly policy: string
  expected: readonly string[]
  readonly parent: PolicyNode | null
  children: number
  alive: boolean
}

class BudgetExceeded extends Error {}

const ANY_ONLY: readonly string[] = Object.freeze([ANY_POLICY])

function label (cert: ParsedCertificate): string {
  return `certificate ${cert.serialNumber}`
}

function refuse (message: string): PolicyOutcome {
  return { ok: false, problem: { reason: 'certificate-policy', message } }
}

/**
 * RFC 5280 6.1 policy processing over `certs`, ordered from the one the trust anchor issued (i = 1)
 * to the leaf (i = n). The trust anchor itself is not part of the path (6.1). On success, the
 * user-constrained policy set (6.1.6): the valid policies of the leaf, in the anchor's policy domain.
 */
export function processPolicyPath (certs: readonly ParsedCertificate[], settings: PolicySettings): PolicyOutcome {
  const n = certs.length
  if (n === 0) return NO_POLICIES
  const extensions: CertificatePolicyExtensions[] = []
  for (const cert of certs) {
    const read = policyExtensions(cert)
    if (!read.ok) return { ok: false, problem: { reason: 'invalid-certificate', message: `${label(cert)}: ${read.message}` } }
    extensions.push(read.value)
  }

  let budget = POLICY_TREE_BUDGET
  const spend = (units: number): void => {
    budget -= units
    if (budget < 0) throw new BudgetExceeded()
  }
  const makeNode = (policy: string, expected: readonly string[], parent: PolicyNode | null): PolicyNode => {
    spend(1 + expected.length)
    if (parent !== null) parent.children++
    return { policy, expected, parent, children: 0, alive: true }
  }

  // 6.1.2 initialization.
  const root = makeNode(ANY_POLICY, ANY_ONLY, null)
  /** valid_policy_tree by depth; null is the RFC's NULL tree. */
  let levels: PolicyNode[][] | null = [[root]]
  let explicitPolicy = settings.requireExplicitPolicy ? 0 : n + 1
  let inhibitAnyPolicy = settings.inhibitAnyPolicy ? 0 : n + 1
  let policyMapping = settings.inhibitPolicyMapping ? 0 : n + 1

  const kill = (node: PolicyNode): void => {
    if (!node.alive) return
    node.alive = false
    if (node.parent !== null) node.parent.children--
  }
  /** Drops dead nodes, then nodes of depth `from` or less without children (6.1.3 (d)(3), 6.1.4 (b)(2)). */
  const prune = (tree: PolicyNode[][], from: number): PolicyNode[][] | null => {
    for (let d = tree.length - 1; d >= 0; d--) {
      let level = tree[d]!
      if (d <= from) for (const node of level) if (node.children === 0) kill(node)
      level = level.filter((node) => node.alive)
      tree[d] = level
    }
    return tree[0]!.length === 0 ? null : tree
  }

  try {
    for (let i = 1; i <= n; i++) {
      const cert = certs[i - 1]!
      const ext = extensions[i - 1]!
      const isLeaf = i === n
      // 6.1.3 (d): certificatePolicies present and the tree is not NULL.
      if (ext.policies !== null && levels !== null) {
        const parents = levels[i - 1]!
        const byExpected = new Map<string, PolicyNode[]>()
        let anyParent: PolicyNode | null = null
        for (const node of parents) {
          if (node.policy === ANY_POLICY) anyParent = node
          for (const e of node.expected) {
            const list = byExpected.get(e)
            if (list === undefined) byExpected.set(e, [node])
            else list.push(node)
          }
        }
        const level: PolicyNode[] = []
        const childPolicies = new Map<PolicyNode, Set<string>>()
        const addChild = (policy: string, parent: PolicyNode): void => {
          level.push(makeNode(policy, policy === ANY_POLICY ? ANY_ONLY : [policy], parent))
          let set = childPolicies.get(parent)
          if (set === undefined) childPolicies.set(parent, set = new Set())
          set.add(policy)
        }
        for (const p of ext.policies) {
          if (p === ANY_POLICY) continue
          // (d)(1)(i): a child for every parent expecting P; (ii) else under the anyPolicy parent.
          const matches = byExpected.get(p)
          if (matches !== undefined) for (const parent of matches) addChild(p, parent)
          else if (anyParent !== null) addChild(p, anyParent)
        }
        // (d)(2): anyPolicy in the certificate, and not inhibited (self-issued CAs keep it).
        if (ext.policies.includes(ANY_POLICY) && (inhibitAnyPolicy > 0 || (!isLeaf && cert.selfIssued))) {
          for (const parent of parents) {
            const have = childPolicies.get(parent)
            for (const e of parent.expected) if (have === undefined || !have.has(e)) addChild(e, parent)
          }
        }
        levels.push(level)
        // (d)(3): nodes of depth i-1 or less without children go.
        levels = prune(levels, i - 1)
      } else {
        // (e): no certificatePolicies: the tree becomes NULL.
        levels = null
      }
      // (f)
      if (explicitPolicy <= 0 && levels === null) {
        return refuse(`${label(cert)}: no valid certificate policy while an explicit policy is required (RFC 5280 6.1.3 (f))`)
      }
      if (isLeaf) break

      // 6.1.4 preparation for certificate i+1.
      if (ext.mappings !== null) {
        const grouped = new Map<string, string[]>()
        for (const m of ext.mappings) {
          // (a): anyPolicy is never mapped to or from.
          if (m.issuerDomainPolicy === ANY_POLICY || m.subjectDomainPolicy === ANY_POLICY) {
            return refuse(`${label(cert)}: policyMappings maps to or from anyPolicy (RFC 5280 6.1.4 (a))`)
          }
          const list = grouped.get(m.issuerDomainPolicy)
          if (list === undefined) grouped.set(m.issuerDomainPolicy, [m.subjectDomainPolicy])
          else if (!list.includes(m.subjectDomainPolicy)) list.push(m.subjectDomainPolicy)
        }
        if (levels !== null) {
          const depth = levels[i]!
          if (policyMapping > 0) {
            // (b)(1): a mapped policy expects its subject-domain equivalents.
            const anyNode = depth.find((node) => node.policy === ANY_POLICY)
            for (const [idp, subjects] of grouped) {
              let found = false
              for (const node of depth) {
                if (node.policy !== idp) continue
                spend(subjects.length)
                node.expected = subjects
                found = true
              }
              if (!found && anyNode !== undefined && anyNode.parent !== null) {
                depth.push(makeNode(idp, subjects, anyNode.parent))
              }
            }
          } else {
            // (b)(2): mapping inhibited: the mapped policies are deleted.
            for (const node of depth) if (grouped.has(node.policy)) kill(node)
            levels = prune(levels, i - 1)
          }
        }
      }
      // (h): counters run down on every certificate that is not self-issued.
      if (!cert.selfIssued) {
        if (explicitPolicy !== 0) explicitPolicy--
        if (policyMapping !== 0) policyMapping--
        if (inhibitAnyPolicy !== 0) inhibitAnyPolicy--
      }
      // (i), (j): constraints only ever tighten.
      if (ext.requireExplicitPolicy !== null && ext.requireExplicitPolicy < explicitPolicy) explicitPolicy = ext.requireExplicitPolicy
      if (ext.inhibitPolicyMapping !== null && ext.inhibitPolicyMapping < policyMapping) policyMapping = ext.inhibitPolicyMapping
      if (ext.inhibitAnyPolicy !== null && ext.inhibitAnyPolicy < inhibitAnyPolicy) inhibitAnyPolicy = ext.inhibitAnyPolicy
    }

    // 6.1.5 wrap-up.
    const leafExt = extensions[n - 1]!
    if (explicitPolicy !== 0) explicitPolicy--
    if (leafExt.requireExplicitPolicy === 0) explicitPolicy = 0

    // (g): intersection with the user-initial-policy-set.
    if (levels !== null && settings.initialPolicySet[0] !== ANY_POLICY) levels = intersect(levels, n, settings.initialPolicySet, makeNode, kill, prune)
    if (explicitPolicy <= 0 && levels === null) {
      return refuse(`${label(certs[n - 1]!)}: no valid certificate policy in ${describe(settings.initialPolicySet)} while an explicit policy is required (RFC 5280 6.1.5 (g))`)
    }
    return { ok: true, policies: userConstrainedPolicies(levels?.[n] ?? []) }
  } catch (err) {
    if (err instanceof BudgetExceeded) {
      return { ok: false, problem: { reason: 'policy-limit-exceeded', message: `certificate policy processing needs more than ${POLICY_TREE_BUDGET} tree entries` } }
    }
    throw err
  }
}

/**
 * The user-constrained policy set (X.509 10.5.4; RFC 5280 6.1.5 (g)): for each branch that reaches
 * the leaf, the policy of its valid_policy_node_set member (the first node below anyPolicy), so the
 * answer is in the trust anchor's policy domain whatever mappings the path went through;
 * anyPolicy when the branch is anyPolicy all the way down.
 */
function userConstrainedPolicies (leafLevel: readonly PolicyNode[]): readonly string[] {
  const out = new Set<string>()
  for (const leaf of leafLevel) {
    let node = leaf
    while (node.parent !== null && node.parent.policy !== ANY_POLICY) node = node.parent
    out.add(node.policy)
  }
  return Object.freeze([...out].sort())
}

function describe (set: readonly string[]): string {
  return set.length === 1 ? set[0]! : `{${set.join(', ')}}`
}

/** 6.1.5 (g)(iii): the tree restricted to the user-initial-policy-set (not any-policy). */
function intersect (
  levels: PolicyNode[][],
  n: number,
  initial: readonly string[],
  makeNode: (policy: string, expected: readonly string[], parent: PolicyNode | null) => PolicyNode,
  kill: (node: PolicyNode) => void,
  prune: (tree: PolicyNode[][], from: number) => PolicyNode[][] | null
): PolicyNode[][] | null {
  const wanted = new Set(initial)
  // (1) valid_policy_node_set: nodes whose parent is anyPolicy. (2) drop those not wanted, with their subtrees.
  const validNodeSet: PolicyNode[] = []
  for (let d = 1; d <= n; d++) {
    for (const node of levels[d] ?? []) {
      if (node.parent !== null && !node.parent.alive) { kill(node); continue }
      if (node.parent?.policy !== ANY_POLICY) continue
      validNodeSet.push(node)
      if (node.policy !== ANY_POLICY && !wanted.has(node.policy)) kill(node)
    }
  }
  // (3) a leaf-level anyPolicy node stands for every wanted policy not yet in the set.
  const leafLevel = levels[n] ?? []
  const anyLeaf = leafLevel.find((node) => node.alive && node.policy === ANY_POLICY)
  if (anyLeaf !== undefined && anyLeaf.parent !== null) {
    const present = new Set(validNodeSet.filter((node) => node.alive).map((node) => node.policy))
    for (const p of initial) if (!present.has(p)) leafLevel.push(makeNode(p, [p], anyLeaf.parent))
    kill(anyLeaf)
  }
  // (4) prune what is left without children.
  return prune(levels, n - 1)
}

/**
 * RFC 5280 4.2.1.11 says conforming CAs MUST mark policyConstraints critical, but deployed policy
 * PKIs (the NIST PKITS suite among them) issue it non-critical, and this validator processes it
 * either way. A non-critical policyConstraints is therefore refused only on a path where no
 * certificate asserts a policy, where the extension constrains nothing and all that is left is the
 * encoding error (x509-limbo `rfc5280::pc::ica-noncritical-pc`).
 */
function nonCriticalConstraintsProblem (path: readonly ParsedCertificate[]): Problem | null {
  let offender: ParsedCertificate | null = null
  for (const cert of path) {
    for (const ext of cert.extensions) {
      if (ext.oid === OID.certificatePolicies) return null
      if (ext.oid === OID.policyConstraints && !ext.critical) offender ??= cert
    }
  }
  return offender === null ? null : { reason: 'invalid-certificate', message: `${label(offender)}: extension ${OID.policyConstraints} must be critical` }
}

/**
 * Policy processing on a built path (leaf first). `anchorLast`: the last certificate is the trust
 * anchor, which RFC 5280 6.1 leaves out of the path; false for a lone leaf (ALB verify mode without
 * `verifyChain`), processed as if its issuer were the anchor.
 */
export function checkPathPolicies (path: readonly ParsedCertificate[], settings: PolicySettings, anchorLast = true): PolicyOutcome {
  const problem = nonCriticalConstraintsProblem(path)
  if (problem !== null) return { ok: false, problem }
  const certs = (anchorLast ? path.slice(0, -1) : path.slice()).reverse()
  // Without any policy extension the tree is NULL from the first certificate on: that is valid
  // unless an explicit policy is required, and leaves no policy (the common case, kept cheap).
  if (certs.length === 0 || (!settings.requireExplicitPolicy && !certs.some(hasPolicyExtension))) return NO_POLICIES
  return processPolicyPath(certs, settings)
}

const POLICY_EXTENSIONS = new Set<string>([OID.certificatePolicies, OID.policyMappings, OID.policyConstraints, OID.inhibitAnyPolicy])
const NO_POLICIES: PolicyOutcome = Object.freeze({ ok: true, policies: Object.freeze([]) })

function hasPolicyExtension (cert: ParsedCertificate): boolean {
  for (const ext of cert.extensions) if (POLICY_EXTENSIONS.has(ext.oid)) return true
  return false
}

/** The PathRule that hooks policy processing into path building. */
export function policyRule (settings: PolicySettings): PathRule {
  return (path) => {
    const outcome = checkPathPolicies(path, settings)
    return outcome.ok ? null : outcome.problem
  }
}

/** The leaf's valid policies on a path that passed `policyRule` (processing is cheap and bounded: run again). */
export function leafPolicies (path: readonly ParsedCertificate[], settings: PolicySettings): readonly string[] {
  const outcome = checkPathPolicies(path, settings)
  return outcome.ok ? outcome.policies : Object.freeze([])
}
