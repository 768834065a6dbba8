import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { createSigner, keyIdentifier } from './keys.js'
import type { KeyPair, SignatureHash } from './keys.js'
import {
  OID, authorityKeyIdentifierExtension, extension, flipLastBit, parseSerial, subjectOf,
  toArrayBuffer, toInteger, toPem, toTime
} from './certificate.js'
import type { IssuedCertificate, RawExtension } from './certificate.js'

export interface RevokedEntry {
  serialNumber: bigint | string
  /** Default: the CRL's thisUpdate. */
  revocationDate?: Date
  /** CRLReason (RFC 5280 5.3.1), e.g. 1 keyCompromise; omitted: no reasonCode entry extension. */
  reason?: number
}

export interface CrlSpec {
  issuer: { certificate: IssuedCertificate; key: KeyPair }
  revoked?: RevokedEntry[]
  /** Default now - 1 h. */
  thisUpdate?: Date
  /** Default thisUpdate + 7 days; `null` omits the field. */
  nextUpdate?: Date | null
  /** Default 1; `null` omits the cRLNumber extension. */
  crlNumber?: bigint | number | null
  /** Default true: the issuer's SKI (computed from its key if it has none); `false` omits. */
  authorityKeyIdentifier?: boolean | Uint8Array
  /** Default as for certificates. */
  signatureHash?: SignatureHash
  rsaPss?: boolean
  corruptSignature?: boolean
  /** Appended as-is to crlExtensions. */
  extensions?: RawExtension[]
}

export interface IssuedCrl {
  der: Uint8Array
  pem: string
}

export async function createCrl (spec: CrlSpec): Promise<IssuedCrl> {
  const signer = createSigner(spec.issuer.key, spec.signatureHash, spec.rsaPss ?? false)
  const thisUpdate = spec.thisUpdate ?? new Date(Date.now() - 3600_000)
  const nextUpdate = spec.nextUpdate === undefined ? new Date(thisUpdate.getTime() + 7 * 86400_000) : spec.nextUpdate

  const revoked = (spec.revoked ?? []).map((entry) => new pkijs.RevokedCertificate({
    userCertificate: toInteger(parseSerial(entry.serialNumber)),
    revocationDate: toTime(entry.revocationDate ?? thisUpdate),
    ...(entry.reason !== undefined
      ? { crlEntryExtensions: new pkijs.Extensions({ extensions: [extension(OID.reasonCode, new asn1js.Enumerated({ value: entry.reason }))] }) }
      : {})
  }))

  const extensions: pkijs.Extension[] = []
  const aki = spec.authorityKeyIdentifier ?? true
  if (aki !== false) {
    extensions.push(authorityKeyIdentifierExtension(aki instanceof Uint8Array
      ? aki
      : spec.issuer.certificate.subjectKeyIdentifier ?? keyIdentifier(spec.issuer.key)))
  }
  const crlNumber = spec.crlNumber === undefined ? 1n : spec.crlNumber
  if (crlNumber !== null) extensions.push(extension(OID.crlNumber, toInteger(BigInt(crlNumber))))
  for (const raw of spec.extensions ?? []) extensions.push(extension(raw.oid, raw.value, raw.critical ?? false))

  const hasEntryExtensions = revoked.some((entry) => entry.crlEntryExtensions !== undefined)
  const crl = new pkijs.CertificateRevocationList({
    // v2 whenever any extension is present (RFC 5280 5.1.2.1); otherwise v1 (version field absent).
    version: extensions.length > 0 || hasEntryExtensions ? 1 : 0,
    signature: signer.algorithm,
    issuer: subjectOf(spec.issuer.certificate),
    thisUpdate: toTime(thisUpdate),
    ...(nextUpdate !== null ? { nextUpdate: toTime(nextUpdate) } : {}),
    // An empty revokedCertificates list must be omitted, not encoded empty.
    ...(revoked.length > 0 ? { revokedCertificates: revoked } : {}),
    ...(extensions.length > 0 ? { crlExtensions: new pkijs.Extensions({ extensions }) } : {})
  })

  // encodeTBS() is protected in pkijs' CRL typings; toSchema(true) re-encodes the TBS from the fields.
  const tbsBlock = crl.toSchema(true).valueBlock.value[0]
  if (tbsBlock === undefined) throw new Error('pkijs produced an empty CertificateList')
  const tbs = new Uint8Array(tbsBlock.toBER())
  let signature = signer.sign(tbs)
  if (spec.corruptSignature === true) signature = flipLastBit(signature)
  crl.tbsView = tbs
  crl.signatureAlgorithm = signer.algorithm
  crl.signatureValue = new asn1js.BitString({ valueHex: toArrayBuffer(signature) })

  const der = new Uint8Array(crl.toSchema().toBER())
  return { der, pem: toPem(der, 'X509 CRL') }
}
