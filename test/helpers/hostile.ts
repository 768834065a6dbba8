/**
 * Helpers for the hostile-input suites: a tiny DER writer for structures no honest encoder makes,
 * the reason -> code table the property checks hold answers to, and fast-check settings.
 */
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { createCertificate, generateKeyPair, type Issued, type KeyAlgorithm, type KeyPair, type NameInput, type TestPki } from '../../src/testing/index.js'
import type { FailureReason, InvalidReason, MalformedReason, VerifyErrorCode, VerifyResult } from '../../src/index.js'

/** DER length octets (minimal definite form). */
export function derLength (n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff)
  return [0x80 | out.length, ...out]
}

/** One TLV with `content` (already encoded). */
export function tlv (tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = Buffer.concat(content)
  return Uint8Array.from([tag, ...derLength(body.length), ...body])
}

/** `depth` SEQUENCEs, each holding the next, definite lengths. */
export function nestedSequences (depth: number): Uint8Array {
  // Built from the inside out in one buffer: the header of each level is at most 5 octets.
  const buf = new Uint8Array(depth * 5)
  let start = buf.length
  for (let i = 0; i < depth; i++) {
    const header = [0x30, ...derLength(buf.length - start)]
    start -= header.length
    buf.set(header, start)
  }
  return buf.subarray(start)
}

/** An OBJECT IDENTIFIER of `arcs` one-octet arcs after 1.2 (about `arcs` octets of DER). */
export function longOidText (arcs: number): string {
  return '1.2' + '.1'.repeat(arcs)
}

/** PEM text of arbitrary bytes labelled CERTIFICATE. */
export function pemOf (der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n')
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
}

// Records over the reason unions: a reason added to types.ts without a code here fails to compile.
const MALFORMED: Record<MalformedReason, true> = {
  'header-too-large': true,
  'repeated-header': true,
  'bad-encoding': true,
  'bad-pem': true,
  'not-a-certificate': true,
  'bad-base64': true,
  'bad-der': true,
  'too-many-certificates': true,
  'incomplete-headers': true,
  'header-mismatch': true
}
const INVALID: Record<InvalidReason, true> = {
  untrusted: true,
  'bad-signature': true,
  expired: true,
  'not-yet-valid': true,
  revoked: true,
  'crl-unusable': true,
  'revocation-unknown': true,
  'ca-as-leaf': true,
  'not-a-ca': true,
  'path-length-exceeded': true,
  'max-chain-depth-exceeded': true,
  'key-usage': true,
  'extended-key-usage': true,
  'unknown-critical-extension': true,
  'name-constraints': true,
  'certificate-policy': true,
  'policy-limit-exceeded': true,
  'weak-algorithm': true,
  'weak-key': true,
  'invalid-certificate': true,
  'path-budget-exceeded': true
}

/** The documented code for each reason (README "Errors"). */
export function codeFor (reason: FailureReason): VerifyErrorCode {
  if (reason === 'missing') return 'FST_MTLS_CERT_MISSING'
  if (Object.hasOwn(MALFORMED, reason)) return 'FST_MTLS_CERT_MALFORMED'
  if (Object.hasOwn(INVALID, reason)) return 'FST_MTLS_CERT_INVALID'
  throw new Error(`undocumented reason ${String(reason)}`)
}

/** HTTP status for each code. */
export const STATUS: Record<string, number> = {
  FST_MTLS_CERT_MISSING: 401,
  FST_MTLS_CERT_MALFORMED: 400,
  FST_MTLS_CERT_INVALID: 401,
  FST_MTLS_FORBIDDEN: 403
}

/**
 * A refusal is well formed: a documented reason under its code, and not the verifier's last-resort
 * catch (which means an exception escaped a parser or a check: a bug even though it fails closed).
 */
export function assertDefinedRefusal (result: VerifyResult, input: string): asserts result is Extract<VerifyResult, { ok: false }> {
  assert.equal(result.ok, false, `accepted: ${input.slice(0, 120)}`)
  if (result.ok) return
  assert.equal(result.code, codeFor(result.reason), `${result.reason} under ${result.code}`)
  assert.doesNotMatch(result.message, /^unexpected error/, `escaped exception for ${JSON.stringify(input.slice(0, 120))}: ${result.message}`)
}

/**
 * fast-check settings: a fixed seed and a small number of runs by default (npm test stays short on
 * a busy 2-core machine); `FUZZ_RUNS=<n>` multiplies every property's runs for a long session,
 * `FUZZ_SEED=<n>` replays or varies the seed.
 */
