import crypto from 'node:crypto'
import { promisify } from 'node:util'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'

export type KeyAlgorithm =
  | 'rsa-1024' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096'
  | 'p-256' | 'p-384' | 'p-521'
  | 'ed25519'
  | 'secp256k1'

export const keyAlgorithms: readonly KeyAlgorithm[] = [
  'rsa-1024', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'p-256', 'p-384', 'p-521', 'ed25519', 'secp256k1'
]

export interface KeyPair {
  algorithm: KeyAlgorithm
  privateKey: crypto.KeyObject
  publicKey: crypto.KeyObject
  /** PKCS#8 PEM */
  privateKeyPem: string
  /** SPKI PEM */
  publicKeyPem: string
  /** DER SubjectPublicKeyInfo */
  spki: Uint8Array
}

export interface GenerateKeyPairOptions {
  /** Always generate a new key, bypassing the RSA pool. */
  fresh?: boolean
}

export type SignatureHash = 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512' | 'MD5'

const generate = promisify(crypto.generateKeyPair)

const curves: Record<string, string> = {
  'p-256': 'prime256v1',
  'p-384': 'secp384r1',
  'p-521': 'secp521r1',
  secp256k1: 'secp256k1'
}

async function generateFresh (algorithm: KeyAlgorithm): Promise<KeyPair> {
  let pair: crypto.KeyPairKeyObjectResult
  if (algorithm.startsWith('rsa-')) {
    pair = await generate('rsa', { modulusLength: Number(algorithm.slice(4)) })
  } else if (algorithm === 'ed25519') {
    pair = await generate('ed25519')
  } else {
    const namedCurve = curves[algorithm]
    if (namedCurve === undefined) throw new TypeError(`Unsupported key algorithm: ${String(algorithm)}`)
    pair = await generate('ec', { namedCurve })
  }
  const { privateKey, publicKey } = pair
  return {
    algorithm,
    privateKey,
    publicKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    spki: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }))
  }
}

/**
 * RSA key generation is slow (hundreds of ms for 2048 bits, seconds for 4096),
 * so by default RSA keys come from an in-process pool: the first
 * RSA_POOL_SIZE requests per modulus size generate new keys, later requests
 * reuse them round-robin. Consecutive requests therefore get distinct keys
 * until the pool wraps. Pass `{ fresh: true }` when a test needs a key that
 * is guaranteed not to be shared. EC and Ed25519 keys are always fresh.
 */
export const RSA_POOL_SIZE = 4
const rsaPool = new Map<KeyAlgorithm, Array<Promise<KeyPair>>>()
const rsaPoolCursor = new Map<KeyAlgorithm, number>()

export async function generateKeyPair (algorithm: KeyAlgorithm = 'p-256', options: GenerateKeyPairOptions = {}): Promise<KeyPair> {
  if (!algorithm.startsWith('rsa-') || options.fresh === true) return await generateFresh(algorithm)
  let pool = rsaPool.get(algorithm)
  if (pool === undefined) {
    pool = []
    rsaPool.set(algorithm, pool)
  }
  if (pool.length < RSA_POOL_SIZE) {
    const pending = generateFresh(algorithm)
    pool.push(pending)
    // A failed generation must not poison the pool.
    pending.catch(() => {
      const index = pool.indexOf(pending)
      if (index !== -1) pool.splice(index, 1)
    })
    return await pending
  }
  const cursor = rsaPoolCursor.get(algorithm) ?? 0
  rsaPoolCursor.set(algorithm, (cursor + 1) % pool.length)
  return await (pool[cursor % pool.length] as Promise<KeyPair>)
}

/** Empty the RSA key pool, for one size or all (mainly for tests). */
export function clearKeyPool (algorithm?: KeyAlgorithm): void {
  if (algorithm === undefined) {
    rsaPool.clear()
    rsaPoolCursor.clear()
  } else {
    rsaPool.delete(algorithm)
    rsaPoolCursor.delete(algorithm)
  }
}

export function isRsa (key: KeyPair): boolean {
  return key.algorithm.startsWith('rsa-')
}

export function defaultSignatureHash (key: KeyPair): SignatureHash {
  if (key.algorithm === 'p-384') return 'SHA-384'
  if (key.algorithm === 'p-521') return 'SHA-512'
  return 'SHA-256'
}

