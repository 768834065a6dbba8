/**
 * Certificate policies, RFC 5280 6.1: PKIs built with the factory exercise each rule (policy trees,
 * mappings, requireExplicitPolicy, inhibitPolicyMapping, inhibitAnyPolicy, anyPolicy, qualifiers),
 * the verdicts and the identity's `policies` are asserted, and every scenario is also put to
 * `openssl verify -policy_check` with the same inputs (skipped when openssl is absent).
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createVerifier, type VerifyResult } from '../src/index.js'
import { createAlbVerifyVerifier } from '../src/verifier/verify-mode.js'
import { compileRules, failedRule } from '../src/fastify/guards.js'
import { createTestPki, type CertificateSpec, type Issued, type TestPki } from '../src/testing/index.js'
import type { CertificatePolicyOptions } from '../src/types.js'
import { processPolicyPath, resolvePolicyOptions, POLICY_TREE_BUDGET } from '../src/validation/policies.js'
import { parseCertificate } from '../src/x509/parse.js'
import { policyExtensions } from '../src/x509/policies.js'
import fc from 'fast-check'
import { header } from './helpers/pki.js'
import { OPENSSL_VERSION } from './helpers/openssl.js'
import { fuzzParameters } from './helpers/hostile.js'

const ANY = '2.5.29.32.0'
const P1 = '1.3.6.1.4.1.55555.1.1'
const P2 = '1.3.6.1.4.1.55555.1.2'
const P3 = '1.3.6.1.4.1.55555.1.3'
const PIV_AUTH = '2.16.840.1.101.3.2.1.3.13'

let p: TestPki
let dir: string
const hasOpenssl = OPENSSL_VERSION !== null
before(async () => {
  p = await createTestPki()
  dir = mkdtempSync(join(tmpdir(), 'mtls-policies-'))
})
after(() => { rmSync(dir, { recursive: true, force: true }) })

let n = 0
/** A CA under `under` (default the root), named uniquely. */
async function ca (spec: Partial<CertificateSpec>, under?: Issued): Promise<Issued> {
  return await p.issue({ subject: `CN=Policy CA ${++n}`, ca: true, ...spec }, under ?? p.root)
}
async function leaf (spec: Partial<CertificateSpec>, under: Issued): Promise<Issued> {
  return await p.issue({ subject: `CN=client ${++n}`, ...spec }, under)
}

function reasonOf (r: VerifyResult): string {
  return r.ok ? 'ok' : r.reason
}

/** Our verdict and, when it passes, the identity's policies. `cas` from the leaf's issuer upwards. */
function ours (chain: Issued[], policies?: CertificatePolicyOptions): { verdict: string, policies?: readonly string[] } {
  const r = createVerifier({ roots: p.root.pem, ...(policies !== undefined ? { policies } : {}) }).verifySync(header(...chain))
  return r.ok ? { verdict: 'ok', policies: r.certificate.policies } : { verdict: reasonOf(r) }
}

/** `openssl verify -policy_check` with the RFC 5280 6.1.1 inputs mapped onto its flags. */
function openssl (chain: Issued[], policies: CertificatePolicyOptions = {}): { ok: boolean, out: string } {
  const write = (name: string, text: string): string => {
    const path = join(dir, `${++n}-${name}.pem`)
    writeFileSync(path, text)
    return path
  }
  const [leafCert, ...cas] = chain
  const args = ['verify', '-policy_check']
  if (policies.requireExplicitPolicy === true) args.push('-explicit_policy')
  if (policies.inhibitPolicyMapping === true) args.push('-inhibit_map')
  if (policies.inhibitAnyPolicy === true) args.push('-inhibit_any')
  // Without -policy OpenSSL computes no user policy set and -explicit_policy always fails: say anyPolicy.
  for (const oid of policies.initialPolicySet ?? [ANY]) args.push('-policy', oid)
  args.push('-CAfile', write('root', p.root.pem))
  if (cas.length > 0) args.push('-untrusted', write('cas', cas.map((c) => c.pem).join('')))
  args.push(write('leaf', leafCert!.pem))
  const r = spawnSync('openssl', args, { encoding: 'utf8' })
  return { ok: r.status === 0, out: `${r.stdout}${r.stderr}` }
}

/**
 * Asserts our verdict (and policies), then OpenSSL's. `opensslDiffers` documents the one kind of
 * case where the two are expected to disagree, and why.
 */
