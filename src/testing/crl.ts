import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { createSigner, keyIdentifier } from './keys.js'
import type { KeyPair, SignatureHash } from './keys.js'
import {
  OID, authorityKeyIdentifierExtension, encodeName, extension, flipLastBit, integerBytes, parseSerial, subjectOf,
  toArrayBuffer, toInteger, toPem, toTime
} from './certificate.js'
import type { IssuedCertificate, NameInput, RawExtension } from './certificate.js'

/** CRLReason codes (RFC 5280 5.3.1). */
export const CrlReason = {
  unspecified: 0,
  keyCompromise: 1,
  cACompromise: 2,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  certificateHold: 6,
  removeFromCRL: 8,
  privilegeWithdrawn: 9,
  aACompromise: 10
} as const

/** ReasonFlags names (RFC 5280 4.2.1.13), for distribution points and onlySomeReasons. */
export type ReasonFlag = 'keyCompromise' | 'cACompromise' | 'affiliationChanged' | 'superseded' |
  'cessationOfOperation' | 'certificateHold' | 'privilegeWithdrawn' | 'aACompromise'
const reasonFlagBits: Record<ReasonFlag, number> = {
  keyCompromise: 1, cACompromise: 2, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5, certificateHold: 6, privilegeWithdrawn: 7, aACompromise: 8
}

export interface RevokedEntry {
  /** A bigint (negative allowed), or hex of the value; a `Uint8Array` is taken as the INTEGER's content octets as-is. */
  serialNumber: bigint | string | Uint8Array
  /** Default: the CRL's thisUpdate. */
  revocationDate?: Date
  /** CRLReason (RFC 5280 5.3.1), e.g. 1 keyCompromise (see CrlReason); omitted: no reasonCode entry extension. */
  reason?: number
  /** certificateIssuer entry extension (indirect CRLs, RFC 5280 5.3.3): this entry and the next ones are about this CA. */
  certificateIssuer?: NameInput
}

/** A DistributionPointName: full names (URIs, directory names). */
export interface DistributionPointNames {
  uri?: string[]
  dirName?: NameInput[]
}

export interface IssuingDistributionPointSpec extends DistributionPointNames {
  onlyContainsUserCerts?: boolean
  onlyContainsCACerts?: boolean
  onlySomeReasons?: ReasonFlag[]
  indirectCRL?: boolean
  onlyContainsAttributeCerts?: boolean
}

export interface DistributionPointSpec extends DistributionPointNames {
  reasons?: ReasonFlag[]
  /** cRLIssuer: the CA whose (indirect) CRL covers the certificate. */
  crlIssuer?: NameInput
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
  /** issuingDistributionPoint (critical): a partitioned or indirect CRL (RFC 5280 5.2.5). */
  issuingDistributionPoint?: IssuingDistributionPointSpec
  /** deltaCRLIndicator (critical) with this BaseCRLNumber: a delta CRL (RFC 5280 5.2.4). */
  deltaBase?: bigint | number
  /** freshestCRL (RFC 5280 5.2.6): where the delta CRLs of this base are published. */
  freshestCrl?: DistributionPointSpec[]
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
  const revoked = (spec.revoked ?? []).map((entry) => {
    const entryExtensions: pkijs.Extension[] = []
    if (entry.reason !== undefined) entryExtensions.push(extension(OID.reasonCode, new asn1js.Enumerated({ value: entry.reason })))
    if (entry.certificateIssuer !== undefined) entryExtensions.push(extension('2.5.29.29', derSequence([directoryName(entry.certificateIssuer)]), true))
    const serial = entry.serialNumber instanceof Uint8Array
      ? derTlv(0x02, [entry.serialNumber])
      : derTlv(0x02, [integerBytes(typeof entry.serialNumber === 'bigint' ? entry.serialNumber : parseSerial(entry.serialNumber))])
    return derSequence([
      serial,
      entry.revocationDate === undefined ? thisUpdateDer : ber(toTime(entry.revocationDate).toSchema()),
      ...(entryExtensions.length > 0 ? [ber(new pkijs.Extensions({ extensions: entryExtensions }).toSchema())] : [])
    ])
  })

