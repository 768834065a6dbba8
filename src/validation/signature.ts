/**
 * signature: public keys and signature checks with node:crypto (native OpenSSL: several times faster
 * than WebCrypto through pkijs, and synchronous). pkijs/asn1js only supply the bytes.
 */
import { constants, createPublicKey, createVerify, verify, type KeyObject } from 'node:crypto'
import { LRUCache } from 'lru-cache'
import * as pkijs from 'pkijs'
import { children, readOne } from '../x509/der.js'
import type { ParsedCertificate } from '../x509/parse.js'

export interface AlgorithmPolicy {
  minRsaKeyBits: number
  allowSha1: boolean
}

const HASHES: Record<string, string> = {
  '1.3.14.3.2.26': 'sha1',
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512'
}

interface SignatureScheme { kind: 'rsa' | 'ecdsa' | 'eddsa' | 'rsa-pss' | 'weak', hash: string | null }

const SCHEMES: Record<string, SignatureScheme> = {
  '1.2.840.113549.1.1.5': { kind: 'rsa', hash: 'sha1' },
  '1.2.840.113549.1.1.14': { kind: 'rsa', hash: 'sha224' },
  '1.2.840.113549.1.1.11': { kind: 'rsa', hash: 'sha256' },
  '1.2.840.113549.1.1.12': { kind: 'rsa', hash: 'sha384' },
  '1.2.840.113549.1.1.13': { kind: 'rsa', hash: 'sha512' },
  '1.2.840.113549.1.1.10': { kind: 'rsa-pss', hash: null },
  '1.2.840.10045.4.1': { kind: 'ecdsa', hash: 'sha1' },
  '1.2.840.10045.4.3.1': { kind: 'ecdsa', hash: 'sha224' },
  '1.2.840.10045.4.3.2': { kind: 'ecdsa', hash: 'sha256' },
  '1.2.840.10045.4.3.3': { kind: 'ecdsa', hash: 'sha384' },
  '1.2.840.10045.4.3.4': { kind: 'ecdsa', hash: 'sha512' },
  '1.3.101.112': { kind: 'eddsa', hash: null },
  '1.3.101.113': { kind: 'eddsa', hash: null },
  // MD2/MD5 with RSA, DSA: refused whatever the options say.
  '1.2.840.113549.1.1.2': { kind: 'weak', hash: 'md2' },
  '1.2.840.113549.1.1.4': { kind: 'weak', hash: 'md5' },
  '1.2.840.10040.4.3': { kind: 'weak', hash: 'sha1' },
  '2.16.840.1.101.3.4.3.1': { kind: 'weak', hash: 'sha224' },
  '2.16.840.1.101.3.4.3.2': { kind: 'weak', hash: 'sha256' }
}

const ALLOWED_CURVES = new Set(['prime256v1', 'secp384r1', 'secp521r1'])

export type SignatureProblem = { reason: 'weak-algorithm' | 'weak-key' | 'bad-signature' | 'invalid-certificate', message: string }

const keys = new WeakMap<ParsedCertificate, KeyObject | SignatureProblem>()

/**
 * Imported keys by SubjectPublicKeyInfo DER: OpenSSL's decoder costs more than a P-256 signature
 * check, and one key comes in many certificates (every leaf of a client re-keying with the same key,
 * every copy of a CA; a crafted header repeats one key in each certificate). A pure function of
 * the bytes, bounded.
 */
const imported = new LRUCache<string, KeyObject | SignatureProblem>({ max: 1024 })

/** Empties the imported-key cache (benchmarks measure a leaf key never seen before with it). */
export function clearKeyCache (): void {
  imported.clear()
}