function check (chain: Issued[], policies: CertificatePolicyOptions | undefined, verdict: string, expectedPolicies?: string[], opensslDiffers?: string): void {
  const got = ours(chain, policies)
  assert.equal(got.verdict, verdict)
  if (expectedPolicies !== undefined) assert.deepEqual(got.policies, expectedPolicies)
  if (!hasOpenssl) return
  const theirs = openssl(chain, policies)
  if (opensslDiffers !== undefined) assert.equal(theirs.ok, verdict !== 'ok', `expected OpenSSL to disagree: ${opensslDiffers}`)
  else assert.equal(theirs.ok, verdict === 'ok', `OpenSSL disagrees (ours: ${verdict}): ${theirs.out}`)
}

test('no policies anywhere: accepted by default, refused when an explicit policy is required', async () => {
  const c = await ca({})
  const l = await leaf({}, c)
  check([l, c], undefined, 'ok', [])
  check([l, c], { requireExplicitPolicy: true }, 'certificate-policy')
})

test('a policy asserted by every certificate is the leaf\'s valid policy; the initial set restricts it', async () => {
  const c = await ca({ certificatePolicies: [P1, P2] })
  const l = await leaf({ certificatePolicies: [P1] }, c)
  check([l, c], undefined, 'ok', [P1])
  check([l, c], { initialPolicySet: [P1], requireExplicitPolicy: true }, 'ok', [P1])
  check([l, c], { initialPolicySet: [P1, P3] }, 'ok', [P1])
  // Not acceptable to the application: refused only when an explicit policy is required.
  check([l, c], { initialPolicySet: [P2], requireExplicitPolicy: true }, 'certificate-policy')
  check([l, c], { initialPolicySet: [P2] }, 'ok', [])
})

test('policies that do not chain leave no valid policy', async () => {
  const c = await ca({ certificatePolicies: [P1] })
  const l = await leaf({ certificatePolicies: [P2] }, c)
  check([l, c], undefined, 'ok', [])
  check([l, c], { requireExplicitPolicy: true }, 'certificate-policy')
})

test('anyPolicy in a CA lets the leaf\'s policy through; anyPolicy all the way down reports anyPolicy', async () => {
  const c = await ca({ certificatePolicies: [ANY] })
  check([await leaf({ certificatePolicies: [PIV_AUTH] }, c), c], { requireExplicitPolicy: true }, 'ok', [PIV_AUTH])
  const l = await leaf({ certificatePolicies: [ANY] }, c)
  check([l, c], undefined, 'ok', [ANY])
  // A leaf asserting anyPolicy is valid for every policy the application asks for (6.1.5 (g)(iii)).
  check([l, c], { initialPolicySet: [P1, P2], requireExplicitPolicy: true }, 'ok', [P1, P2])
})

test('requireExplicitPolicy in a CA certificate, critical or not', async () => {
  const c = await ca({ certificatePolicies: [P1], policyConstraints: { requireExplicitPolicy: 0 } })
  check([await leaf({ certificatePolicies: [P1] }, c), c], undefined, 'ok', [P1])
  check([await leaf({}, c), c], undefined, 'certificate-policy')
  check([await leaf({ certificatePolicies: [P2] }, c), c], undefined, 'certificate-policy')
  // SkipCerts 2: two more certificates may follow before the whole path needs an explicit policy.
  const c2 = await ca({ certificatePolicies: [P1], policyConstraints: { requireExplicitPolicy: 2 } })
  check([await leaf({}, c2), c2], undefined, 'ok', [])
  const sub = await ca({ certificatePolicies: [P1] }, c2)
  check([await leaf({}, sub), sub, c2], undefined, 'certificate-policy')
  check([await leaf({ certificatePolicies: [P1] }, sub), sub, c2], undefined, 'ok', [P1])
  // Non-critical (RFC 5280 says MUST be critical; deployed policy PKIs do otherwise): processed the same.
  const nc = await ca({ certificatePolicies: [P1], policyConstraints: { requireExplicitPolicy: 0, critical: false } })
  check([await leaf({ certificatePolicies: [P1] }, nc), nc], undefined, 'ok', [P1])
  check([await leaf({}, nc), nc], undefined, 'certificate-policy')
})