export function fuzzParameters (defaultRuns: number): { seed: number, numRuns: number, endOnFailure: true, includeErrorInReport: true } {
  const factor = Number.parseInt(process.env.FUZZ_RUNS ?? '', 10)
  const seed = Number.parseInt(process.env.FUZZ_SEED ?? '', 10)
  return {
    seed: Number.isFinite(seed) ? seed : 0x5eed,
    numRuns: Number.isFinite(factor) && factor > 0 ? defaultRuns * factor : defaultRuns,
    endOnFailure: true,
    includeErrorInReport: true
  }
}

/** Records the slowest inputs of a suite; reported, never asserted (see the brief: no timed assertions). */
export class Timings {
  readonly samples: number[] = []
  readonly byLabel = new Map<string, number>()
  time<T>(label: string, fn: () => T): T {
    const start = process.hrtime.bigint()
    try {
      return fn()
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      this.record(label, ms)
    }
  }

  async timeAsync<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const start = process.hrtime.bigint()
    try {
      return await fn()
    } finally {
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      this.record(label, ms)
    }
  }

  record (label: string, ms: number): void {
    this.samples.push(ms)
    if (ms > (this.byLabel.get(label) ?? -1)) this.byLabel.set(label, ms)
  }

  /** Count, percentiles, and the slowest sample of each kind of input. */
  summary (): string {
    const sorted = [...this.samples].sort((a, b) => a - b)
    const p = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2)
    const kinds = [...this.byLabel].sort((a, b) => b[1] - a[1]).map(([label, ms]) => `${label} ${ms.toFixed(1)}`).join(', ')
    return `${sorted.length} inputs, p50 ${p(0.5)} ms, p99 ${p(0.99)} ms; slowest by kind (ms): ${kinds}`
  }
}

// ---------------------------------------------------------------------------
// Hostile chains (issue 12): certificates whose only purpose is to cost the verifier work. Built
// with the project's factory at run time; shared by the tests and bench/hostile.ts.
// ---------------------------------------------------------------------------

function b64uToBig (text: string): bigint {
  return BigInt('0x' + Buffer.from(text, 'base64url').toString('hex'))
}

function bigToB64u (n: bigint): string {
  let hex = n.toString(16)
  if (hex.length % 2 === 1) hex = '0' + hex
  return Buffer.from(hex, 'hex').toString('base64url')
}

function modInverse (a: bigint, m: bigint): bigint {
  let [r0, r1] = [a % m, m]
  let [s0, s1] = [1n, 0n]
  while (r1 !== 0n) {
    const q = r0 / r1
    ;[r0, r1] = [r1, r0 - q * r1]
    ;[s0, s1] = [s1, s0 - q * s1]
  }
  if (r0 !== 1n) throw new Error('not invertible')
  return ((s0 % m) + m) % m
}

function gcd (a: bigint, b: bigint): bigint {
  while (b !== 0n) [a, b] = [b, a % b]
  return a
}

/**
 * An RSA key pair of `bits` whose public exponent is `exponentBits` long (default bits - 1): signing
 * costs what it always does, every verification costs about as much as a private-key operation
 * without CRT. OpenSSL bounds e only above 3072-bit moduli. `exponent` overrides with an exact value.
 */
export async function rsaKeyWithExponent (bits: number, exponent?: bigint): Promise<KeyPair> {
  const base = await generateKeyPair(`rsa-${bits}` as KeyAlgorithm, { fresh: true })
  const jwk = base.privateKey.export({ format: 'jwk' })
  const p = b64uToBig(jwk.p!)
  const q = b64uToBig(jwk.q!)
  const n = p * q
  const phi = (p - 1n) * (q - 1n)
  let e = exponent
  if (e === undefined) {
    const bytes = crypto.randomBytes(Math.ceil((bits - 1) / 8))
    e = (BigInt('0x' + bytes.toString('hex')) >> BigInt(bytes.length * 8 - (bits - 1))) | (1n << BigInt(bits - 2)) | 1n
    while (gcd(e, phi) !== 1n) e += 2n
  }
  const d = modInverse(e, phi)
  const privateKey = crypto.createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'RSA',
      n: bigToB64u(n),
      e: bigToB64u(e),
      d: bigToB64u(d),
      p: bigToB64u(p),
      q: bigToB64u(q),
      dp: bigToB64u(d % (p - 1n)),
      dq: bigToB64u(d % (q - 1n)),
      qi: bigToB64u(modInverse(q, p))
    }
  })
  const publicKey = crypto.createPublicKey(privateKey)
  return {
    algorithm: base.algorithm,
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
  }
}

