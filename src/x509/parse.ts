/**
 * parse: DER -> the fields validation and identity need. Canonical DER certificates are read over
 * the bytes (parse-der.ts); everything else by asn1js/pkijs, the reference. This module keeps the
 * raw slices (TBS, names, SPKI) that signature checks and name chaining work on, and turns the
 * extensions that matter into plain values.
 */
import { createHash } from 'node:crypto'
import * as asn1js from 'asn1js'
import { LRUCache } from 'lru-cache'
import * as pkijs from 'pkijs'
import { parseName, nameKey, type Rdns } from './names.js'
import { children, DerError, hasBadOid, oidText, readOne, scanTree } from './der.js'
import {
  authorityKeyIdentifierFast, basicConstraintsFast, extKeyUsageFast, keyUsageBytesFast, readCertificateFast,
  subjectKeyIdentifierFast, type FastCertificate
} from './parse-der.js'
import { formatIp, generalNameForm, parseGeneralNames, type GeneralNames } from './general-names.js'
import { parseNameConstraints, type NameConstraints } from './name-constraints.js'

export { formatIp, type GeneralNames }

export const OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  nameConstraints: '2.5.29.30',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  certificatePolicies: '2.5.29.32',
  policyMappings: '2.5.29.33',
  policyConstraints: '2.5.29.36',
  inhibitAnyPolicy: '2.5.29.54',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1'
} as const

/** Extensions read here with the der walker rather than pkijs (large or performance-sensitive). */
const OWN_PARSERS = new Set<string>([OID.subjectAltName, OID.nameConstraints, OID.authorityInfoAccess])

/** keyUsage bits, RFC 5280 4.2.1.3 (bit 0 = digitalSignature). */
export const KeyUsage = {
  digitalSignature: 1 << 0,
  nonRepudiation: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8
} as const

export interface RawExtension {
  readonly oid: string
  readonly critical: boolean
  /** Contents of extnValue (the extension's own DER). */
  readonly value: Uint8Array
}

export interface ParsedCertificate {
  readonly der: Uint8Array
  readonly version: number
  readonly tbs: Uint8Array
  /** Serial number content octets as encoded (two's complement). */
  readonly serialBytes: Uint8Array
  /** Lowercase hex, leading zero octets removed ("0" for zero). */
  readonly serialNumber: string
  readonly subject: Rdns
  readonly issuer: Rdns
  readonly subjectKey: string
  readonly issuerKey: string
  readonly subjectDer: Uint8Array
  readonly issuerDer: Uint8Array
  readonly selfIssued: boolean
  readonly notBefore: Date
  readonly notAfter: Date
  readonly spki: Uint8Array
  /** OID of the subject public key's algorithm. */
  readonly spkiAlgorithm: string
  /** The key algorithm's parameters are an OBJECT IDENTIFIER (a named curve for EC keys). */
  readonly spkiParamsAreOid: boolean
  readonly signatureAlgorithm: string
  /** DER of the outer signatureAlgorithm. */
  readonly signatureAlgorithmDer: Uint8Array
  /** DER of the TBS signature field; RFC 5280 requires it to equal the outer one. */
  readonly tbsSignatureAlgorithmDer: Uint8Array
  /** asn1js form of the outer signatureAlgorithm parameters (read for RSASSA-PSS), or undefined. */
  readonly signatureParams: unknown
  readonly signature: Uint8Array
  readonly extensions: readonly RawExtension[]
  /** OID of an extension that appears twice (RFC 5280 4.2 forbids it), or null. */
  readonly duplicateExtension: string | null
  readonly basicConstraints: { ca: boolean, pathLength: number | null } | null
  /** keyUsage bit mask (see KeyUsage), or null when the extension is absent. */
  readonly keyUsage: number | null
  readonly extKeyUsage: readonly string[] | null
  readonly san: GeneralNames | null
  readonly subjectKeyIdentifier: Uint8Array | null
  readonly authorityKeyIdentifier: Uint8Array | null
  /** The authorityKeyIdentifier carries authorityCertIssuer or authorityCertSerialNumber. */
  readonly authorityKeyIdentifierByName: boolean
  /** Parsed nameConstraints, or null when absent. */
  readonly nameConstraints: NameConstraints | null
  /** Extension whose value could not be parsed, or null. */
  readonly badExtension: string | null
  readonly fingerprint256: string
}