test('a non-critical policyConstraints on a path without any policy stays refused (x509-limbo rfc5280::pc::ica-noncritical-pc)', async () => {
  const c = await ca({ policyConstraints: { requireExplicitPolicy: 3, critical: false } })
  check([await leaf({}, c), c], undefined, 'invalid-certificate', undefined, 'OpenSSL does not require policyConstraints to be critical')
})

test('policy mappings: the leaf\'s policy is reported in the trust anchor\'s domain', async () => {
  const c = await ca({ certificatePolicies: [P1], policyMappings: [[P1, P2]] })
  const l = await leaf({ certificatePolicies: [P2] }, c)
  check([l, c], undefined, 'ok', [P1])
  check([l, c], { initialPolicySet: [P1], requireExplicitPolicy: true }, 'ok', [P1])
  check([l, c], { initialPolicySet: [P2], requireExplicitPolicy: true }, 'certificate-policy')
  // initial-policy-mapping-inhibit: the mapped policy is deleted.
  check([l, c], { inhibitPolicyMapping: true, requireExplicitPolicy: true }, 'certificate-policy')
  // One policy mapped to two: either serves.
  const c2 = await ca({ certificatePolicies: [P1], policyMappings: [[P1, P2], [P1, P3]] })
  check([await leaf({ certificatePolicies: [P3] }, c2), c2], { initialPolicySet: [P1], requireExplicitPolicy: true }, 'ok', [P1])
})

test('a mapping to or from anyPolicy refuses the path', async () => {
  const to = await ca({ certificatePolicies: [P1], policyMappings: [[P1, ANY]] })
  check([await leaf({ certificatePolicies: [P1] }, to), to], undefined, 'certificate-policy')
  const from = await ca({ certificatePolicies: [P1], policyMappings: [[ANY, P2]] })
  check([await leaf({ certificatePolicies: [P2] }, from), from], undefined, 'certificate-policy')
})

test('inhibitPolicyMapping in a CA certificate deletes the policies a CA below maps', async () => {
  const top = await ca({ certificatePolicies: [P1], policyConstraints: { requireExplicitPolicy: 0, inhibitPolicyMapping: 0 } })
  const mapper = await ca({ certificatePolicies: [P1], policyMappings: [[P1, P2]] }, top)
  check([await leaf({ certificatePolicies: [P2] }, mapper), mapper, top], undefined, 'certificate-policy')
  // SkipCerts 1: the CA right below may still map.
  const top1 = await ca({ certificatePolicies: [P1], policyConstraints: { requireExplicitPolicy: 0, inhibitPolicyMapping: 1 } })
  const mapper1 = await ca({ certificatePolicies: [P1], policyMappings: [[P1, P2]] }, top1)
  check([await leaf({ certificatePolicies: [P2] }, mapper1), mapper1, top1], undefined, 'ok', [P1])
})

test('inhibitAnyPolicy: anyPolicy in the certificates below stops matching', async () => {
  const top = await ca({ certificatePolicies: [ANY], inhibitAnyPolicy: 0 })
  const sub = await ca({ certificatePolicies: [ANY] }, top)
  const l = await leaf({ certificatePolicies: [P1] }, sub)
  check([l, sub, top], undefined, 'ok', [])
  check([l, sub, top], { requireExplicitPolicy: true }, 'certificate-policy')
  // Without the extension the same path is valid for P1.
  const top2 = await ca({ certificatePolicies: [ANY] })
  const sub2 = await ca({ certificatePolicies: [ANY] }, top2)
  const l2 = await leaf({ certificatePolicies: [P1] }, sub2)
  check([l2, sub2, top2], { requireExplicitPolicy: true }, 'ok', [P1])
  // initial-any-policy-inhibit has the same effect from the start.
  check([l2, sub2, top2], { requireExplicitPolicy: true, inhibitAnyPolicy: true }, 'certificate-policy')
})

test('critical certificatePolicies and policy qualifiers are understood (qualifiers ignored)', async () => {
  const c = await ca({ certificatePolicies: { policies: [{ oid: P1, cps: 'https://pki.example/cps' }], critical: true } })
  const l = await leaf({ certificatePolicies: { policies: [{ oid: P1, userNotice: 'for testing only' }], critical: true } }, c)
  check([l, c], { requireExplicitPolicy: true }, 'ok', [P1])
})

