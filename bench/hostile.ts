/**
 * Hostile chains (issue 12): the costliest headers we know how to build, each validated uncached
 * and with cold issuer and key caches (an attacker can make every certificate and key new on every
 * request), and
 * printed as a ratio to a valid RSA-2048 leaf + intermediate measured the same way in the same run.
 * Target: every ratio <= 10.
 *
 * None of these needs a CA: every one is refused (no path, weak key, ...). What is measured is the
 * work done before the refusal.
 */
import { createCertificate, createTestPki, generateKeyPair, toAlbHeader } from '../src/testing/index.js'
import { clearIssuerCache } from '../src/x509/parse.js'
import { clearKeyCache } from '../src/validation/signature.js'
import { createVerifier } from '../src/verifier/verifier.js'
import { nullBomb, rsaKeyWithExponent, selfIssuedFan, UNKNOWN_EXTENSION_OID } from '../test/helpers/hostile.js'
import type { Fixtures } from './fixtures.js'
import { buildLargeCrl, crlPem } from './large-crl.js'

export interface HostileRow {
  name: string
  /** Median ms per uncached validation. */
  ms: number
  /** ms / the valid chain's ms. */
  ratio: number
  /** The verdict (reason), to show each case is refused for the intended reason. */
  verdict: string
  headerBytes: number
}

export interface HostileResult {
  validMs: number
  rows: HostileRow[]
  target: number
}

interface Case { name: string, header: string }

async function cases (fx: Fixtures, quick: boolean): Promise<Case[]> {
  const out: Case[] = []
  const pem = (certs: Array<{ pem: string }>): string => toAlbHeader(certs.map((c) => c.pem))

  const hugeE = await rsaKeyWithExponent(3072)
  const rsaFan = await selfIssuedFan(hugeE, 5)
  out.push({ name: 'RSA-3072, e of 3071 bits: leaf + 5 self-issued CAs, one key', header: pem([rsaFan.leaf, ...rsaFan.cas]) })

  const p521 = await selfIssuedFan('p-521', 5)
  out.push({ name: 'P-521: leaf + 5 self-issued CAs, one key', header: pem([p521.leaf, ...p521.cas]) })

  const p521Ring = await selfIssuedFan('p-521', 5, true)
  out.push({ name: 'P-521: leaf + 5 self-issued CAs, 5 keys in a ring, one SKI', header: pem([p521Ring.leaf, ...p521Ring.cas]) })

  const p384Ring = await selfIssuedFan('p-384', 5, true)
  out.push({ name: 'P-384: leaf + 5 self-issued CAs, 5 keys in a ring, one SKI', header: pem([p384Ring.leaf, ...p384Ring.cas]) })

  // Named like the real intermediate (which comes along): names reach the root, so the search
  // has to check signatures, and only the work budget bounds it.
  const realName = fx.pki.intermediate.subject
  const p521Named = await selfIssuedFan('p-521', 4, true, realName)
  out.push({ name: 'P-521: leaf + 4 self-issued CAs named as the real intermediate (+ it), 4 keys in a ring', header: pem([p521Named.leaf, ...p521Named.cas, fx.pki.intermediate]) })
  const p256Named = await selfIssuedFan('p-256', 4, true, realName)
  out.push({ name: 'P-256: the same, 4 keys in a ring', header: pem([p256Named.leaf, ...p256Named.cas, fx.pki.intermediate]) })

  if (!quick) {
    // The largest exponent a sane-range rule still allows, on the largest ALB-accepted modulus
    // that generates in reasonable time.
    const bigE = await rsaKeyWithExponent(4096, 0xffff_fffbn)
    const rsa4096 = await selfIssuedFan(bigE, 5)
    out.push({ name: 'RSA-4096, e = 2^32-5: leaf + 5 self-issued CAs, one key', header: pem([rsa4096.leaf, ...rsa4096.cas]) })
  }

  // A leaf of ~11 KB (the most a 16 KB header holds) whose unknown non-critical extension is 5,000 NULLs.
  const key = await generateKeyPair('p-256')
  const bomb = await createCertificate({ subject: 'CN=bomb', key, extensions: [{ oid: UNKNOWN_EXTENSION_OID, value: nullBomb(5000) }] })
  out.push({ name: 'leaf with an unknown extension of 5,000 NULLs (~11 KB)', header: pem([bomb]) })

  // A self-signed leaf whose subject is 350 one-attribute RDNs (twice: ~11 KB): name parsing, keys and text.
  const rdns = Array.from({ length: 350 }, (_, i) => [['OU', `u${i}`] as [string, string]])
  const wide = await createCertificate({ subject: [...rdns, [['CN', 'wide']]], key })
  out.push({ name: 'leaf whose subject (and issuer) has 350 RDNs (~11 KB)', header: pem([wide]) })
  return out
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  return s[s.length >> 1]!
}

