/**
 * Revocation scenarios (RFC 5280 6.3), built at run time with the project's factory: each one is a
 * root, the certificates a client or the operator may supply, the CRLs, a leaf, and the verdict
 * expected under `crlPolicy: { onMissing: 'reject' }`. Shared by the unit tests and the differential
 * test against `openssl verify -crl_check_all -extended_crl -use_deltas`.
 */
import {
  createCertificate, createCrl, createTestPki, crlDistributionPoints, CrlReason, generateKeyPair,
  type Issued, type IssuedCrl, type IssuingDistributionPointSpec, type ReasonFlag, type RevokedEntry, type TestPki
} from '../../src/testing/index.js'

export interface Scenario {
  name: string
  root: Issued
  /** Certificates other than the leaf: sent in the header (and given to openssl as -untrusted). */
  chain: Issued[]
  crls: IssuedCrl[]
  leaf: Issued
  /** 'ok' or the refusal reason, under onMissing 'reject' ('' for random scenarios: the reference decides). */
  expect: string
}

const signer = (c: Issued): { certificate: Issued, key: Issued['key'] } => ({ certificate: c, key: c.key })

export async function revocationScenarios (): Promise<Scenario[]> {
  const p: TestPki = await createTestPki({ algorithm: 'p-256' })
  const { root, intermediate } = p
  const rootCrl = await createCrl({ issuer: signer(root) })
  const out: Scenario[] = []
  const add = (name: string, leaf: Issued, crls: IssuedCrl[], expect: string, chain: Issued[] = [intermediate], withRootCrl = true): void => {
    out.push({ name, root, chain, crls: withRootCrl ? [...crls, rootCrl] : crls, leaf, expect })
  }
  const leaf = async (subject: string, extra: Partial<Parameters<TestPki['issue']>[0]> = {}, under: Issued = intermediate): Promise<Issued> =>
    await p.issue({ subject: `CN=${subject}`, extendedKeyUsage: ['clientAuth'], ...extra }, under)
  const crlOf = async (issuer: Issued, revoked: RevokedEntry[] = [], extra: Partial<Parameters<typeof createCrl>[0]> = {}): Promise<IssuedCrl> =>
    await createCrl({ issuer: signer(issuer), revoked, ...extra })

  // Direct CRLs, reason codes, certificateHold.
  const plain = await leaf('plain')
  add('direct CRL lists the leaf', plain, [await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.keyCompromise }])], 'revoked')
  add('direct CRL without the leaf', plain, [await crlOf(intermediate)], 'ok')
  add('certificateHold is revoked', plain, [await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.certificateHold }])], 'revoked')
  add('no CRL for the intermediate\'s leaves', plain, [], 'revocation-unknown')
  const older = await crlOf(intermediate, [], { crlNumber: 1, thisUpdate: new Date(Date.now() - 2 * 3600_000) })
  add('an older CRL still current does not hide a newer listing', plain, [older, await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 2 })], 'revoked')

  // Serial numbers are signed integers: +255 (00 ff) is not -1 (ff).
  const s255 = await leaf('serial 255', { serialNumber: 255n })
  add('a CRL revoking -1 does not revoke +255', s255, [await crlOf(intermediate, [{ serialNumber: -1n }])], 'ok')
  add('a CRL revoking +255 revokes it', s255, [await crlOf(intermediate, [{ serialNumber: 255n }])], 'revoked')

  // A separate CRL-signing certificate of the same CA (same name, its own key, cRLSign only).
  const crlSigner = await createCertificate({
    subject: intermediate.subject, key: await generateKeyPair('p-256'), issuer: signer(root), keyUsage: ['cRLSign'], extendedKeyUsage: false
  }).then((c) => ({ ...c, key: c.spec.key }))
  add('separate CRL signer lists the leaf', plain, [await crlOf(crlSigner, [{ serialNumber: plain.serialNumber }])], 'revoked', [intermediate, crlSigner])
  add('separate CRL signer, leaf not listed', plain, [await crlOf(crlSigner)], 'ok', [intermediate, crlSigner])
  add('separate CRL signer not supplied', plain, [await crlOf(crlSigner, [{ serialNumber: plain.serialNumber }])], 'crl-unusable', [intermediate])
  const revokedSignerRootCrl = await crlOf(root, [{ serialNumber: crlSigner.serialNumber, reason: CrlReason.keyCompromise }], { crlNumber: 2 })
  add('separate CRL signer revoked by the root', plain, [await crlOf(crlSigner), revokedSignerRootCrl], 'crl-unusable', [intermediate, crlSigner], false)

  // Key rollover: the CA's new key, certified by the root, or by the old key (self-issued new-with-old).
  const rollOld = await p.issue({ subject: 'CN=Rollover CA', ca: true }, root)
  const rollNew = await p.issue({ subject: 'CN=Rollover CA', ca: true }, root)
  const rolled = await leaf('under old key', {}, rollOld)
  add('CRL signed with the rolled-over key (new key certified by the root)', rolled, [await crlOf(rollNew, [{ serialNumber: rolled.serialNumber }])], 'revoked', [rollOld, rollNew])
  add('CRL signed with the rolled-over key, leaf not listed', rolled, [await crlOf(rollNew)], 'ok', [rollOld, rollNew])
  const newWithOld = await p.issue({ subject: 'CN=Rollover CA', ca: true }, rollOld)
  add('CRL signed with the new key, certified by the old one (self-issued)', rolled, [await crlOf(newWithOld, [{ serialNumber: rolled.serialNumber }])], 'revoked', [rollOld, newWithOld])

  // Partitioned CRLs: issuingDistributionPoint against the certificate's distribution point.
  const part1 = 'http://crl.example.test/part1.crl'
  const part2 = 'http://crl.example.test/part2.crl'
  const inPart1 = await leaf('in part 1', { extensions: [crlDistributionPoints([{ uri: [part1] }])] })
  const inPart2 = await leaf('in part 2', { extensions: [crlDistributionPoints([{ uri: [part2] }])] })
  const part1Crl = await crlOf(intermediate, [{ serialNumber: inPart1.serialNumber }, { serialNumber: inPart2.serialNumber }], { issuingDistributionPoint: { uri: [part1] } })
  add('partition CRL lists the leaf of its partition', inPart1, [part1Crl], 'revoked')
  add('partition CRL of another partition does not cover the leaf', inPart2, [part1Crl], 'crl-unusable')
  add('onlyContainsCACerts CRL does not cover a leaf', plain, [await crlOf(intermediate, [], { issuingDistributionPoint: { onlyContainsCACerts: true } })], 'crl-unusable')
  add('onlyContainsUserCerts CRL covers a leaf', plain, [await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { issuingDistributionPoint: { onlyContainsUserCerts: true } })], 'revoked')
  const onlyUserRoot = await crlOf(root, [], { issuingDistributionPoint: { onlyContainsUserCerts: true }, crlNumber: 3 })
  add('onlyContainsUserCerts root CRL does not cover the intermediate', plain, [await crlOf(intermediate), onlyUserRoot], 'crl-unusable', [intermediate], false)

  // onlySomeReasons: the CRLs held together must cover every reason.
  const compromise = await crlOf(intermediate, [], { issuingDistributionPoint: { onlySomeReasons: ['keyCompromise', 'cACompromise'] } })
  const others = await crlOf(intermediate, [], {
    crlNumber: 2,
    issuingDistributionPoint: { onlySomeReasons: ['affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'] }
  })
  add('onlySomeReasons: one CRL does not cover every reason', plain, [compromise], 'crl-unusable')
  add('onlySomeReasons: two CRLs cover every reason', plain, [compromise, others], 'ok')

  // Indirect CRLs: the leaf's distribution point names a cRLIssuer; entries carry certificateIssuer.
  const indirectIssuer = await createCertificate({
    subject: 'CN=Indirect CRL Issuer', key: await generateKeyPair('p-256'), issuer: signer(root), keyUsage: ['cRLSign'], extendedKeyUsage: false
  }).then((c) => ({ ...c, key: c.spec.key }))
  const delegated = await leaf('delegated', { extensions: [crlDistributionPoints([{ crlIssuer: 'CN=Indirect CRL Issuer' }])] })
  const indirect = (revoked: RevokedEntry[]): Promise<IssuedCrl> => crlOf(indirectIssuer, revoked, { issuingDistributionPoint: { indirectCRL: true } })
  add('indirect CRL lists the leaf under its issuer', delegated, [await indirect([{ serialNumber: delegated.serialNumber, certificateIssuer: intermediate.subject }])], 'revoked', [intermediate, indirectIssuer])
  add('indirect CRL lists the serial under another issuer', delegated, [await indirect([{ serialNumber: delegated.serialNumber, certificateIssuer: 'CN=Someone Else' }])], 'ok', [intermediate, indirectIssuer])
  add('cRLIssuer\'s CRL that is not indirect', delegated, [await crlOf(indirectIssuer)], 'crl-unusable', [intermediate, indirectIssuer])

  // RFC 5280 6.3.3 (f) validates the CRL issuer's path like any other: name constraints included. The
  // CA permits O=Users below it, so an indirect CRL issuer it certifies as O=Elsewhere is not valid.
  const constrained = await p.issue({ subject: 'CN=Users CA', ca: true, nameConstraints: { permitted: { dirName: ['O=Users'] } } }, root)
  const outsideIssuer = await createCertificate({
    subject: 'CN=Revoker,O=Elsewhere', key: await generateKeyPair('p-256'), issuer: signer(constrained), keyUsage: ['cRLSign'], extendedKeyUsage: false
  }).then((c) => ({ ...c, key: c.spec.key }))
  const insideIssuer = await createCertificate({
    subject: 'CN=Revoker,O=Users', key: await generateKeyPair('p-256'), issuer: signer(constrained), keyUsage: ['cRLSign'], extendedKeyUsage: false
  }).then((c) => ({ ...c, key: c.spec.key }))
  const usersCaCrl = await crlOf(constrained)
  for (const [what, crlIssuer, verdict] of [['outside', outsideIssuer, 'crl-unusable'], ['inside', insideIssuer, 'ok']] as const) {
    const user = await leaf('user,O=Users', { extensions: [crlDistributionPoints([{ crlIssuer: crlIssuer.subject }])] }, constrained)
    const crl = await crlOf(crlIssuer, [], { issuingDistributionPoint: { indirectCRL: true } })
    // The CA's own CRL establishes the CRL issuer's status; it does not cover the leaf (cRLIssuer).
    add(`indirect CRL issuer ${what} its CA's name constraints`, user, [crl, usersCaCrl], verdict, [constrained, crlIssuer])
  }

  // Delta CRLs combined with their base.
  const base = await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.certificateHold }], { crlNumber: 10 })
  const emptyBase = await crlOf(intermediate, [], { crlNumber: 10 })
  add('delta CRL revokes what the base does not', plain, [emptyBase, await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 11, deltaBase: 10 })], 'revoked')
  add('delta CRL lifts a hold (removeFromCRL)', plain, [base, await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.removeFromCRL }], { crlNumber: 11, deltaBase: 10 })], 'ok')
  add('delta CRL for a newer base than the one held', plain, [emptyBase, await crlOf(intermediate, [], { crlNumber: 21, deltaBase: 20 })], 'crl-unusable')
  add('delta CRL older than the complete CRL is superseded', plain, [await crlOf(intermediate, [], { crlNumber: 30 }), await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 11, deltaBase: 10 })], 'ok')

  // The same with a base that advertises its deltas (freshestCRL), as AD CS publishes them.
  const freshest = { freshestCrl: [{ uri: ['http://crl.example.test/delta.crl'] }] }
  const advertisedBase = await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.certificateHold }], { crlNumber: 10, ...freshest })
  const advertisedEmpty = await crlOf(intermediate, [], { crlNumber: 10, ...freshest })
  add('advertised delta CRL revokes what the base does not', plain, [advertisedEmpty, await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 11, deltaBase: 10 })], 'revoked')
  add('advertised delta CRL lifts a hold (removeFromCRL)', plain, [advertisedBase, await crlOf(intermediate, [{ serialNumber: plain.serialNumber, reason: CrlReason.removeFromCRL }], { crlNumber: 11, deltaBase: 10 })], 'ok')
  add('advertised delta CRL keeps the base\'s hold', plain, [advertisedBase, await crlOf(intermediate, [], { crlNumber: 11, deltaBase: 10 })], 'revoked')
  add('advertised delta CRL for a newer base than the one held', plain, [advertisedEmpty, await crlOf(intermediate, [], { crlNumber: 21, deltaBase: 20 })], 'crl-unusable')
  add('delta CRL without its base', plain, [await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 11, deltaBase: 10 })], 'crl-unusable')
  // A delta whose scope (only end-entity certificates) is no complete CRL's: it covers the leaf,
  // so its listing cannot be set aside; a delta out of the leaf's scope changes nothing.
  const userOnlyDelta = (revoked: RevokedEntry[]): Promise<IssuedCrl> => crlOf(intermediate, revoked, { crlNumber: 11, deltaBase: 10, issuingDistributionPoint: { onlyContainsUserCerts: true } })
  add('delta CRL of another scope than the complete CRL, listing the leaf', plain, [advertisedEmpty, await userOnlyDelta([{ serialNumber: plain.serialNumber }])], 'crl-unusable')
  add('delta CRL of another scope than the complete CRL, empty', plain, [advertisedEmpty, await userOnlyDelta([])], 'crl-unusable')
  const caOnlyDelta = await crlOf(intermediate, [{ serialNumber: plain.serialNumber }], { crlNumber: 11, deltaBase: 10, issuingDistributionPoint: { onlyContainsCACerts: true } })
  add('delta CRL out of the leaf\'s scope', plain, [advertisedEmpty, caOnlyDelta], 'ok')

  return out
}