/** The certificate's public key, once per parsed certificate, with the key-strength policy applied. */
export function publicKeyOf (cert: ParsedCertificate, policy: AlgorithmPolicy): KeyObject | SignatureProblem {
  let key = keys.get(cert)
  if (key === undefined) {
    const spki = Buffer.from(cert.spki.buffer, cert.spki.byteOffset, cert.spki.byteLength)
    const text = spki.toString('latin1')
    key = imported.get(text)
    if (key === undefined) {
      try {
        key = importRsaKey(cert.spki) ?? createPublicKey({ key: spki, format: 'der', type: 'spki' })
        if (!('reason' in key)) key = degenerateKey(key, cert.spki) ?? key
      } catch (err) {
        key = { reason: 'invalid-certificate', message: `unusable public key: ${(err as Error).message}` }
      }
      imported.set(text, key)
    }
    keys.set(cert, key)
  }
  if ('reason' in key) return key
  const problem = keyProblem(key, policy)
  return problem ?? key
}

/** What the policy and the work budget read of a key, computed once per key. */
interface KeyFacts {
  /** Modulus bits (RSA), else 0. */
  readonly bits: number
  /** Public exponent (RSA), else 0n. */
  readonly exponent: bigint
  /** OpenSSL curve name (EC), else ''. */
  readonly curve: string
}

const facts = new WeakMap<KeyObject, KeyFacts>()

function factsOf (key: KeyObject): KeyFacts {
  let f = facts.get(key)
  if (f === undefined) {
    const d = key.asymmetricKeyDetails ?? {}
    f = { bits: d.modulusLength ?? 0, exponent: d.publicExponent ?? 0n, curve: d.namedCurve ?? '' }
    facts.set(key, f)
  }
  return f
}

const RSA_ENCRYPTION = Uint8Array.from([0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])

/** Bit length of a minimal, positive INTEGER's contents. */
function bitLength (v: Uint8Array): number {
  const first = v[0] === 0 ? 1 : 0
  return (v.length - first - 1) * 8 + (32 - Math.clz32(v[first]!))
}

/**
 * An rsaEncryption key, imported from its numbers (JWK) rather than through OpenSSL 3's DER
 * decoder, which costs about 30 times as much (~200 us for RSA-2048, more than the signature check
 * and the whole fast parse together). The SubjectPublicKeyInfo is read with the strict der walker
 * first: AlgorithmIdentifier { rsaEncryption, NULL or absent }, a BIT STRING without unused bits
 * holding exactly RSAPublicKey { n INTEGER, e INTEGER }, both minimal and positive, n odd, e odd and
 * 3 <= e < 2^32 (see degenerateKey). null for any other key algorithm (imported from DER).
 */
function importRsaKey (spki: Uint8Array): KeyObject | SignatureProblem | null {
  const [alg, bits] = children(readOne(spki).value)
  if (alg?.tag !== 0x30 || bits?.tag !== 0x03) return null
  const [oid, params, extra] = children(alg.value)
  if (oid === undefined || !sameOctets(oid.der, RSA_ENCRYPTION)) return null
  if (extra !== undefined || (params !== undefined && params.der.length !== 2) || (params !== undefined && params.tag !== 0x05)) {
    throw new Error('rsaEncryption parameters are not NULL')
  }
  if (bits.value[0] !== 0) throw new Error('subjectPublicKey has unused bits')
  const parts = children(readOne(bits.value.subarray(1)).value)
  const [n, e] = parts
  if (parts.length !== 2 || n?.tag !== 0x02 || e?.tag !== 0x02) throw new Error('not an RSAPublicKey')
  for (const v of [n.value, e.value]) {
    if (v.length === 0 || (v[0]! & 0x80) !== 0 || (v.length > 1 && v[0] === 0 && v[1]! < 0x80)) throw new Error('RSAPublicKey integer is not minimal and positive')
  }
  if ((n.value[n.value.length - 1]! & 1) === 0) return { reason: 'weak-key', message: 'RSA modulus is even' }
  if (bitLength(e.value) > 32) return { reason: 'weak-key', message: `RSA public exponent of ${bitLength(e.value)} bits is outside the odd range 3 <= e < 2^32` }
  const exponent = BigInt('0x' + Buffer.from(e.value).toString('hex'))
  if (exponent < 3n || (exponent & 1n) === 0n) return { reason: 'weak-key', message: `RSA public exponent ${exponent} is outside the odd range 3 <= e < 2^32` }
  const strip = (v: Uint8Array): string => Buffer.from(v[0] === 0 ? v.subarray(1) : v).toString('base64url')
  const key = createPublicKey({ key: { kty: 'RSA', n: strip(n.value), e: strip(e.value) }, format: 'jwk' })
  facts.set(key, { bits: bitLength(n.value), exponent, curve: '' })
  return key
}

