/**
 * The fast certificate reader (src/x509/parse-der.ts) against the reference parser (asn1js + pkijs):
 * on every certificate the fast reader takes, the reference must accept it too and read the same
 * fields; and parseCertificate (fast reader, else reference) must give exactly the reference's result
 * or error, on generated certificates, the x509-limbo corpus, and mutated DER.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import * as asn1js from 'asn1js'
import { oidFast, timeFast } from '../src/x509/parse-der.js'
import { parseCertificate, parseCertificateFast, parseCertificateReference, type ParsedCertificate } from '../src/x509/parse.js'
import { createTestPki, type TestPki } from '../src/testing/index.js'
import { loadCases } from './conformance/limbo.js'
import { prng } from './helpers/random.js'

/** Everything a ParsedCertificate says, as comparable plain data. */
function plain (cert: ParsedCertificate): unknown {
  const params = cert.signatureParams as asn1js.AsnType | undefined
  const copy = {
    ...cert,
    signatureParams: params === undefined ? 'absent' : `${params.constructor.name}:${Buffer.from(params.toBER()).toString('hex')}`
  }
  return JSON.parse(JSON.stringify(copy, (_key, value: unknown) => {
    if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')
    return value
  })) as unknown
}

/** notBefore/notAfter become ISO strings through JSON; compare the instants exactly as well. */
function same (fast: ParsedCertificate, reference: ParsedCertificate, label: string): void {
  assert.deepEqual(plain(fast), plain(reference), label)
  assert.equal(fast.notBefore.getTime(), reference.notBefore.getTime(), label)
  assert.equal(fast.notAfter.getTime(), reference.notAfter.getTime(), label)
}

type Outcome = { ok: true, cert: ParsedCertificate } | { ok: false, error: string }

function attempt (fn: () => ParsedCertificate): Outcome {
  try {
    return { ok: true, cert: fn() }
  } catch (err) {
    return { ok: false, error: `${(err as Error).constructor.name}: ${(err as Error).message}` }
  }
}

/** Checks one DER; returns whether the fast reader took it. */
function compare (der: Uint8Array, label: string): boolean {
  const reference = attempt(() => parseCertificateReference(der))
  let fast: ParsedCertificate | null = null
  try {
    fast = parseCertificateFast(der)
  } catch {
    fast = null
  }
  if (fast !== null) {
    assert.ok(reference.ok, `fast reader accepted what the reference refuses (${label}): ${reference.ok ? '' : reference.error}`)
    same(fast, reference.cert, label)
  }
  // The path the verifier takes: same result or the same error as the reference.
  const combined = attempt(() => parseCertificate(new Uint8Array(der)))
  assert.equal(combined.ok, reference.ok, label)
  if (combined.ok && reference.ok) same(combined.cert, reference.cert, label)
  else if (!combined.ok && !reference.ok) assert.equal(combined.error, reference.error, label)
  return fast !== null
}

function limboCertificates (): Array<[string, Uint8Array]> {
  const out: Array<[string, Uint8Array]> = []
  const seen = new Set<string>()
  for (const c of loadCases()) {
    for (const pem of [...c.trusted_certs, ...c.untrusted_intermediates, c.peer_certificate]) {
      if (seen.has(pem)) continue
      seen.add(pem)
      let der: Uint8Array
      try {
        der = new Uint8Array(new X509Certificate(pem).raw)
      } catch {
        const b64 = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
        der = new Uint8Array(Buffer.from(b64, 'base64'))
      }
      out.push([c.id, der])
    }
  }
  return out
}

test('x509-limbo corpus: the fast reader reads what the reference reads, and parseCertificate matches the reference', () => {
  const certs = limboCertificates()
  let taken = 0
  for (const [id, der] of certs) if (compare(der, id)) taken++
  assert.ok(certs.length > 300, `only ${certs.length} certificates in the corpus`)
  // Most limbo certificates are canonical DER; the rest exercise the fallback.
  assert.ok(taken > certs.length / 2, `fast reader took only ${taken} of ${certs.length}`)
  assert.ok(taken < certs.length, 'no certificate exercised the fallback')
})

