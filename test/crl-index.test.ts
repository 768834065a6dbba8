/**
 * The compact CRL index (issue 16: a 50 MB CRL loads with bounded memory): lookups answer exactly as
 * a Map keyed by (certificate issuer, serialKey) would (RFC 5280 4.1.2.2 signed serials, 5.3.3
 * certificateIssuer, later duplicates win), and the incremental parser used by the S3 loader gives
 * the same CRL as the synchronous one.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CrlError, findEntry, loadCrlMaterial, parseCrl, parseCrlAsync, prepareCrl, serialKey, type ParsedCrl } from '../src/validation/crl.js'
import { nameKey, parseNameDer } from '../src/x509/names.js'
import { readOne } from '../src/x509/der.js'
import { createCrl, createTestPki, encodeName, type RevokedEntry, type TestPki } from '../src/testing/index.js'
import { fuzzParameters } from './helpers/hostile.js'
import { checkSignature, preverifySignature, publicKeyOf } from '../src/validation/signature.js'
import { parseCertificate } from '../src/x509/parse.js'

let p: TestPki
before(async () => {
  p = await createTestPki()
})

const OTHERS = ['CN=Other CA', 'CN=Third CA'] as const
const keyOf = (name: string): string => nameKey(parseNameDer(readOne(encodeName(name))))

async function crlOf (revoked: RevokedEntry[], indirect = false): Promise<ParsedCrl & { bytes: Uint8Array }> {
  const crl = await createCrl({
    issuer: { certificate: p.intermediate, key: p.intermediate.key },
    revoked,
    ...(indirect ? { issuingDistributionPoint: { indirectCRL: true } } : {})
  })
  return Object.assign(parseCrl(crl.der), { bytes: crl.der })
}

test('signed serials, non-minimal encodings and repeated entries', async () => {
  const crl = await crlOf([
    { serialNumber: new Uint8Array([0x00, 0xff]), reason: 1 },
    { serialNumber: -1n },
    { serialNumber: 0x1234n, reason: 1 },
    { serialNumber: new Uint8Array([0x00, 0x00, 0x12, 0x35]), reason: 4 },
    { serialNumber: 0x1234n, reason: 6 }
  ])
  const at = (bytes: number[]): ReturnType<typeof findEntry> => findEntry(crl, crl.issuerKey, new Uint8Array(bytes))
  // +255 and -1 are different serials (RFC 5280 4.1.2.2: INTEGERs).
  assert.deepEqual(at([0x00, 0xff]), { reason: 1, issuerKey: crl.issuerKey })
  assert.deepEqual(at([0xff]), { reason: null, issuerKey: crl.issuerKey })
  assert.deepEqual(at([0xff, 0xff]), { reason: null, issuerKey: crl.issuerKey })
  // The later entry of a repeated serial wins, as Map.set did.
  assert.equal(at([0x12, 0x34])?.reason, 6)
  assert.equal(at([0x12, 0x35])?.reason, 4)
  assert.equal(at([0x00, 0x12, 0x35])?.reason, 4)
  assert.equal(at([0x12]), undefined)
  assert.equal(at([0x01, 0xff]), undefined)
  assert.equal(findEntry(crl, keyOf(OTHERS[0]), new Uint8Array([0x12, 0x34])), undefined)
  assert.equal(crl.entries.size, 4)
})

test('indirect CRLs: certificateIssuer names the issuer of its entry and of the ones after it', async () => {
  const crl = await crlOf([
    { serialNumber: 5n },
    { serialNumber: 6n, reason: 1, certificateIssuer: OTHERS[0] },
    { serialNumber: 7n },
    { serialNumber: 5n, reason: 9, certificateIssuer: OTHERS[1] }
  ], true)
  const other = keyOf(OTHERS[0])
  const third = keyOf(OTHERS[1])
  assert.equal(findEntry(crl, crl.issuerKey, new Uint8Array([5]))?.reason, null)
  assert.equal(findEntry(crl, crl.issuerKey, new Uint8Array([6])), undefined)
  assert.deepEqual(findEntry(crl, other, new Uint8Array([6])), { reason: 1, issuerKey: other })
  assert.deepEqual(findEntry(crl, other, new Uint8Array([7])), { reason: null, issuerKey: other })
  assert.equal(findEntry(crl, other, new Uint8Array([5])), undefined)
  assert.deepEqual(findEntry(crl, third, new Uint8Array([5])), { reason: 9, issuerKey: third })
  assert.equal(findEntry(crl, keyOf('CN=Nobody'), new Uint8Array([5])), undefined)
  assert.equal(crl.entries.size, 4)
})

test('property: findEntry answers as a Map of (issuer, serialKey) -> entry, later entries winning', async () => {
  const serial = fc.oneof(
    fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
    // Content octets as given, leading 00 / ff octets included.
    fc.uint8Array({ minLength: 1, maxLength: 4 }),
    fc.constantFrom(0n, -1n, 127n, 128n, 255n, -128n, -129n)
  )
  const entry = fc.record({
    serialNumber: serial,
    reason: fc.option(fc.constantFrom(0, 1, 3, 4, 5, 6, 9, 10), { nil: undefined }),
    certificateIssuer: fc.option(fc.constantFrom(...OTHERS), { nil: undefined, freq: 4 })
  })
  const bytesOf = (s: bigint | Uint8Array): Uint8Array => {
    if (s instanceof Uint8Array) return s
    // Minimal two's complement, as the factory writes it.
    let hex = (s < 0n ? (1n << BigInt(8 * (Math.ceil((s.toString(2).length) / 8) + 1))) + s : s).toString(16)
    if (hex.length % 2 === 1) hex = '0' + hex
    let bytes = Buffer.from(hex, 'hex')
    if (s >= 0n && (bytes[0]! & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes])
    return new Uint8Array(bytes)
  }
  await fc.assert(fc.asyncProperty(fc.array(entry, { minLength: 1, maxLength: 24 }), fc.boolean(), async (entries, indirect) => {
    const revoked: RevokedEntry[] = entries.map((e) => ({
      serialNumber: e.serialNumber,
      ...(e.reason !== undefined ? { reason: e.reason } : {}),
      ...(indirect && e.certificateIssuer !== undefined ? { certificateIssuer: e.certificateIssuer } : {})
    }))
    const crl = await crlOf(revoked, indirect)
    const model = new Map<string, { reason: number | null, issuerKey: string }>()
    let issuer = crl.issuerKey
    const queries: Array<[string, Uint8Array]> = []
    for (const r of revoked) {
      if (r.certificateIssuer !== undefined) issuer = keyOf(r.certificateIssuer as string)
      const bytes = bytesOf(r.serialNumber as bigint | Uint8Array)
      model.set(`${issuer} ${serialKey(bytes)}`, { reason: r.reason ?? null, issuerKey: issuer })
      for (const who of [crl.issuerKey, ...OTHERS.map(keyOf)]) queries.push([who, bytes], [who, new Uint8Array([...bytes, 1])], [who, new Uint8Array([0xff, ...bytes])])
    }
    assert.equal(crl.entries.size, model.size)
    for (const [who, bytes] of queries) {
      assert.deepEqual(findEntry(crl, who, bytes), model.get(`${who} ${serialKey(bytes)}`), `${who} ${Buffer.from(bytes).toString('hex')}`)
    }
  }), fuzzParameters(40))
})

test('parseCrlAsync gives what parseCrl gives; loadCrlMaterial takes a prepared CRL for that very buffer', async () => {
  const revoked: RevokedEntry[] = Array.from({ length: 3000 }, (_, i) => ({ serialNumber: BigInt(0x10000 + i * 7), reason: 1 }))
  revoked.push({ serialNumber: BigInt('0x' + p.leaf.serialNumber), reason: 6 })
  const { der } = await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, revoked })
  const sync = parseCrl(der)
  const async = await parseCrlAsync(der)
  assert.equal(async.entries.size, 3001)
  assert.equal(async.entries.size, sync.entries.size)
  assert.equal(async.crlNumber, sync.crlNumber)
  assert.equal(async.issuerKey, sync.issuerKey)
  for (const n of [0x10000, 0x10000 + 7 * 2999, 0x10000 + 7 * 1500, 0x10001, BigInt('0x' + p.leaf.serialNumber)]) {
    const bytes = new Uint8Array(Buffer.from(n.toString(16).padStart(2 * Math.ceil(n.toString(16).length / 2), '0'), 'hex'))
    const serial = (bytes[0]! & 0x80) !== 0 ? new Uint8Array([0, ...bytes]) : bytes
    assert.deepEqual(findEntry(async, async.issuerKey, serial), findEntry(sync, sync.issuerKey, serial))
  }
  assert.equal(findEntry(async, async.issuerKey, new Uint8Array(Buffer.from(p.leaf.serialNumber, 'hex')))?.reason ?? 'absent', findEntry(sync, sync.issuerKey, new Uint8Array(Buffer.from(p.leaf.serialNumber, 'hex')))?.reason ?? 'absent')

  const owned = new Uint8Array(der)
  const prepared = await prepareCrl(owned)
  assert.equal(await prepareCrl(owned), prepared)
  assert.equal(loadCrlMaterial([owned]).crls[0], prepared)
  // Equal bytes in another buffer: parsed (and copied) on their own.
  const copy = new Uint8Array(der)
  const loaded = loadCrlMaterial([copy]).crls[0]!
  assert.notEqual(loaded, prepared)
  assert.notEqual(loaded.der.buffer, copy.buffer)
})

test('a bad entry deep in a large CRL is refused by both parsers', async () => {
  const revoked: RevokedEntry[] = Array.from({ length: 3000 }, (_, i) => ({ serialNumber: BigInt(0x10000 + i), reason: 1 }))
  const { der } = await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, revoked })
  // reasonCode extnValue: 0a 01 01 (ENUMERATED keyCompromise); make the 2,500th one 7 (unused).
  const marker = Buffer.from('0603551d1504030a01', 'hex')
  const bytes = Buffer.from(der)
  let at = -1
  for (let n = 0; n < 2500; n++) at = bytes.indexOf(marker, at + 1)
  assert.ok(at > 0)
  bytes[at + marker.length] = 7
  assert.throws(() => parseCrl(bytes), (err: unknown) => err instanceof CrlError && /bad reasonCode/.test(err.message))
  await assert.rejects(parseCrlAsync(bytes), (err: unknown) => err instanceof CrlError && /bad reasonCode/.test(err.message))
  // A removeFromCRL (8) in a complete CRL, past the first slices.
  bytes[at + marker.length] = 8
  await assert.rejects(parseCrlAsync(bytes), /removeFromCRL in a CRL that is not a delta CRL/)
})

test('PEM: CRLF lines, Unicode whitespace in a body, text between blocks, a body off by one character', async () => {
  const { der, pem } = await createCrl({ issuer: { certificate: p.intermediate, key: p.intermediate.key }, revoked: [{ serialNumber: 42n }] })
  const same = (text: string): void => {
    const [crl] = loadCrlMaterial(text).crls
    assert.ok(Buffer.from(crl!.der).equals(Buffer.from(der)))
  }
  same(pem.replace(/\n/g, '\r\n'))
  same(pem.replace(/\n(?=[A-Za-z0-9+/])/, '\n\u00a0'))
  same(`\n\n${pem}\n\t\n`)
  assert.throws(() => loadCrlMaterial(`${pem}stray text\n${pem}`), /outside "X509 CRL"/)
  assert.throws(() => loadCrlMaterial(pem.replace(/\n(?=[A-Za-z0-9+/])/, '\nA')), /not valid base64/)
  assert.throws(() => loadCrlMaterial(Buffer.from(pem.replace(/\n(?=[A-Za-z0-9+/])/, '\nA'))), /not valid base64/)
})

test('preverifySignature (streamed in slices) records what checkSignature would answer, key by key', async () => {
  const policy = { minRsaKeyBits: 2048, allowSha1: false }
  const issuer = { certificate: p.intermediate, key: p.intermediate.key }
  const right = publicKeyOf(parseCertificate(p.intermediate.der), policy)
  const wrong = publicKeyOf(parseCertificate(p.root.der), policy)
  if ('reason' in right || 'reason' in wrong) throw new Error('test keys refused')
  // Over 4 MiB of entries: the signed part is hashed in more than one slice.
  const revoked = Array.from({ length: 200_000 }, (_, i) => ({ serialNumber: BigInt(0x1000000 + i) }))
  const good = parseCrl((await createCrl({ issuer, revoked })).der)
  assert.ok(good.tbs.length > 4 * 1024 * 1024)
  const forged = parseCrl((await createCrl({ issuer, corruptSignature: true })).der)
  // Fresh objects checked synchronously: the reference answers.
  const expected = [
    checkSignature(parseCrl(good.der.slice()), right, policy),
    checkSignature(parseCrl(good.der.slice()), wrong, policy),
    checkSignature(parseCrl(forged.der.slice()), right, policy)
  ]
  assert.deepEqual(expected.map((e) => e?.reason ?? null), [null, 'bad-signature', 'bad-signature'])
  // The wrong key first: its failure must not stick to the right key, nor the reverse.
  await preverifySignature(good, wrong)
  await preverifySignature(good, right)
  await preverifySignature(forged, right)
  assert.deepEqual([checkSignature(good, right, policy), checkSignature(good, wrong, policy), checkSignature(forged, right, policy)], expected)
})

test('property: on hostile bytes parseCrlAsync fails or succeeds exactly as parseCrl does', async () => {
  const { der } = await createCrl({
    issuer: { certificate: p.intermediate, key: p.intermediate.key },
    revoked: [{ serialNumber: 5n, reason: 1, certificateIssuer: OTHERS[0] }, { serialNumber: -3n }, { serialNumber: 7n, reason: 6 }],
    issuingDistributionPoint: { indirectCRL: true },
    deltaBase: 1,
    crlNumber: 2
  })
  const outcome = (f: () => ParsedCrl): string => {
    try {
      return `ok ${f().entries.size}`
    } catch (err) {
      assert.ok(err instanceof CrlError, String(err))
      return err.message
    }
  }
  await fc.assert(fc.asyncProperty(fc.array(fc.tuple(fc.nat(der.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }), async (changes) => {
    const bytes = der.slice()
    for (const [at, byte] of changes) bytes[at] = byte
    let async: string
    try {
      async = `ok ${(await parseCrlAsync(bytes)).entries.size}`
    } catch (err) {
      assert.ok(err instanceof CrlError, String(err))
      async = err.message
    }
    assert.equal(async, outcome(() => parseCrl(bytes)))
  }), fuzzParameters(300))
})