function sameOctets (a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(b)
}

/** 2^32: RSA public exponents at or above it are refused (see degenerateKey). */
const MAX_RSA_EXPONENT = 1n << 32n

/**
 * Keys no honest generator makes, whatever the policy. RSA: the exponent must be odd and
 * 3 <= e < 2^32 (RFC 8017 3.1 requires 3 <= e <= n-1; FIPS 186-5 and every CA toolkit use
 * 2^16 < e < 2^256, 65537 in practice). A verification costs one modular exponentiation by e, and
 * OpenSSL bounds e (to 64 bits) only above 3072-bit moduli: a 3071-bit exponent makes each check
 * cost as much as a private-key operation, and one header can ask for many. The modulus must be
 * odd and a minimal positive INTEGER (a product of two odd primes).
 */
function degenerateKey (key: KeyObject, spki: Uint8Array): SignatureProblem | null {
  const type = key.asymmetricKeyType
  if (type !== 'rsa' && type !== 'rsa-pss') return null
  // Keys imported by importRsaKey were checked there.
  if (facts.has(key)) return null
  const e = factsOf(key).exponent
  if (e < 3n || e >= MAX_RSA_EXPONENT || (e & 1n) === 0n) {
    return { reason: 'weak-key', message: `RSA public exponent ${e < MAX_RSA_EXPONENT ? String(e) : `of ${e.toString(2).length} bits`} is outside the odd range 3 <= e < 2^32` }
  }
  try {
    // SubjectPublicKeyInfo { algorithm, subjectPublicKey BIT STRING { RSAPublicKey { n INTEGER, e INTEGER } } }
    const bits = children(readOne(spki).value)[1]!
    const n = children(readOne(bits.value.subarray(1)).value)[0]!
    const v = n.value
    if (n.tag !== 0x02 || v.length === 0 || (v[0]! & 0x80) !== 0 || (v.length > 1 && v[0] === 0 && v[1]! < 0x80) || (v[v.length - 1]! & 1) === 0) {
      return { reason: 'weak-key', message: 'RSA modulus is even, negative or not minimally encoded' }
    }
  } catch {
    return { reason: 'invalid-certificate', message: 'unusable public key: RSAPublicKey is not DER' }
  }
  return null
}

/**
 * What one signature check with this key costs, in units of one P-256 (or RSA-2048) check, as
 * measured with node:crypto (bench/hostile.ts prints the resulting bound): P-384 is about 8 of them,
 * P-521 about 19, RSA grows with the square of the modulus (and with the exponent's length, which
 * degenerateKey bounds). Path building spends its work budget in these units.
 */
export function verificationCost (key: KeyObject): number {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = factsOf(key).curve
      return curve === 'secp521r1' ? 20 : curve === 'secp384r1' ? 8 : 1
    }
    case 'rsa':
    case 'rsa-pss': {
      const bits = factsOf(key).bits || 16384
      const e = factsOf(key).exponent || MAX_RSA_EXPONENT
      // 65537 takes 17 squarings; a 32-bit exponent up to 32 more multiplications.
      const exponentFactor = e > 65537n ? 2 : 1
      return Math.max(1, Math.ceil((bits / 3072) ** 2)) * exponentFactor
    }
    default:
      return 1
  }
}

const canonical = new WeakMap<KeyObject, string>()