let pkis: TestPki[] | undefined
async function generated (): Promise<Array<[string, Uint8Array]>> {
  pkis ??= await Promise.all((['p-256', 'rsa-2048', 'ed25519', 'p-384'] as const).map(async (algorithm) => createTestPki({ algorithm })))
  const out: Array<[string, Uint8Array]> = []
  for (const pki of pkis) {
    out.push(['root', pki.root.der], ['intermediate', pki.intermediate.der], ['leaf', pki.leaf.der])
    const specs = [
      { subject: 'CN=names,O=Ünïcode Org,OU=a+OU=b,C=DE', san: { dns: ['a.example'], uri: ['spiffe://example.org/x'], email: ['a@example.org'], ip: ['10.0.0.1', '::1'] } },
      { subject: 'CN=no eku', extendedKeyUsage: false as const, keyUsage: false as const },
      { subject: 'CN=pathlen', ca: { pathLength: 3 } },
      { subject: 'CN=bc not critical', basicConstraints: { ca: false, critical: false } },
      { subject: 'CN=explicit false', basicConstraints: { ca: false } },
      { subject: 'CN=critical eku', extendedKeyUsage: ['clientAuth', 'serverAuth', '1.3.6.1.4.1.311.20.2.2'], extendedKeyUsageCritical: true },
      { subject: 'CN=ku many', keyUsage: ['digitalSignature', 'keyEncipherment', 'keyAgreement', 'decipherOnly'] as Array<'digitalSignature'> },
      { subject: 'CN=nc', ca: true, nameConstraints: { permitted: { dns: ['example.com'] }, excluded: { ip: ['10.0.0.0/8'] } } },
      { subject: 'CN=v1', version: 1 as const },
      { subject: 'CN=pss', rsaPss: true },
      { subject: 'CN=2050', notBefore: new Date('2049-12-31T23:59:59Z'), notAfter: new Date('2050-01-01T00:00:00Z') },
      { subject: 'CN=1999', notBefore: new Date('1999-02-28T12:00:00Z'), notAfter: new Date('2100-02-28T00:00:00Z') },
      { subject: 'CN=unknown ext', extensions: [{ oid: '1.2.3.4.5.6.7', value: new Uint8Array([0x05, 0x00]) }, { oid: '2.5.29.32', value: new Uint8Array([0x30, 0x08, 0x30, 0x06, 0x06, 0x04, 0x55, 0x1d, 0x20, 0x00]) }] },
      { subject: 'CN=dup', extensions: [{ oid: '2.5.29.37', value: new Uint8Array([0x30, 0x00]) }] },
      { subject: 'CN=bad ku', extensions: [{ oid: '2.5.29.15', value: new Uint8Array([0x02, 0x01, 0x05]) }] },
      { subject: 'CN=big serial', serialNumber: '00ff' + 'ab'.repeat(19) },
      { subject: [[['CN', 'multi']], [['2.5.4.45', 'x']]] as Array<Array<[string, string]>> }
    ]
    for (const spec of specs) {
      if (spec.subject === 'CN=pss' && pki !== pkis[1]) continue
      try {
        const issued = await pki.issue(spec as Parameters<TestPki['issue']>[0], pki.intermediate)
        out.push([`${spec.subject as string}`, issued.der])
      } catch {
        // A spec the factory does not support for this key type.
      }
    }
  }
  return out
}

test('generated certificates: the fast reader takes the usual ones and reads them as the reference does', async () => {
  let taken = 0
  const certs = await generated()
  for (const [label, der] of certs) if (compare(der, label)) taken++
  assert.ok(taken >= certs.length - 8, `fast reader took only ${taken} of ${certs.length}`)
})