export class CertificateParseError extends Error {}

function view (block: asn1js.AsnType): Uint8Array {
  return new Uint8Array(block.valueBeforeDecodeView)
}

function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function serialHex (bytes: Uint8Array): string {
  let i = 0
  while (i < bytes.length - 1 && bytes[i] === 0) i++
  const hex = toHex(bytes.subarray(i))
  return hex === '' ? '0' : hex
}

function bitsMask (bytes: Uint8Array): number {
  let mask = 0
  for (let i = 0; i < 9; i++) {
    const byte = bytes[i >> 3]
    if (byte !== undefined && (byte >> (7 - (i & 7))) & 1) mask |= 1 << i
  }
  return mask
}

const KNOWN = new Set<string>(Object.values(OID))

/**
 * The extensions of one certificate, read into the fields ParsedCertificate carries. Both parsers
 * feed it: the reference with pkijs' Extension objects, the fast reader with the raw values and,
 * for any extension it does not read itself, pkijs' Extension of the same bytes, so the outcome
 * (values, malformed extension, exceptions) is the reference's.
 */
class ExtensionReader {
  readonly extensions: RawExtension[] = []
  readonly seen = new Set<string>()
  duplicateExtension: string | null = null
  badExtension: string | null = null
  basicConstraints: ParsedCertificate['basicConstraints'] = null
  keyUsage: number | null = null
  extKeyUsage: string[] | null = null
  san: GeneralNames | null = null
  ski: Uint8Array | null = null
  aki: Uint8Array | null = null
  akiByName = false
  nameConstraints: NameConstraints | null = null

  /** `pkijsExtension` is called only when the extension needs pkijs (never for the own parsers). */
  add (oid: string, critical: boolean, value: Uint8Array, pkijsExtension: () => pkijs.Extension, fast: boolean): void {
    if (this.seen.has(oid)) this.duplicateExtension ??= oid
    this.seen.add(oid)
    this.extensions.push({ oid, critical, value })
    if (OWN_PARSERS.has(oid)) {
      try {
        if (oid === OID.subjectAltName) this.san = parseGeneralNames(value)
        else if (oid === OID.nameConstraints) this.nameConstraints = parseNameConstraints(value)
        else checkAuthorityInfoAccess(value)
      } catch {
        this.badExtension ??= oid
      }
      return
    }
    // X.690 11.2.1: the unused bits of a BIT STRING are zero in DER. A keyCertSign bit in the
    // declared padding is a bit no DER decoder (OpenSSL) reads: refuse rather than guess.
    if (oid === OID.keyUsage && !bitStringPaddingClear(value)) {
      this.badExtension ??= oid
      return
    }
    // OIDs inside the interpreted extensions (EKU purposes, policies, access methods) as well.
    if (KNOWN.has(oid) && hasBadOid(value)) {
      this.badExtension ??= oid
      return
    }
    // An extension this library does not interpret is kept as its bytes, skipped over by length:
    // never parsed into an object tree (a non-critical one may hold anything, e.g. 5,000 NULLs).
    if (!KNOWN.has(oid)) return
    if (fast && this.readCanonical(oid, value)) return
    const ext = pkijsExtension()
    const parsed = ext.parsedValue as (Record<string, unknown> & { parsingError?: string }) | undefined
    if (KNOWN.has(oid) && (parsed === undefined || parsed === null || parsed.parsingError !== undefined)) {
      this.badExtension ??= oid
      return
    }
    try {
      switch (oid) {
        case OID.basicConstraints: this.basicConstraints = readBasicConstraints(value); break
        case OID.keyUsage: this.keyUsage = bitsMask((parsed as unknown as asn1js.BitString).valueBlock.valueHexView); break
        case OID.extKeyUsage: this.extKeyUsage = [...(parsed as unknown as pkijs.ExtKeyUsage).keyPurposes]; break
        case OID.subjectKeyIdentifier: this.ski = new Uint8Array((parsed as unknown as asn1js.OctetString).valueBlock.valueHexView); break
        case OID.authorityKeyIdentifier: {
          const akiValue = parsed as unknown as pkijs.AuthorityKeyIdentifier
          const id = akiValue.keyIdentifier
          this.aki = id === undefined ? null : new Uint8Array(id.valueBlock.valueHexView)
          this.akiByName = akiValue.authorityCertIssuer !== undefined || akiValue.authorityCertSerialNumber !== undefined
          break
        }
      }
    } catch {
      this.badExtension ??= oid
    }
  }