  const extensions: pkijs.Extension[] = []
  const aki = spec.authorityKeyIdentifier ?? true
  if (aki !== false) {
    extensions.push(authorityKeyIdentifierExtension(aki instanceof Uint8Array
      ? aki
      : spec.issuer.certificate.subjectKeyIdentifier ?? keyIdentifier(spec.issuer.key)))
  }
  const crlNumber = spec.crlNumber === undefined ? 1n : spec.crlNumber
  if (crlNumber !== null) extensions.push(extension(OID.crlNumber, toInteger(BigInt(crlNumber))))
  if (spec.deltaBase !== undefined) extensions.push(extension('2.5.29.27', toInteger(BigInt(spec.deltaBase)), true))
  if (spec.freshestCrl !== undefined) extensions.push(extension('2.5.29.46', crlDistributionPoints(spec.freshestCrl).value))
  if (spec.issuingDistributionPoint !== undefined) extensions.push(extension('2.5.29.28', issuingDistributionPoint(spec.issuingDistributionPoint), true))
  for (const raw of spec.extensions ?? []) extensions.push(extension(raw.oid, raw.value, raw.critical ?? false))

  const hasEntryExtensions = (spec.revoked ?? []).some((entry) => entry.reason !== undefined || entry.certificateIssuer !== undefined)
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

function directoryName (name: NameInput): Uint8Array {
  return derTlv(0xa4, [encodeName(name)])
}

/** GeneralNames contents: URIs then directory names. */
function generalNameList (names: DistributionPointNames): Uint8Array[] {
  return [
    ...(names.uri ?? []).map((uri) => derTlv(0x86, [new Uint8Array(Buffer.from(uri, 'latin1'))])),
    ...(names.dirName ?? []).map(directoryName)
  ]
}

/** ReasonFlags as an implicitly tagged BIT STRING contents (DER: trailing zero bits dropped). */
function reasonFlags (tag: number, reasons: ReasonFlag[]): Uint8Array {
  let value = 0
  for (const r of reasons) value |= 1 << (15 - reasonFlagBits[r])
  if (value === 0) return derTlv(tag, [Uint8Array.of(0)])
  const bytes = (value & 0xff) !== 0 ? [value >> 8, value & 0xff] : [value >> 8]
  let unused = 0
  while (((bytes[bytes.length - 1]! >> unused) & 1) === 0) unused++
  return derTlv(tag, [Uint8Array.of(unused, ...bytes)])
}

/** DistributionPointName [0] { fullName [0] } when names are given. */
function dpName (tag: number, names: DistributionPointNames): Uint8Array[] {
  const list = generalNameList(names)
  return list.length === 0 ? [] : [derTlv(tag, [derTlv(0xa0, list)])]
}

function issuingDistributionPoint (idp: IssuingDistributionPointSpec): Uint8Array {
  const TRUE = Uint8Array.of(0xff)
  return derSequence([
    ...dpName(0xa0, idp),
    ...(idp.onlyContainsUserCerts === true ? [derTlv(0x81, [TRUE])] : []),
    ...(idp.onlyContainsCACerts === true ? [derTlv(0x82, [TRUE])] : []),
    ...(idp.onlySomeReasons !== undefined ? [reasonFlags(0x83, idp.onlySomeReasons)] : []),
    ...(idp.indirectCRL === true ? [derTlv(0x84, [TRUE])] : []),
    ...(idp.onlyContainsAttributeCerts === true ? [derTlv(0x85, [TRUE])] : [])
  ])
}

/**
 * A cRLDistributionPoints certificate extension (RFC 5280 4.2.1.13), for `CertificateSpec.extensions`:
 * each point with full names, optional reasons and an optional cRLIssuer.
 */
export function crlDistributionPoints (points: DistributionPointSpec[], critical = false): RawExtension {
  return {
    oid: '2.5.29.31',
    critical,
    value: derSequence(points.map((dp) => derSequence([
      ...dpName(0xa0, dp),
      ...(dp.reasons !== undefined ? [reasonFlags(0x81, dp.reasons)] : []),
      ...(dp.crlIssuer !== undefined ? [derTlv(0xa2, [directoryName(dp.crlIssuer)])] : [])
    ])))
  }
}