test('mutated DER: parseCertificate gives the reference result or error, and the fast reader never accepts more', async () => {
  const rand = prng(2024)
  const seeds = (await generated()).map(([, der]) => der)
  const interesting = [0x00, 0x01, 0x02, 0x04, 0x05, 0x06, 0x0c, 0x13, 0x16, 0x17, 0x18, 0x1e, 0x30, 0x31, 0x7f, 0x80, 0x81, 0xa0, 0xa3, 0xff]
  let taken = 0
  const rounds = 1500
  for (let round = 0; round < rounds; round++) {
    const der = new Uint8Array(seeds[Math.floor(rand() * seeds.length)]!)
    // Same-length edits keep the outer envelope readable, so the mutation reaches the TBS.
    const edits = 1 + Math.floor(rand() * 3)
    for (let e = 0; e < edits; e++) {
      const at = 4 + Math.floor(rand() * (der.length - 4))
      der[at] = rand() < 0.5 ? interesting[Math.floor(rand() * interesting.length)]! : Math.floor(rand() * 256)
    }
    if (compare(der, `round ${round}`)) taken++
  }
  assert.ok(taken > rounds / 10, `fast reader took only ${taken} of ${rounds} mutants`)
})

test('times: the fast reader takes canonical UTCTime/GeneralizedTime values and reads the instant asn1js reads', () => {
  const texts: Array<[number, string]> = []
  for (let yy = 0; yy < 100; yy++) texts.push([0x17, `${String(yy).padStart(2, '0')}0615120000Z`])
  for (const year of ['0000', '0050', '0099', '0100', '0999', '1000', '1899', '1950', '1999', '2000', '2049', '2050', '2100', '9999']) {
    texts.push([0x18, `${year}0615120000Z`], [0x18, `${year}0229000000Z`], [0x18, `${year}1231235959Z`])
  }
  for (const [month, day] of [[0, 1], [1, 0], [1, 31], [1, 32], [2, 28], [2, 29], [2, 30], [4, 30], [4, 31], [12, 31], [13, 1], [99, 99]]) {
    const md = `${String(month).padStart(2, '0')}${String(day).padStart(2, '0')}`
    for (const prefix of ['00', '24', '96']) texts.push([0x17, `${prefix}${md}000000Z`])
    for (const year of ['1900', '2000', '2023', '2024']) texts.push([0x18, `${year}${md}000000Z`])
  }
  for (const hms of ['000000', '235959', '240000', '236000', '235960', '999999']) texts.push([0x17, `250101${hms}Z`], [0x18, `20250101${hms}Z`])
  for (const odd of ['2501011200Z', '250101120000', '250101120000+0100', '2501011200000Z', ' 50101120000Z', '25010112000aZ', '-50101120000Z']) texts.push([0x17, odd])
  for (const odd of ['20250101120000.5Z', '202501011200Z', '20250101120000+0100', '20250101120000', '2025010112Z', '+0250101120000Z']) texts.push([0x18, odd])
  let taken = 0
  for (const [tag, text] of texts) {
    const value = Buffer.from(text, 'latin1')
    const der = new Uint8Array([tag, value.length, ...value])
    const fast = timeFast({ tag, der, value: new Uint8Array(value) })
    if (fast === null) continue
    taken++
    const block = asn1js.fromBER(der).result as asn1js.UTCTime
    assert.equal(fast.getTime(), block.toDate().getTime(), `${tag} ${text}`)
  }
  assert.ok(taken > 100, `only ${taken} times taken`)
  // Lenient forms and impossible dates stay with the reference.
  for (const text of ['010229000000Z', '250231000000Z', '250101240000Z', '250431000000Z']) {
    const value = Buffer.from(text, 'latin1')
    assert.equal(timeFast({ tag: 0x17, der: new Uint8Array([0x17, 13, ...value]), value: new Uint8Array(value) }), null, text)
  }
})