/** What every random scenario shares: one PKI, a separate CRL signer and an indirect CRL issuer. */
export interface RandomRevocationFixtures {
  p: TestPki
  separateSigner: Issued
  indirectIssuer: Issued
}

export async function randomRevocationFixtures (): Promise<RandomRevocationFixtures> {
  const p = await createTestPki({ algorithm: 'p-256' })
  const issued = async (subject: Issued['subject']): Promise<Issued> => await createCertificate({
    subject, key: await generateKeyPair('p-256'), issuer: signer(p.root), keyUsage: ['cRLSign'], extendedKeyUsage: false
  }).then((c) => ({ ...c, key: c.spec.key }))
  return { p, separateSigner: await issued(p.intermediate.subject), indirectIssuer: await issued('CN=Indirect CRL Issuer') }
}

const REASON_FLAGS = ['keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded', 'cessationOfOperation', 'certificateHold', 'privilegeWithdrawn', 'aACompromise'] as const

/**
 * A random revocation PKI for differential testing (no expected verdict: the reference decides).
 * The leaf's distribution point (none, a URI, a URI with reasons, a cRLIssuer), its listing (with a
 * random reason, certificateHold included), who signs the CRL (the CA or a separate signer), the
 * CRL's scope (issuingDistributionPoint: names, only user or CA certificates, onlySomeReasons, two
 * partitions by reason), a delta CRL (advertised by freshestCRL in the base, so OpenSSL applies it
 * too) that lists the leaf or lifts its hold, an indirect CRL or one missing `indirectCRL`, and the
 * root's CRL revoking the intermediate. `rnd` is a seeded source (helpers/random.ts).
 */