const hashOids: Record<SignatureHash, string> = {
  MD5: '1.2.840.113549.2.5',
  'SHA-1': '1.3.14.3.2.26',
  'SHA-256': '2.16.840.1.101.3.4.2.1',
  'SHA-384': '2.16.840.1.101.3.4.2.2',
  'SHA-512': '2.16.840.1.101.3.4.2.3'
}
const hashLengths: Record<SignatureHash, number> = { MD5: 16, 'SHA-1': 20, 'SHA-256': 32, 'SHA-384': 48, 'SHA-512': 64 }
const rsaPkcs1Oids: Record<SignatureHash, string> = {
  MD5: '1.2.840.113549.1.1.4',
  'SHA-1': '1.2.840.113549.1.1.5',
  'SHA-256': '1.2.840.113549.1.1.11',
  'SHA-384': '1.2.840.113549.1.1.12',
  'SHA-512': '1.2.840.113549.1.1.13'
}
const ecdsaOids: Partial<Record<SignatureHash, string>> = {
  'SHA-1': '1.2.840.10045.4.1',
  'SHA-256': '1.2.840.10045.4.3.2',
  'SHA-384': '1.2.840.10045.4.3.3',
  'SHA-512': '1.2.840.10045.4.3.4'
}
const ED25519_OID = '1.3.101.112'
const RSA_PSS_OID = '1.2.840.113549.1.1.10'
const MGF1_OID = '1.2.840.113549.1.1.8'

export interface Signer {
  /** AlgorithmIdentifier to put in both the TBS `signature` field and the outer `signatureAlgorithm`. */
  algorithm: pkijs.AlgorithmIdentifier
  sign (data: Uint8Array): Uint8Array
}

function nodeHashName (hash: SignatureHash): string {
  return hash.replace('-', '').toLowerCase()
}

/** Pick the signature AlgorithmIdentifier and a node:crypto signing function for `key`. */
export function createSigner (key: KeyPair, hash?: SignatureHash, rsaPss = false): Signer {
  if (key.algorithm === 'ed25519') {
    if (rsaPss) throw new TypeError('rsaPss requires an RSA key')
    return {
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: ED25519_OID }),
      sign: (data) => new Uint8Array(crypto.sign(null, data, key.privateKey))
    }
  }
  const h = hash ?? defaultSignatureHash(key)
  const nodeHash = nodeHashName(h)
  if (isRsa(key)) {
    if (rsaPss) {
      const hashAlgorithm = new pkijs.AlgorithmIdentifier({ algorithmId: hashOids[h] })
      const params = new pkijs.RSASSAPSSParams({
        hashAlgorithm,
        maskGenAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: MGF1_OID, algorithmParams: hashAlgorithm.toSchema() }),
        saltLength: hashLengths[h]
      })
      return {
        algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: RSA_PSS_OID, algorithmParams: params.toSchema() }),
        sign: (data) => new Uint8Array(crypto.sign(nodeHash, data, {
          key: key.privateKey,
          padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
          saltLength: hashLengths[h]
        }))
      }
    }
    return {
      algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: rsaPkcs1Oids[h], algorithmParams: new asn1js.Null() }),
      sign: (data) => new Uint8Array(crypto.sign(nodeHash, data, key.privateKey))
    }
  }
  if (rsaPss) throw new TypeError('rsaPss requires an RSA key')
  const oid = ecdsaOids[h]
  if (oid === undefined) throw new TypeError(`ECDSA cannot sign with ${h}`)
  return {
    algorithm: new pkijs.AlgorithmIdentifier({ algorithmId: oid }),
    // node:crypto emits the DER Ecdsa-Sig-Value X.509 expects (dsaEncoding 'der').
    sign: (data) => new Uint8Array(crypto.sign(nodeHash, data, key.privateKey))
  }
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING value. */
export function keyIdentifier (key: KeyPair): Uint8Array {
  const info = pkijs.PublicKeyInfo.fromBER(key.spki)
  const bits = info.subjectPublicKey.valueBlock.valueHexView
  return new Uint8Array(crypto.createHash('sha1').update(bits).digest())
}