  /** The canonical encodings of the interpreted extensions; false leaves the extension to pkijs. */
  private readCanonical (oid: string, value: Uint8Array): boolean {
    try {
      switch (oid) {
        case OID.basicConstraints: {
          const bc = basicConstraintsFast(value)
          if (bc !== null) this.basicConstraints = bc
          return bc !== null
        }
        case OID.keyUsage: {
          const bytes = keyUsageBytesFast(value)
          if (bytes !== null) this.keyUsage = bitsMask(bytes)
          return bytes !== null
        }
        case OID.extKeyUsage: {
          const purposes = extKeyUsageFast(value)
          if (purposes !== null) this.extKeyUsage = purposes
          return purposes !== null
        }
        case OID.subjectKeyIdentifier: {
          const id = subjectKeyIdentifierFast(value)
          if (id !== null) this.ski = id
          return id !== null
        }
        case OID.authorityKeyIdentifier: {
          const id = authorityKeyIdentifierFast(value)
          if (id !== null) this.aki = id
          return id !== null
        }
        default:
          return false
      }
    } catch {
      return false
    }
  }
}

const cache = new WeakMap<Uint8Array, ParsedCertificate>()

/**
 * Parses one DER certificate. Throws CertificateParseError on anything that is not one.
 *
 * Certificates in the canonical DER form CAs produce are read by the fast reader (parse-der.ts)
 * over the bytes; anything else, and every refusal, goes through the reference parser (asn1js +
 * pkijs over the whole certificate), which alone decides what is refused and why.
 */
export function parseCertificate (der: Uint8Array): ParsedCertificate {
  const cached = cache.get(der)
  if (cached !== undefined) return cached
  checkEnvelope(der)
  const fast = readCertificateFast(der)
  const parsed = fast === null ? parseReference(der) : fromFast(der, fast)
  cache.set(der, parsed)
  return parsed
}

/** The reference parser alone, envelope check included (for tests comparing it with the fast reader). */
export function parseCertificateReference (der: Uint8Array): ParsedCertificate {
  checkEnvelope(der)
  return parseReference(der)
}

/** The fast reader alone: null when it leaves the certificate to the reference (for tests). */
export function parseCertificateFast (der: Uint8Array): ParsedCertificate | null {
  checkEnvelope(der)
  const fast = readCertificateFast(der)
  return fast === null ? null : fromFast(der, fast)
}

function fromFast (der: Uint8Array, c: FastCertificate): ParsedCertificate {
  const ext = new ExtensionReader()
  for (const e of c.extensions ?? []) {
    ext.add(e.oid, e.critical, e.value, () => new pkijs.Extension({ schema: asn1js.fromBER(e.der, { parseEmbedded: false }).result }), true)
  }
  const subjectKey = nameKey(c.subject)
  const issuerKey = nameKey(c.issuer)
  const params = c.signatureAlgorithm.params
  return {
    der,
    version: c.version,
    tbs: c.tbs,
    serialBytes: c.serialBytes,
    serialNumber: serialHex(c.serialBytes),
    subject: c.subject,
    issuer: c.issuer,
    subjectKey,
    issuerKey,
    subjectDer: c.subjectDer,
    issuerDer: c.issuerDer,
    selfIssued: subjectKey === issuerKey,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    spki: c.spki,
    spkiAlgorithm: c.spkiAlgorithm.oid,
    spkiParamsAreOid: c.spkiAlgorithm.params?.tag === 0x06,
    signatureAlgorithm: c.signatureAlgorithm.oid,
    signatureAlgorithmDer: c.signatureAlgorithm.der,
    tbsSignatureAlgorithmDer: c.tbsSignature.der,
    signatureParams: params === undefined ? undefined : asn1js.fromBER(params.der).result,
    signature: c.signature,
    ...extensionFields(ext),
    fingerprint256: createHash('sha256').update(der).digest('hex')
  }
}