test('malformed policy extensions refuse the certificate', async () => {
  const dup = await ca({ certificatePolicies: [P1, P1] })
  assert.equal(ours([await leaf({}, dup), dup]).verdict, 'invalid-certificate')
  const empty = await ca({ certificatePolicies: [P1], policyConstraints: {} })
  assert.equal(ours([await leaf({}, empty), empty]).verdict, 'invalid-certificate')
  // anyPolicy-free parser checks, directly.
  const negative = await ca({ extensions: [{ oid: '2.5.29.54', value: new Uint8Array([0x02, 0x01, 0xff]), critical: true }] })
  const read = policyExtensions(parseCertificate(negative.der))
  assert.equal(read.ok, false)
})

test('PIV/CAC: demand PIV authentication with initialPolicySet and with a requireClientCert rule', async () => {
  const agency = await ca({ certificatePolicies: [PIV_AUTH, '2.16.840.1.101.3.2.1.3.7'] })
  const card = await leaf({ certificatePolicies: [PIV_AUTH] }, agency)
  const other = await leaf({ certificatePolicies: ['2.16.840.1.101.3.2.1.3.7'] }, agency)
  const piv = { initialPolicySet: [PIV_AUTH], requireExplicitPolicy: true }
  check([card, agency], piv, 'ok', [PIV_AUTH])
  check([other, agency], piv, 'certificate-policy')

  const rules = compileRules({ policies: PIV_AUTH })
  const verifier = createVerifier({ roots: p.root.pem })
  const cardId = verifier.verifySync(header(card, agency))
  const otherId = verifier.verifySync(header(other, agency))
  assert.ok(cardId.ok && otherId.ok)
  assert.equal(failedRule(rules, cardId.certificate), null)
  assert.equal(failedRule(rules, otherId.certificate), 'policies')
  assert.throws(() => compileRules({ policies: 'not-an-oid' }), /policies/)
  assert.throws(() => compileRules({ policies: [] }), /empty/)
})

test('ALB verify mode: the leaf alone is processed; verifyChain processes the whole path', async () => {
  const c = await ca({ certificatePolicies: [P1], policyMappings: [[P1, P2]] })
  const l = await leaf({ certificatePolicies: [P2] }, c)
  const cert = parseCertificate(l.der)
  const values = {
    leaf: encodeURIComponent(l.pem),
    serialNumber: cert.serialNumber,
    issuer: c.subject as string,
    subject: l.subject as string,
    validity: `NotBefore=${cert.notBefore.toISOString()};NotAfter=${cert.notAfter.toISOString()}`
  }
  const leafOnly = createAlbVerifyVerifier({ policies: { initialPolicySet: [P2], requireExplicitPolicy: true } }).verifySync(values)
  assert.ok(leafOnly.ok, JSON.stringify(leafOnly))
  // Only the leaf is seen: its own policy, in its own domain.
  assert.deepEqual(leafOnly.certificate.policies, [P2])
  const refused = createAlbVerifyVerifier({ policies: { initialPolicySet: [P3], requireExplicitPolicy: true } }).verifySync(values)
  assert.equal(reasonOf(refused), 'certificate-policy')
  const full = createAlbVerifyVerifier({ roots: p.root.pem, intermediates: c.pem, verifyChain: true, policies: { initialPolicySet: [P1], requireExplicitPolicy: true } }).verifySync(values)
  assert.ok(full.ok, JSON.stringify(full))
  assert.deepEqual(full.certificate.policies, [P1])
})

test('cost bound: a crafted mapping explosion is refused with policy-limit-exceeded', async () => {
  const k = 12
  const domain = (d: number): string[] => Array.from({ length: k }, (_, i) => `1.3.6.1.4.1.55555.${d}.${i + 1}`)
  const allPairs = (from: string[], to: string[]): Array<[string, string]> => from.flatMap((a) => to.map((b): [string, string] => [a, b]))
  const [d1, d2, d3, d4] = [domain(1), domain(2), domain(3), domain(4)]
  const c1 = await ca({ certificatePolicies: d1, policyMappings: allPairs(d1, d2) })
  const c2 = await ca({ certificatePolicies: d2, policyMappings: allPairs(d2, d3) }, c1)
  const c3 = await ca({ certificatePolicies: d3, policyMappings: allPairs(d3, d4) }, c2)
  const l = await leaf({ certificatePolicies: d4 }, c3)
  // The CAs are large: configured as intermediates rather than sent in the 16 KB header.
  const verifier = createVerifier({ roots: p.root.pem, intermediates: [c1.pem, c2.pem, c3.pem] })
  assert.equal(reasonOf(verifier.verifySync(header(l))), 'policy-limit-exceeded')
  // The same PKI one level shallower fits the budget.
  const l2 = await leaf({ certificatePolicies: d3 }, c2)
  assert.equal(reasonOf(verifier.verifySync(header(l2))), 'ok')
  assert.ok(POLICY_TREE_BUDGET >= 1000)
})

