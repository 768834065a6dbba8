/**
 * prepare-crls: the work a CRL costs at load, done ahead of `createVerifier`/`reload` in slices that
 * yield to the event loop, so a trust source that brings a large CRL (500,000 entries take most of
 * a second to index) does not stall the requests served meanwhile on the material in force. The CRL
 * is parsed (prepareCrl: the verifier then takes it parsed for this very buffer) and its signature
 * by each configured CA that names its key is hashed (preverifySignature: the verifier finds the
 * outcome recorded). Checking the result stays the verifier's job.
 */
import { keyIdentifiersAgree, prepareCrl } from '../validation/crl.js'
import { preverifySignature, publicKeyOf, type AlgorithmPolicy } from '../validation/signature.js'
import type { ParsedCertificate } from '../x509/parse.js'

/** Algorithm policy applies later, in the verifier; here any key that can verify is used. */
const ANY_ALGORITHM: AlgorithmPolicy = { minRsaKeyBits: 0, allowSha1: true }

/**
 * Prepares one DER CRL whose bytes the caller will hand to the verifier unchanged (the index refers
 * to them). Throws what parsing throws (CrlError); a signature that fails is recorded, not thrown.
 */
export async function prepareCrlFor (der: Uint8Array, cas: readonly ParsedCertificate[]): Promise<void> {
  const crl = await prepareCrl(der)
  for (const ca of cas) {
    if (ca.subjectKey !== crl.issuerKey || !keyIdentifiersAgree(crl, ca)) continue
    const key = publicKeyOf(ca, ANY_ALGORITHM)
    if (!('reason' in key)) await preverifySignature(crl, key)
  }
}