/** `header`: one header for every round, or one per round (certificates made new each time). */
function timer (verifier: ReturnType<typeof createVerifier>, rounds: number): (header: string | readonly string[]) => { ms: number, verdict: string } {
  return (header) => {
    let verdict = ''
    const samples: number[] = []
    for (let i = 0; i < rounds + 2; i++) {
      clearIssuerCache()
      clearKeyCache()
      const start = process.hrtime.bigint()
      const r = verifier.verifySync(typeof header === 'string' ? header : header[i % header.length]!)
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      verdict = r.ok ? 'accepted' : r.reason
      // The first two calls warm the JIT for this input's paths.
      if (i >= 2) samples.push(ms)
    }
    return { ms: median(samples), verdict }
  }
}

export async function runHostile (fx: Fixtures, quick: boolean): Promise<HostileResult> {
  const rounds = quick ? 5 : 25
  const time = timer(createVerifier({ roots: fx.pki.root.pem, cache: false }), rounds)
  const all = await cases(fx, quick)
  // Interleave the valid chain with the hostile ones so machine load drifts hit both alike.
  const valid: number[] = []
  const rows: HostileRow[] = []
  for (const c of all) {
    valid.push(time(fx.header).ms)
    const { ms, verdict } = time(c.header)
    rows.push({ name: c.name, ms, ratio: 0, verdict, headerBytes: c.header.length })
  }
  valid.push(time(fx.header).ms)
  const validMs = median(valid)
  for (const row of rows) row.ratio = row.ms / validMs
  return { validMs, rows, target: 10 }
}

export interface RevocationHostileResult {
  crlBytes: number
  /** A valid leaf + intermediate on the verifier holding the CRL (the unit of this row). */
  validMs: number
  row: HostileRow
}

/**
 * A client with a valid certificate, against a verifier whose issuing CA's large CRL is signed by a
 * separate CRL signer (RFC 5280 6.3.3 (f)): it adds four made-up certificates named as the CA and
 * carrying the CRL's key identifier, each a candidate CRL signer. Checking the CRL's signature with
 * each would hash the whole CRL four times; the verifier asks a candidate for its own path first.
 */
export async function runRevocationHostile (quick: boolean): Promise<RevocationHostileResult> {
  const pki = await createTestPki({ algorithm: 'p-256' })
  const signerKey = await generateKeyPair('p-256')
  const root = { certificate: pki.root, key: pki.root.key }
  const crlSigner = { ...await createCertificate({ subject: pki.intermediate.subject, key: signerKey, issuer: root, keyUsage: ['cRLSign'], extendedKeyUsage: false }), key: signerKey }
  const count = quick ? 40_000 : 400_000
  const der = await buildLargeCrl(count, { ...pki, intermediate: crlSigner }, '7f7f7f', false)
  const rounds = quick ? 5 : 25
  // New made-up certificates on every request, as an attacker would send them (nothing cached helps).
  const other = await createTestPki({ algorithm: 'p-256' })
  const hostile: string[] = []
  for (let round = 0; round < rounds + 2; round++) {
    const made: Array<{ pem: string }> = []
    for (let i = 0; i < 4; i++) {
      const key = await generateKeyPair('p-256')
      made.push(await createCertificate({
        subject: pki.intermediate.subject, key, issuer: { certificate: other.root, key: other.root.key }, keyUsage: ['cRLSign'], extendedKeyUsage: false, subjectKeyIdentifier: crlSigner.subjectKeyIdentifier
      }))
    }
    hostile.push(toAlbHeader([pki.leaf.pem, pki.intermediate.pem, ...made.map((c) => c.pem)]))
  }
  const verifier = createVerifier({ roots: pki.root.pem, intermediates: [crlSigner.pem], crls: [crlPem(der)], cache: false })
  const time = timer(verifier, rounds)
  const valid = toAlbHeader([pki.leaf.pem, pki.intermediate.pem])
  const validMs = median([time(valid).ms, time(valid).ms, time(valid).ms])
  const { ms, verdict } = time(hostile)
  return {
    crlBytes: der.length,
    validMs,
    row: { name: `valid leaf + 4 made-up CRL signers (new each request), ${(der.length / 1048576).toFixed(0)} MiB CRL from a separate signer`, ms, ratio: ms / validMs, verdict, headerBytes: hostile[0]!.length }
  }
}