test('processPolicyPath directly: the RFC 5280 6.1.5 (g) anyPolicy expansion and option validation', async () => {
  const c = await ca({ certificatePolicies: [ANY] })
  const l = await leaf({ certificatePolicies: [ANY] }, c)
  const certs = [parseCertificate(c.der), parseCertificate(l.der)]
  const out = processPolicyPath(certs, resolvePolicyOptions({ initialPolicySet: [P2, P1] }))
  assert.deepEqual(out, { ok: true, policies: [P1, P2] })
  assert.throws(() => resolvePolicyOptions({ initialPolicySet: [] }), /initialPolicySet/)
  assert.throws(() => resolvePolicyOptions({ initialPolicySet: ['x'] }), /dotted OID/)
  assert.throws(() => resolvePolicyOptions({ requireExplicitPolicy: 'yes' as unknown as boolean }), /boolean/)
  assert.throws(() => resolvePolicyOptions({ explicit: true } as unknown as CertificatePolicyOptions), /unknown setting/)
  assert.deepEqual(resolvePolicyOptions({ initialPolicySet: [P1, ANY] }).initialPolicySet, [ANY])
  assert.throws(() => createVerifier({ roots: p.root.pem, policies: { initialPolicySet: ['1.2.x'] } }), /FST_MTLS_INVALID_OPTION|initialPolicySet/)
})

test('plugin: the policies option and requireClientCert({ policies }) over fastify.inject', async () => {
  const { default: Fastify } = await import('fastify')
  const { default: mtls, requireClientCert } = await import('../src/index.js')
  const agency = await ca({ certificatePolicies: [ANY] })
  const card = await leaf({ certificatePolicies: [PIV_AUTH] }, agency)
  const other = await leaf({ certificatePolicies: [P1] }, agency)
  const app = Fastify()
  await app.register(mtls, { roots: p.root.pem })
  app.get('/admin', { onRequest: requireClientCert({ policies: [PIV_AUTH] }) }, async (request) => request.clientCert?.policies)
  const strict = Fastify()
  await strict.register(mtls, { roots: p.root.pem, policies: { initialPolicySet: [PIV_AUTH], requireExplicitPolicy: true } })
  strict.get('/', async (request) => request.clientCert?.policies)
  try {
    const send = async (target: typeof app, h: string, url: string): Promise<{ status: number, body: string }> => {
      const r = await target.inject({ url, headers: { 'x-amzn-mtls-clientcert': h } })
      return { status: r.statusCode, body: r.body }
    }
    assert.deepEqual(await send(app, header(card, agency), '/admin'), { status: 200, body: JSON.stringify([PIV_AUTH]) })
    assert.equal((await send(app, header(other, agency), '/admin')).status, 403)
    assert.deepEqual(await send(strict, header(card, agency), '/'), { status: 200, body: JSON.stringify([PIV_AUTH]) })
    assert.equal((await send(strict, header(other, agency), '/')).status, 401)
  } finally {
    await app.close()
    await strict.close()
  }
})

