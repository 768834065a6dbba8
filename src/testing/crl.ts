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

  // The TBS is assembled from small DER pieces rather than one pkijs object graph: asn1js takes
  // seconds (and pkijs' toSchema() fails) on CRLs with 100k entries; this stays linear.
  const ber = (block: { toBER (): ArrayBuffer }): Uint8Array => new Uint8Array(block.toBER())
  const thisUpdateDer = ber(toTime(thisUpdate).toSchema())
  const revoked = (spec.revoked ?? []).map((entry) => derSequence([
    ber(toInteger(parseSerial(entry.serialNumber))),
    entry.revocationDate === undefined ? thisUpdateDer : ber(toTime(entry.revocationDate).toSchema()),
    ...(entry.reason !== undefined
      ? [ber(new pkijs.Extensions({ extensions: [extension(OID.reasonCode, new asn1js.Enumerated({ value: entry.reason }))] }).toSchema())]
      : [])
  ]))

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

  const hasEntryExtensions = (spec.revoked ?? []).some((entry) => entry.reason !== undefined)
  // v2 whenever any extension is present (RFC 5280 5.1.2.1); otherwise v1 (version field absent).
  const v2 = extensions.length > 0 || hasEntryExtensions
  const algorithmDer = ber(signer.algorithm.toSchema())
  const tbs = derSequence([
    ...(v2 ? [ber(new asn1js.Integer({ value: 1 }))] : []),
    algorithmDer,
    ber(subjectOf(spec.issuer.certificate).toSchema()),
    thisUpdateDer,
    ...(nextUpdate !== null ? [ber(toTime(nextUpdate).toSchema())] : []),
    // An empty revokedCertificates list must be omitted, not encoded empty.
    ...(revoked.length > 0 ? [derSequence(revoked)] : []),
    ...(extensions.length > 0 ? [derTlv(0xa0, [ber(new pkijs.Extensions({ extensions }).toSchema())])] : [])
  ])
  let signature = signer.sign(tbs)
  if (spec.corruptSignature === true) signature = flipLastBit(signature)

  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
  const der = derSequence([tbs, algorithmDer, ber(new asn1js.BitString({ valueHex: toArrayBuffer(signature) }))])
  return { der, pem: toPem(der, 'X509 CRL') }
}

function derTlv (tag: number, parts: Uint8Array[]): Uint8Array {
  const length = parts.reduce((n, part) => n + part.length, 0)
  const header: number[] = [tag]
  if (length < 0x80) header.push(length)
  else {
    const bytes: number[] = []
    for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
    header.push(0x80 | bytes.length, ...bytes)
  }
  return new Uint8Array(Buffer.concat([Uint8Array.from(header), ...parts]))
}

function derSequence (parts: Uint8Array[]): Uint8Array {
  return derTlv(0x30, parts)
}