/**
 * One text per public key, whatever the SubjectPublicKeyInfo encoding that carried it (an RSA key
 * with NULL or absent parameters, a compressed or uncompressed EC point): the key's numbers as JWK
 * (other key types: OpenSSL's own SPKI re-encoding). Path building uses it to try each (key, certificate) signature at most
 * once and to keep a key from appearing twice on one path.
 */
export function keyIdentity (key: KeyObject): string {
  let id = canonical.get(key)
  if (id === undefined) {
    const type = key.asymmetricKeyType
    if (type === 'rsa' || type === 'ec') {
      // JWK holds the mathematical key (n, e / curve, x, y), not its encoding.
      const jwk = key.export({ format: 'jwk' })
      id = `${type}:${jwk.crv ?? ''}:${jwk.n ?? ''}:${jwk.e ?? ''}:${jwk.x ?? ''}:${jwk.y ?? ''}`
    } else {
      id = `${type ?? ''}:${key.export({ format: 'der', type: 'spki' }).toString('base64')}`
    }
    canonical.set(key, id)
  }
  return id
}

function keyProblem (key: KeyObject, policy: AlgorithmPolicy): SignatureProblem | null {
  const details = factsOf(key)
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      if (details.bits < policy.minRsaKeyBits) {
        return { reason: 'weak-key', message: `RSA key of ${details.bits} bits (minimum ${policy.minRsaKeyBits})` }
      }
      if (details.bits > 16384) return { reason: 'weak-key', message: 'RSA key larger than 16384 bits' }
      // Real RSA keys are whole octets; an odd size means a broken or crafted key generator.
      if (details.bits % 8 !== 0) return { reason: 'weak-key', message: `RSA key of ${details.bits} bits is not a multiple of 8` }
      return null
    case 'ec':
      if (!ALLOWED_CURVES.has(details.curve)) {
        return { reason: 'weak-key', message: `EC curve ${details.curve || 'unknown'} is not P-256, P-384 or P-521` }
      }
      return null
    case 'ed25519':
    case 'ed448':
      return null
    default:
      return { reason: 'weak-key', message: `${key.asymmetricKeyType ?? 'unknown'} keys are not accepted` }
  }
}

/** Outcomes of verifications, by signed object (its bytes never change), then key, hash and scheme. */
const verified = new WeakMap<object, Map<string, boolean>>()

/** What a signature check needs of a signed object (a certificate or a CRL). */
export type SignedData = Pick<ParsedCertificate, 'signatureAlgorithm' | 'signatureParams' | 'tbs' | 'signature'>

/** How to verify one signature: node:crypto's arguments and the key of its recorded outcome. */
interface Plan { hash: string | null, keyInput: KeyObject | { key: KeyObject, padding: number, saltLength: number }, id: string }

function plan (cert: SignedData, issuerKey: KeyObject, policy: AlgorithmPolicy): Plan | SignatureProblem {
  const scheme = SCHEMES[cert.signatureAlgorithm]
  if (scheme === undefined) return { reason: 'weak-algorithm', message: `unsupported signature algorithm ${cert.signatureAlgorithm}` }
  if (scheme.kind === 'weak' || (scheme.hash === 'sha1' && !policy.allowSha1)) {
    return { reason: 'weak-algorithm', message: `signature algorithm ${cert.signatureAlgorithm} (${scheme.hash ?? ''}) is not accepted` }
  }
  let hash = scheme.hash
  let keyInput: KeyObject | { key: KeyObject, padding: number, saltLength: number } = issuerKey
  const keyType = issuerKey.asymmetricKeyType
  if (scheme.kind === 'rsa-pss') {
    const pss = pssParameters(cert.signatureParams)
    if (pss === null) return { reason: 'weak-algorithm', message: 'unsupported RSASSA-PSS parameters' }
    if (pss.hash === 'sha1' && !policy.allowSha1) return { reason: 'weak-algorithm', message: 'RSASSA-PSS with SHA-1 is not accepted' }
    hash = pss.hash
    keyInput = { key: issuerKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: pss.saltLength }
    if (keyType !== 'rsa' && keyType !== 'rsa-pss') return { reason: 'bad-signature', message: 'RSASSA-PSS signature from a non-RSA key' }
  } else if ((scheme.kind === 'rsa' && keyType !== 'rsa') || (scheme.kind === 'ecdsa' && keyType !== 'ec') ||
    (scheme.kind === 'eddsa' && keyType !== 'ed25519' && keyType !== 'ed448')) {
    return { reason: 'bad-signature', message: `${cert.signatureAlgorithm} signature from a ${keyType ?? 'unknown'} key` }
  }
  return { hash, keyInput, id: `${keyIdentity(issuerKey)}\n${hash ?? ''}\n${scheme.kind}` }
}