function extensionFields (ext: ExtensionReader): Pick<ParsedCertificate, 'extensions' | 'duplicateExtension' | 'basicConstraints' |
  'keyUsage' | 'extKeyUsage' | 'san' | 'subjectKeyIdentifier' | 'authorityKeyIdentifier' | 'authorityKeyIdentifierByName' |
  'nameConstraints' | 'badExtension'> {
  return {
    extensions: ext.extensions,
    duplicateExtension: ext.duplicateExtension,
    basicConstraints: ext.basicConstraints,
    keyUsage: ext.keyUsage,
    extKeyUsage: ext.extKeyUsage,
    san: ext.san,
    subjectKeyIdentifier: ext.ski,
    authorityKeyIdentifier: ext.aki,
    authorityKeyIdentifierByName: ext.akiByName,
    nameConstraints: ext.nameConstraints,
    badExtension: ext.badExtension
  }
}

/** The reference: asn1js builds the whole tree, pkijs checks it against the Certificate schema. */
function parseReference (der: Uint8Array): ParsedCertificate {
  // parseEmbedded: false: asn1js would otherwise try to parse the contents of every OCTET STRING and
  // BIT STRING as ASN.1 too (extension values, the key, the signature), building a tree of whatever
  // an unknown extension holds. Extensions read here are parsed on their own, each by its reader.
  const asn1 = asn1js.fromBER(der, { parseEmbedded: false, maxNodes: MAX_CERTIFICATE_ELEMENTS + 4 })
  if (asn1.offset === -1 || asn1.offset !== der.byteLength) throw new CertificateParseError('not a single DER structure')
  const root = asn1.result
  if (!(root instanceof asn1js.Sequence) || root.valueBlock.value.length !== 3) throw new CertificateParseError('not a Certificate SEQUENCE')
  // The non-DER certificates that skip checkEnvelope's scan: the same OID rule on asn1js' tree.
  if (hasPaddedOid(root)) throw new CertificateParseError('OBJECT IDENTIFIER with a non-minimal arc')
  const [tbsBlock, sigAlgBlock] = root.valueBlock.value as [asn1js.AsnType, asn1js.AsnType]
  if (!(tbsBlock instanceof asn1js.Sequence)) throw new CertificateParseError('TBSCertificate is not a SEQUENCE')
  let cert: pkijs.Certificate
  try {
    cert = new pkijs.Certificate({ schema: root })
  } catch (err) {
    throw new CertificateParseError(`pkijs: ${(err as Error).message}`)
  }
  const fields = tbsBlock.valueBlock.value
  const offset = fields[0] instanceof asn1js.Constructed && fields[0].idBlock.tagClass === 3 && fields[0].idBlock.tagNumber === 0 ? 1 : 0
  const [serialBlock, tbsSigBlock, issuerBlock, , subjectBlock, spkiBlock] = fields.slice(offset) as asn1js.AsnType[]
  if (!(serialBlock instanceof asn1js.Integer) || tbsSigBlock === undefined || issuerBlock === undefined ||
    subjectBlock === undefined || spkiBlock === undefined) {
    throw new CertificateParseError('TBSCertificate fields missing')
  }

  let subject: Rdns, issuer: Rdns
  try {
    subject = parseName(subjectBlock)
    issuer = parseName(issuerBlock)
  } catch (err) {
    throw new CertificateParseError(`bad name: ${(err as Error).message}`)
  }

  const ext = new ExtensionReader()
  for (const e of cert.extensions ?? []) {
    ext.add(e.extnID, e.critical, new Uint8Array(e.extnValue.valueBlock.valueHexView), () => e, false)
  }

  const serialBytes = new Uint8Array(serialBlock.valueBlock.valueHexView)
  const spkiAlgorithm = cert.subjectPublicKeyInfo.algorithm
  return {
    der,
    version: cert.version + 1,
    tbs: view(tbsBlock),
    serialBytes,
    serialNumber: serialHex(serialBytes),
    subject,
    issuer,
    subjectKey: nameKey(subject),
    issuerKey: nameKey(issuer),
    subjectDer: view(subjectBlock),
    issuerDer: view(issuerBlock),
    selfIssued: nameKey(subject) === nameKey(issuer),
    notBefore: cert.notBefore.value,
    notAfter: cert.notAfter.value,
    spki: view(spkiBlock),
    spkiAlgorithm: spkiAlgorithm.algorithmId,
    spkiParamsAreOid: spkiAlgorithm.algorithmParams instanceof asn1js.ObjectIdentifier,
    signatureAlgorithm: cert.signatureAlgorithm.algorithmId,
    signatureAlgorithmDer: view(sigAlgBlock),
    tbsSignatureAlgorithmDer: view(tbsSigBlock),
    signatureParams: cert.signatureAlgorithm.algorithmParams,
    signature: new Uint8Array(cert.signatureValue.valueBlock.valueHexView),
    ...extensionFields(ext),
    fingerprint256: createHash('sha256').update(der).digest('hex')
  }
}