export async function randomRevocationScenario (rnd: () => number, f: RandomRevocationFixtures, id: number): Promise<Scenario> {
  const { p, separateSigner, indirectIssuer } = f
  const pick = <X>(xs: readonly X[]): X => xs[Math.floor(rnd() * xs.length)]!
  const chance = (x: number): boolean => rnd() < x
  const subset = (): ReasonFlag[] => REASON_FLAGS.filter(() => chance(0.5))
  const uri = 'http://crl.example.test/a.crl'
  const name: string[] = []
  const dpKind = pick(['none', 'uri', 'uri-reasons', 'indirect'] as const)
  const dpReasons = dpKind === 'uri-reasons' ? subset() : []
  name.push(`dp ${dpKind}${dpReasons.length > 0 ? ` [${dpReasons.join(',')}]` : ''}`)
  const point = dpKind === 'indirect' ? { crlIssuer: indirectIssuer.subject } : { uri: [uri], ...(dpReasons.length > 0 ? { reasons: dpReasons } : {}) }
  const leaf = await p.issue({ subject: `CN=random leaf ${id}`, extendedKeyUsage: ['clientAuth'], extensions: dpKind === 'none' ? [] : [crlDistributionPoints([point])] })
  const reason = pick([undefined, CrlReason.unspecified, CrlReason.keyCompromise, CrlReason.superseded, CrlReason.certificateHold])
  const listed = chance(0.5)
  name.push(listed ? `leaf listed (reason ${reason ?? 'none'})` : 'leaf not listed')
  const entry: RevokedEntry[] = listed ? [{ serialNumber: leaf.serialNumber, ...(reason !== undefined ? { reason } : {}) }] : []
  const revokeIntermediate = chance(0.1)
  if (revokeIntermediate) name.push('intermediate revoked')
  const crls = [await createCrl({ issuer: signer(p.root), revoked: revokeIntermediate ? [{ serialNumber: p.intermediate.serialNumber }] : [] })]
  const chain: Issued[] = [p.intermediate]
  if (dpKind === 'indirect') {
    chain.push(indirectIssuer)
    const indirect = chance(0.8)
    name.push(indirect ? 'indirect CRL' : 'cRLIssuer\'s CRL not indirect')
    crls.push(await createCrl({
      issuer: signer(indirectIssuer),
      revoked: indirect ? entry.map((e) => ({ ...e, certificateIssuer: p.intermediate.subject })) : entry,
      ...(indirect ? { issuingDistributionPoint: { indirectCRL: true } } : {})
    }))
    return { name: name.join('; '), root: p.root, chain, crls, leaf, expect: '' }
  }
  const bySeparate = chance(0.3)
  if (bySeparate) chain.push(separateSigner)
  const who = bySeparate ? separateSigner : p.intermediate
  const partitions = pick([1, 1, 1, 2])
  const delta = partitions === 1 && chance(0.3)
  const byReason: ReasonFlag[] = ['keyCompromise', 'cACompromise', 'affiliationChanged', 'superseded']
  for (let part = 0; part < partitions; part++) {
    let idp: IssuingDistributionPointSpec | undefined
    if (partitions === 2) idp = { uri: [uri], onlySomeReasons: part === 0 ? byReason : REASON_FLAGS.filter((r) => !byReason.includes(r)) }
    else {
      const kind = pick(['none', 'none', 'uri', 'other uri', 'only user', 'only CA', 'reasons'] as const)
      const reasons = kind === 'reasons' ? subset() : []
      idp = kind === 'uri' ? { uri: [uri] } : kind === 'other uri' ? { uri: ['http://crl.example.test/other.crl'] } : kind === 'only user' ? { onlyContainsUserCerts: true } : kind === 'only CA' ? { onlyContainsCACerts: true } : reasons.length > 0 ? { onlySomeReasons: reasons } : undefined
    }
    name.push(`CRL ${part} by ${bySeparate ? 'a separate signer' : 'the CA'}, scope ${JSON.stringify(idp ?? 'all')}`)
    const inBase = listed && (!delta || chance(0.5))
    crls.push(await createCrl({
      issuer: signer(who),
      revoked: inBase ? entry : [],
      crlNumber: 10,
      ...(idp !== undefined ? { issuingDistributionPoint: idp } : {}),
      ...(delta ? { freshestCrl: [{ uri: ['http://crl.example.test/delta.crl'] }] } : {})
    }))
    if (delta) {
      const lift = inBase && reason === CrlReason.certificateHold && chance(0.5)
      const deltaEntries: RevokedEntry[] = listed && !inBase ? entry : lift ? [{ serialNumber: leaf.serialNumber, reason: CrlReason.removeFromCRL }] : []
      name.push(`delta CRL ${listed && !inBase ? 'lists the leaf' : lift ? 'lifts the hold' : 'empty'}`)
      crls.push(await createCrl({ issuer: signer(who), revoked: deltaEntries, crlNumber: 11, deltaBase: 10, ...(idp !== undefined ? { issuingDistributionPoint: idp } : {}) }))
    }
  }
  return { name: name.join('; '), root: p.root, chain, crls, leaf, expect: '' }
}