test('OIDs: the fast reader formats every encoding it takes as asn1js does', () => {
  const rand = prng(77)
  const arcBytes = [0x00, 0x01, 0x27, 0x28, 0x4f, 0x50, 0x7f, 0x80, 0x81, 0x86, 0xff, 0x8f]
  let taken = 0
  for (let round = 0; round < 5000; round++) {
    const n = 1 + Math.floor(rand() * 12)
    const bytes = Array.from({ length: n }, () => rand() < 0.6 ? arcBytes[Math.floor(rand() * arcBytes.length)]! : Math.floor(rand() * 256))
    const fast = oidFast(new Uint8Array(bytes))
    if (fast === null) continue
    taken++
    const parsed = asn1js.fromBER(new Uint8Array([0x06, n, ...bytes]))
    assert.notEqual(parsed.offset, -1, bytes.join(','))
    assert.equal(fast, (parsed.result as asn1js.ObjectIdentifier).valueBlock.toString(), bytes.join(','))
  }
  assert.ok(taken > 500, `only ${taken} OIDs taken`)
})

test('interpreted extensions in canonical and odd encodings: parseCertificate reads them as the reference does', async () => {
  const pki = pkis?.[0] ?? await createTestPki({ algorithm: 'p-256' })
  const hex = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'))
  const values: Array<[string, string]> = [
    ['2.5.29.19', '3000'], ['2.5.29.19', '30030101ff'], ['2.5.29.19', '3003010100'], ['2.5.29.19', '3003010101'],
    ['2.5.29.19', '3003020100'], ['2.5.29.19', '300302017f'], ['2.5.29.19', '3003020180'], ['2.5.29.19', '300402020080'],
    ['2.5.29.19', '300402020005'], ['2.5.29.19', '30060101ff020103'], ['2.5.29.19', '30060201030101ff'], ['2.5.29.19', '30050101ff0500'],
    ['2.5.29.19', '300702050100000000'], ['2.5.29.19', '300602047fffffff'], ['2.5.29.19', '3006020480000000'], ['2.5.29.19', '0400'],
    ['2.5.29.19', '30030101ff00'], ['2.5.29.19', '3080010101ff0000'],
    ['2.5.29.15', '030100'], ['2.5.29.15', '03020780'], ['2.5.29.15', '030200ff'], ['2.5.29.15', '030307ff80'], ['2.5.29.15', '03020800'],
    ['2.5.29.15', '0300'], ['2.5.29.15', '040100'], ['2.5.29.15', '020105'], ['2.5.29.15', '0302008000'], ['2.5.29.15', '2304030200ff'],
    ['2.5.29.37', '3000'], ['2.5.29.37', '300a06082b06010505070302'], ['2.5.29.37', '300a06082b0601050507808302'],
    ['2.5.29.37', '300906072b06010505078f'], ['2.5.29.37', '3003020100'], ['2.5.29.37', '300706052b8fffffff7f'], ['2.5.29.37', '06082b06010505070302'],
    ['2.5.29.14', '0400'], ['2.5.29.14', '0401aa'], ['2.5.29.14', '0414' + '11'.repeat(20)], ['2.5.29.14', '030200aa'], ['2.5.29.14', '0401aa00'],
    ['2.5.29.14', '2403 0401aa'],
    ['2.5.29.35', '3000'], ['2.5.29.35', '30038001aa'], ['2.5.29.35', '30028000'], ['2.5.29.35', '30068001aa820101'], ['2.5.29.35', '30038101aa'],
    ['2.5.29.35', '3005a003 0401aa'], ['2.5.29.35', '3003 0401aa'], ['2.5.29.35', '30038001aa00'],
    ['2.5.29.32', '3000'], ['2.5.29.32', '3008300606045 51d2000'.replace(' ', '')], ['2.5.29.32', '0500'], ['2.5.29.54', '020100'], ['2.5.29.54', 'ff'],
    ['2.5.29.31', '3000'], ['2.5.29.31', '02'], ['1.2.3.4', '180f32303235303130313132303030305a'], ['1.2.3.4', '1803313233']
  ]
  for (const [oid, value] of values) {
    for (const critical of [false, true]) {
      const issued = await pki.issue({
        subject: `CN=ext ${oid} ${value}`,
        keyUsage: false,
        extendedKeyUsage: false,
        subjectKeyIdentifier: false,
        authorityKeyIdentifier: false,
        extensions: [{ oid, value: hex(value), critical }]
      }, pki.intermediate)
      compare(issued.der, `${oid} ${value} critical=${critical}`)
    }
  }
})