/**
 * Issuer certificates seen in headers, by DER. Intermediates repeat across clients, so each distinct
 * one is parsed (and its public key imported, see signature.ts) once. Bounded: a client sending new
 * intermediates each time only evicts others. Parsing is a pure function of the bytes, so one cache
 * serves every verifier.
 */
const issuers = new LRUCache<string, ParsedCertificate>({ max: 1024 })

/** parseCertificate for a certificate that is likely to come again (an issuer in a header). */
export function parseIssuerCertificate (der: Uint8Array): ParsedCertificate {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1')
  let parsed = issuers.get(key)
  if (parsed === undefined) {
    // Own copy of the bytes (not Buffer#slice, a view): the cached structure must not pin the
    // request's decode buffer.
    parsed = parseCertificate(new Uint8Array(der))
    issuers.set(key, parsed)
  }
  return parsed
}

/** Empties the issuer cache (benchmarks measure a chain never seen before with it). */
export function clearIssuerCache (): void {
  issuers.clear()
}

/**
 * Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }, in
 * strict DER. The signature covers the TBS bytes only, and the outer signatureAlgorithm must equal
 * the signed one byte for byte (checks.ts), so what remains malleable is this envelope: the outer
 * and BIT STRING length encodings and the BIT STRING's unused-bits octet. asn1js reads BER and lets
 * an outer length disagree with its contents; without this check one certificate would have many
 * encodings, each with its own fingerprint (a fingerprint deny-list could be walked around).
 */
function checkEnvelope (der: Uint8Array): void {
  let fields
  try {
    const outer = readOne(der)
    fields = outer.tag === 0x30 ? children(outer.value) : []
  } catch (err) {
    throw new CertificateParseError(`not strict DER: ${(err as Error).message}`)
  }
  const [tbs, alg, sig] = fields
  if (fields.length !== 3 || tbs?.tag !== 0x30 || alg?.tag !== 0x30 || sig?.tag !== 0x03) {
    throw new CertificateParseError('not a Certificate SEQUENCE of three fields')
  }
  if (sig.value[0] !== 0) throw new CertificateParseError('signatureValue: unused bits in the BIT STRING')
  let scan
  try {
    scan = scanTree(tbs.value, MAX_CERTIFICATE_ELEMENTS)
  } catch (err) {
    // BER inside the TBS: the reference parser counts the same elements (asn1js maxNodes).
    if (err instanceof DerError) return
    throw err
  }
  if (scan.elements > MAX_CERTIFICATE_ELEMENTS) {
    throw new CertificateParseError(`more than ${MAX_CERTIFICATE_ELEMENTS} ASN.1 elements (extension values and keys not counted)`)
  }
  // Every OID of the tree (algorithms, name attribute types, extension IDs) minimally encoded.
  if (scan.badOid) throw new CertificateParseError('OBJECT IDENTIFIER with a non-minimal or truncated arc')
}