/** One random CA or leaf: which policy extensions it carries. */
const POOL = [P1, P2, P3, ANY]
const certArb = fc.record({
  policies: fc.option(fc.subarray(POOL, { minLength: 1 }), { nil: undefined }),
  mappings: fc.option(fc.array(fc.tuple(fc.constantFrom(P1, P2, P3), fc.constantFrom(P1, P2, P3)).filter(([a, b]) => a !== b), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  requireExplicitPolicy: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  inhibitPolicyMapping: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  inhibitAnyPolicy: fc.option(fc.integer({ min: 0, max: 2 }), { nil: undefined })
})
const settingsArb = fc.record({
  initialPolicySet: fc.option(fc.subarray([P1, P2, P3], { minLength: 1 }), { nil: undefined }),
  requireExplicitPolicy: fc.boolean(),
  inhibitPolicyMapping: fc.boolean(),
  inhibitAnyPolicy: fc.boolean()
})

interface RandomPolicyCert {
  policies?: string[] | undefined
  mappings?: Array<[string, string]> | undefined
  requireExplicitPolicy?: number | undefined
  inhibitPolicyMapping?: number | undefined
  inhibitAnyPolicy?: number | undefined
}

function specOf (c: RandomPolicyCert, isCa: boolean): Partial<CertificateSpec> {
  const spec: Partial<CertificateSpec> = {}
  if (c.policies !== undefined) spec.certificatePolicies = [...new Set(c.policies)]
  if (!isCa) return spec
  // Mappings with a duplicate pair are legal but pointless; keep them distinct.
  if (c.mappings !== undefined) {
    spec.policyMappings = [...new Map(c.mappings.map((m) => [m.join(' '), m])).values()]
    // OpenSSL deviation left out of the comparison: for a CA asserting anyPolicy together with
    // mappings, OpenSSL creates the mapped issuer-domain nodes even where anyPolicy is inhibited
    // (RFC 5280 6.1.3 (d)(2) ignores the anyPolicy, so the tree ends there).
    if (c.policies?.includes(ANY) === true) spec.certificatePolicies = c.policies.filter((x) => x !== ANY).length > 0 ? c.policies.filter((x) => x !== ANY) : [P1]
  }
  if (c.requireExplicitPolicy !== undefined || c.inhibitPolicyMapping !== undefined) {
    spec.policyConstraints = {
      ...(c.requireExplicitPolicy !== undefined ? { requireExplicitPolicy: c.requireExplicitPolicy } : {}),
      ...(c.inhibitPolicyMapping !== undefined ? { inhibitPolicyMapping: c.inhibitPolicyMapping } : {})
    }
  }
  if (c.inhibitAnyPolicy !== undefined) spec.inhibitAnyPolicy = c.inhibitAnyPolicy
  return spec
}

test('differential: random policy PKIs agree with openssl verify -policy_check', { skip: !hasOpenssl && 'openssl not installed' }, async () => {
  await fc.assert(fc.asyncProperty(fc.array(certArb, { minLength: 1, maxLength: 3 }), certArb, settingsArb, async (cas, leafSpec, settings) => {
    const chain: Issued[] = []
    let issuer = p.root
    for (const c of cas) {
      issuer = await ca(specOf(c, true), issuer)
      chain.unshift(issuer)
    }
    chain.unshift(await leaf(specOf(leafSpec, false), issuer))
    const options: CertificatePolicyOptions = {
      ...(settings.initialPolicySet !== undefined ? { initialPolicySet: settings.initialPolicySet } : {}),
      requireExplicitPolicy: settings.requireExplicitPolicy,
      inhibitPolicyMapping: settings.inhibitPolicyMapping,
      inhibitAnyPolicy: settings.inhibitAnyPolicy
    }
    const got = ours(chain, options).verdict
    const theirs = openssl(chain, options)
    assert.equal(got === 'ok', theirs.ok, `ours ${got}, OpenSSL: ${theirs.out}`)
  }), fuzzParameters(30))
})

test('hostile extension bytes: the policy reader never throws, and processing stays within its budget', () => {
  const oids = ['2.5.29.32', '2.5.29.33', '2.5.29.36', '2.5.29.54']
  // Random bytes, and random bytes behind a plausible SEQUENCE header.
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ maxLength: 60 }).map((b) => new Uint8Array([0x30, b.length, ...b])),
    fc.array(fc.uint8Array({ minLength: 1, maxLength: 6 }).map((b) => [0x30, b.length + 2, 0x06, b.length, ...b]), { minLength: 1, maxLength: 8 })
      .map((items) => { const body = items.flat(); return new Uint8Array([0x30, body.length, ...body]) })
  )
  fc.assert(fc.property(fc.array(fc.tuple(fc.constantFrom(...oids), fc.boolean(), bytes), { minLength: 1, maxLength: 4 }), (exts) => {
    const fake = { extensions: exts.map(([oid, critical, value]) => ({ oid, critical, value })), serialNumber: '01', selfIssued: false } as unknown as Parameters<typeof policyExtensions>[0]
    const read = policyExtensions(fake)
    assert.ok(read.ok || typeof read.message === 'string')
    if (!read.ok) return
    const out = processPolicyPath([fake, fake, fake], resolvePolicyOptions({ requireExplicitPolicy: true }))
    assert.ok(out.ok || typeof out.problem.reason === 'string')
  }), fuzzParameters(300))
})