function record (cert: SignedData, id: string, good: boolean): void {
  let byKey = verified.get(cert)
  if (byKey === undefined) verified.set(cert, byKey = new Map())
  byKey.set(id, good)
}

/** Checks that `issuerKey` signed `cert` (or a CRL), under the algorithm policy. Returns null when it did. */
export function checkSignature (cert: SignedData, issuerKey: KeyObject, policy: AlgorithmPolicy): SignatureProblem | null {
  const how = plan(cert, issuerKey, policy)
  if ('reason' in how) return how
  // The algorithm policy above is applied on every call; the verification itself is a pure
  // function of the key and the signed object's bytes, so its outcome is kept with the parsed object
  // (a cached intermediate is verified by its CA once, not on every new leaf under it).
  let good = verified.get(cert)?.get(how.id)
  if (good === undefined) {
    try {
      good = verify(how.hash, cert.tbs, how.keyInput, cert.signature)
    } catch {
      good = false
    }
    record(cert, how.id, good)
  }
  return good ? null : { reason: 'bad-signature', message: 'signature does not verify with the issuer key' }
}

/** Bytes hashed between two turns of the event loop by preverifySignature (a few ms of SHA-256). */
const HASH_SLICE = 4 * 1024 * 1024

/**
 * The verification checkSignature would run, fed to node:crypto's streaming Verify in slices that
 * give the event loop a turn between them, and recorded with the signed object, so that the
 * checkSignature that follows answers from the record: for a large CRL about to be loaded by a
 * trust source (hashing 50 MB holds the loop ~30 ms). Nothing is decided here: checkSignature still
 * applies the algorithm policy first. (node:crypto's callback form of verify copies the data on the
 * main thread, slower than verifying it there.) EdDSA, which cannot stream, is left to checkSignature.
 */
export async function preverifySignature (cert: SignedData, issuerKey: KeyObject): Promise<void> {
  // Most permissive policy: the record is keyed by key, hash and scheme, never by policy.
  const how = plan(cert, issuerKey, { minRsaKeyBits: 0, allowSha1: true })
  if ('reason' in how || how.hash === null || verified.get(cert)?.has(how.id) === true) return
  let good: boolean
  try {
    const verifier = createVerify(how.hash)
    for (let at = 0; at < cert.tbs.length; at += HASH_SLICE) {
      if (at > 0) await new Promise((resolve) => setImmediate(resolve))
      verifier.update(cert.tbs.subarray(at, at + HASH_SLICE))
    }
    good = verifier.verify(how.keyInput, cert.signature)
  } catch {
    good = false
  }
  record(cert, how.id, good)
}

function pssParameters (params: unknown): { hash: string, saltLength: number } | null {
  try {
    const p = new pkijs.RSASSAPSSParams({ schema: params })
    const hash = HASHES[p.hashAlgorithm.algorithmId]
    if (hash === undefined) return null
    if (p.maskGenAlgorithm.algorithmId !== '1.2.840.113549.1.1.8') return null
    const mgfHash = new pkijs.AlgorithmIdentifier({ schema: p.maskGenAlgorithm.algorithmParams })
    if (HASHES[mgfHash.algorithmId] !== hash) return null
    return { hash, saltLength: p.saltLength }
  } catch {
    return null
  }
}