/**
 * Most ASN.1 elements in a certificate's tree, not counting what primitive OCTET and BIT STRINGs hold
 * (extension values, the key, the signature), which are read by their own bounded readers or not at
 * all. Client certificates have 50-150 (each name attribute is four: SET, SEQUENCE, OID, value);
 * parsing costs grow with this count (tens of microseconds per element through asn1js/pkijs), so a
 * crafted name of thousands of attributes is refused before anything reads it.
 */
export const MAX_CERTIFICATE_ELEMENTS = 512

/** An OBJECT IDENTIFIER in an asn1js tree (at most MAX_CERTIFICATE_ELEMENTS nodes) with a padded arc. */
function hasPaddedOid (block: asn1js.AsnType): boolean {
  if (block instanceof asn1js.ObjectIdentifier) {
    // asn1js warns about any arc whose first octet carries no bits, a lone 0x00 (arc 0) included:
    // only an arc of more than one octet is padded.
    return block.valueBlock.value.some((sid) => sid.blockLength > 1 && sid.warnings.some((w) => w.startsWith('Needlessly long format')))
  }
  const value = (block as { valueBlock?: { value?: unknown } }).valueBlock?.value
  return Array.isArray(value) && value.some((child) => hasPaddedOid(child as asn1js.AsnType))
}

/** False when a DER BIT STRING has set bits in its declared padding (or padding without content). */
function bitStringPaddingClear (value: Uint8Array): boolean {
  let bits
  try {
    bits = readOne(value)
  } catch {
    return true // not DER: pkijs reads it, as before
  }
  if (bits.tag !== 0x03 || bits.value.length === 0) return true
  const unused = bits.value[0]!
  if (unused === 0) return true
  if (unused > 7 || bits.value.length === 1) return false
  return (bits.value[bits.value.length - 1]! & ((1 << unused) - 1)) === 0
}

/** AuthorityInfoAccessSyntax ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { accessMethod OID, accessLocation GeneralName } */
function checkAuthorityInfoAccess (value: Uint8Array): void {
  const seq = readOne(value)
  if (seq.tag !== 0x30) throw new Error('AuthorityInfoAccess is not a SEQUENCE')
  const descriptions = children(seq.value)
  if (descriptions.length === 0) throw new Error('empty AuthorityInfoAccess')
  for (const d of descriptions) {
    const parts = d.tag === 0x30 ? children(d.value) : []
    if (parts.length !== 2 || parts[0]!.tag !== 0x06) throw new Error('bad AccessDescription')
    oidText(parts[0]!.value)
    generalNameForm(parts[1]!)
  }
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER (0..MAX) OPTIONAL } */
function readBasicConstraints (value: Uint8Array): ParsedCertificate['basicConstraints'] {
  const asn1 = asn1js.fromBER(value)
  const seq = asn1.result
  if (asn1.offset !== value.byteLength || !(seq instanceof asn1js.Sequence)) throw new Error('bad basicConstraints')
  let ca = false
  let pathLength: number | null = null
  for (const item of seq.valueBlock.value) {
    if (item instanceof asn1js.Boolean) ca = item.valueBlock.value
    else if (item instanceof asn1js.Integer) {
      pathLength = item.valueBlock.isHexOnly ? Number.MAX_SAFE_INTEGER : item.valueBlock.valueDec
      if (pathLength < 0) throw new Error('negative pathLenConstraint')
    } else throw new Error('bad basicConstraints')
  }
  return { ca, pathLength }
}

/** Base64 body of a PEM certificate. */
export function toPem (der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64')
  return `-----BEGIN CERTIFICATE-----\n${b64.replace(/.{64}/g, '$&\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`
}