export interface SelfIssuedFan {
  leaf: Issued
  /** The self-issued CA certificates (subject = issuer = `CN=Evil CA`), in header order. */
  cas: Issued[]
}

/**
 * A leaf under `count` self-issued CA certificates named `subject` (default `CN=Evil CA`) that all
 * claim one SKI. Named like a real intermediate (sent along in the header), they reach a configured
 * root by names, so only signatures rule them out. With
 * `distinctKeys` false (the issue's shape) they share one key, so each one verifies as the issuer
 * of every other; with `distinctKeys` true each has its own key and CA i is signed by the key of
 * CA i+1 (a ring), which no key-on-path rule shortens: only the work budget does. None of them
 * is signed by anything configured. Self-issued certificates do not count toward maxChainDepth.
 */
export async function selfIssuedFan (algorithm: KeyAlgorithm | KeyPair, count: number, distinctKeys = false, subject: NameInput = 'CN=Evil CA'): Promise<SelfIssuedFan> {
  const keyOf = async (): Promise<KeyPair> => typeof algorithm === 'string' ? await generateKeyPair(algorithm, { fresh: true }) : algorithm
  const shared = await keyOf()
  const keys: KeyPair[] = distinctKeys ? await Promise.all(Array.from({ length: count }, keyOf)) : Array.from({ length: count }, () => shared)
  const ski = crypto.randomBytes(20)
  // A stand-in issuer certificate: only its subject (and no SKI, so no AKI is derived) is used.
  const named = await createCertificate({ subject, key: keys[0]!, ca: true, subjectKeyIdentifier: false })
  const cas: Issued[] = []
  for (let i = 0; i < count; i++) {
    const signer = keys[(i + 1) % count]!
    const cert = await createCertificate({
      subject,
      key: keys[i]!,
      issuer: { certificate: named, key: signer },
      ca: true,
      subjectKeyIdentifier: ski,
      // Self-issued: RFC 5280 lets the AKI go, and without one it cannot rule any candidate out.
      authorityKeyIdentifier: false
    })
    cas.push({ ...cert, key: keys[i]! })
  }
  const leafKey = await generateKeyPair(typeof algorithm === 'string' ? algorithm : 'p-256', { fresh: true })
  const leaf = await createCertificate({
    subject: 'CN=victim',
    key: leafKey,
    issuer: { certificate: cas[0]!, key: keys[0]! },
    authorityKeyIdentifier: ski,
    extendedKeyUsage: ['clientAuth']
  })
  return { leaf: { ...leaf, key: leafKey }, cas }
}

/** extnValue of an unknown extension: one SEQUENCE of `count` NULLs (about 2 * count bytes). */
export function nullBomb (count: number): Uint8Array {
  return tlv(0x30, new Uint8Array(count * 2).map((_, i) => (i % 2 === 0 ? 0x05 : 0x00)))
}

/** Private-use OID for the unknown extensions of these tests. */
export const UNKNOWN_EXTENSION_OID = '1.3.6.1.4.1.55555.12.1'

// ---------------------------------------------------------------------------
// Encodings OpenSSL refuses (issue 12, items 2 and 6): certificates re-signed after a field of
// their TBS is replaced with bytes no honest encoder writes.
// ---------------------------------------------------------------------------

/** TBS field indexes of a v3 certificate (with the [0] version). */
export const TBS = { version: 0, serial: 1, signature: 2, issuer: 3, validity: 4, subject: 5, spki: 6, extensions: 7 } as const

/** Splits DER into its top-level TLVs (trusted input: our own certificates). */
function tlvs (bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = []
  let offset = 0
  while (offset < bytes.length) {
    let length = bytes[offset + 1]!
    let start = offset + 2
    if (length & 0x80) {
      const count = length & 0x7f
      length = 0
      for (let i = 0; i < count; i++) length = length * 256 + bytes[start + i]!
      start += count
    }
    out.push(bytes.subarray(offset, start + length))
    offset = start + length
  }
  return out
}

function contents (der: Uint8Array): Uint8Array {
  return tlvs(der.subarray(0))[0]!.subarray(der[1]! & 0x80 ? 2 + (der[1]! & 0x7f) : 2)
}

/**
 * `cert` with TBS field `field` replaced by `replacement` (whole TLV), signed again by `issuerKey`
 * (an EC P-256 or RSA key, SHA-256: the factory's defaults for those).
 */
export function resign (cert: { der: Uint8Array }, issuerKey: KeyPair, field: number, replacement: Uint8Array): Issued {
  const [tbs, algorithm] = tlvs(contents(cert.der)) as [Uint8Array, Uint8Array]
  const fields = tlvs(contents(tbs))
  fields[field] = replacement
  const newTbs = tlv(0x30, ...fields)
  const signature = crypto.sign('sha256', newTbs, issuerKey.privateKey)
  const der = tlv(0x30, newTbs, algorithm, tlv(0x03, Uint8Array.from([0]), new Uint8Array(signature)))
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return { der, pem: `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`, key: issuerKey } as Issued
}

/** A Name of one O attribute (type OID contents `oid`, value TLV `value`) and a CN. */
export function rawName (oid: number[], value: Uint8Array): Uint8Array {
  const atv = (o: Uint8Array, v: Uint8Array): Uint8Array => tlv(0x31, tlv(0x30, tlv(0x06, o), v))
  return tlv(0x30, atv(Uint8Array.from(oid), value), atv(Uint8Array.from([0x55, 0x04, 0x03]), tlv(0x0c, new Uint8Array(Buffer.from('client')))))
}

export interface HostileEncoding {
  name: string
  /** Header certificates, leaf first (under the PKI's root). */
  certs: Issued[]
  /** The same built with a correct encoding: accepted. */
  control: Issued[]
}

/** The encodings of issue 12 item 6, each with a well-encoded control, under `pki` (P-256). */
export async function hostileEncodings (pki: Pick<TestPki, 'intermediate' | 'root' | 'issue'>): Promise<HostileEncoding[]> {
  const out: HostileEncoding[] = []
  const base = await pki.issue({ subject: 'CN=client' })
  const sign = (subject: Uint8Array): Issued => resign(base, pki.intermediate.key, TBS.subject, subject)
  const utf8 = (text: string, encoding: 'utf8' | 'latin1'): Uint8Array => tlv(0x0c, new Uint8Array(Buffer.from(text, encoding)))
  out.push({
    name: 'attribute type OID with a non-minimal arc (55 04 80 0a, read as O by a lenient decoder)',
    certs: [sign(rawName([0x55, 0x04, 0x80, 0x0a], utf8('Evil Corp', 'utf8'))), pki.intermediate],
    control: [sign(rawName([0x55, 0x04, 0x0a], utf8('Evil Corp', 'utf8'))), pki.intermediate]
  })
  out.push({
    name: 'UTF8String holding invalid UTF-8 (M\\xfcller GmbH as latin-1)',
    certs: [sign(rawName([0x55, 0x04, 0x0a], utf8('Müller GmbH', 'latin1'))), pki.intermediate],
    control: [sign(rawName([0x55, 0x04, 0x0a], utf8('Müller GmbH', 'utf8'))), pki.intermediate]
  })
  out.push({
    name: 'BMPString of an odd number of octets',
    certs: [sign(rawName([0x55, 0x04, 0x0a], tlv(0x1e, Uint8Array.from([0x00, 0x41, 0x00])))), pki.intermediate],
    control: [sign(rawName([0x55, 0x04, 0x0a], tlv(0x1e, Uint8Array.from([0x00, 0x41])))), pki.intermediate]
  })
  // keyCertSign (bit 5) and cRLSign (bit 6) inside the declared padding: 3 unused bits.
  const keyUsage = (bits: number[]): Uint8Array => tlv(0x03, Uint8Array.from(bits))
  for (const [label, value] of [['padding', keyUsage([0x03, 0x06])], ['control', keyUsage([0x01, 0x06])]] as const) {
    const ca = await pki.issue({ subject: `CN=KU ${label} CA`, ca: true, keyUsage: false, extensions: [{ oid: '2.5.29.15', critical: true, value }] }, pki.root)
    const leaf = await pki.issue({ subject: 'CN=under ku' }, ca)
    if (label === 'padding') out.push({ name: 'CA keyUsage whose keyCertSign bit lies in the BIT STRING padding', certs: [leaf, ca], control: [] })
    else out[out.length - 1]!.control = [leaf, ca]
  }
  return out
}
