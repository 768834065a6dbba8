/**
 * crl: certificate revocation lists (RFC 5280 section 5) given as options.
 *
 * CRLs are configuration: they are parsed and checked once, when loaded, and every structural
 * problem throws there. Revoked entries are indexed per CRL by (certificate issuer, serial) in a
 * compact hash table over the CRL's own DER (CrlIndex), so a check costs O(1) whatever the CRL's
 * size, and 500,000 entries cost about a third of their DER size on top of it (issue 16: ALB allows
 * CRL files of 50 MB); parseCrlAsync reads them in slices that leave the event loop free. Indirect
 * CRLs (certificateIssuer entries, RFC 5280 5.3.3), partitioned CRLs (issuingDistributionPoint, 5.2.5) and delta CRLs
 * (deltaCRLIndicator, 5.2.4) load, and their scope is applied per certificate (check.ts). Whether a
 * CRL may be used at a given time is a separate question (`crlUsableAt`), answered per request.
 */
import { randomBytes } from 'node:crypto'
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { children, DerError, header, integerHex, oidText, readHeader, readOne, timeAt, timeValue, type Tlv } from '../../x509/der.js'
import { sameBytes } from '../checks.js'
import { nameKey, parseName, type Rdns } from '../../x509/names.js'
import { directoryName } from '../../x509/general-names.js'
import { parseCertificate, type ParsedCertificate } from '../../x509/parse.js'
import { parseIssuingDistributionPoint, type IssuingDistributionPoint } from './scope.js'
import type { CrlInput } from '../../types.js'
import { readPemBlocks, type PemBlock } from '../../x509/pem.js'
import { InvalidOptionError } from '../../errors.js'

const CRL_OID = {
  authorityKeyIdentifier: '2.5.29.35',
  issuerAltName: '2.5.29.18',
  crlNumber: '2.5.29.20',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  freshestCrl: '2.5.29.46',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  reasonCode: '2.5.29.21',
  invalidityDate: '2.5.29.24',
  certificateIssuer: '2.5.29.29'
} as const

/** CRL extensions understood here; unknown critical ones make the CRL unusable (RFC 5280 5.2). */
const CRL_EXTENSIONS = new Set<string>([CRL_OID.authorityKeyIdentifier, CRL_OID.issuerAltName, CRL_OID.crlNumber, CRL_OID.freshestCrl, CRL_OID.authorityInfoAccess])
/** hold instruction code (RFC 5280 5.3.2, deprecated but harmless): understood as "ignore". */
const HOLD_INSTRUCTION = '2.5.29.23'
const ENTRY_EXTENSIONS = new Set<string>([CRL_OID.reasonCode, CRL_OID.invalidityDate, CRL_OID.certificateIssuer, HOLD_INSTRUCTION])

/** CRLReason names (RFC 5280 5.3.1); 7 is unused. */
export const REASON_NAMES: Readonly<Record<number, string>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise'
}

export interface CrlEntry {
  /** CRLReason code; null when the entry has no reasonCode (unspecified). */
  readonly reason: number | null
  /** nameKey of the certificate issuer the entry is about (the CRL issuer unless certificateIssuer said otherwise). */
  readonly issuerKey: string
}

/**
 * A serial number as a map key: the INTEGER's two's-complement contents in minimal form, as hex. The
 * sign is kept, so +255 (`00 ff`) and -1 (`ff`) differ (RFC 5280 4.1.2.2 serials are INTEGERs).
 */
export function serialKey (bytes: Uint8Array): string {
  let i = 0
  while (i < bytes.length - 1 && ((bytes[i] === 0 && bytes[i + 1]! < 0x80) || (bytes[i] === 0xff && bytes[i + 1]! >= 0x80))) i++
  const hex = Buffer.from(bytes.buffer, bytes.byteOffset + i, bytes.byteLength - i).toString('hex')
  return hex === '' ? '00' : hex
}

/** The CRL's entry about the certificate with this issuer (nameKey) and serial (content octets), if any. */
export function findEntry (crl: ParsedCrl, issuerKey: string, serial: Uint8Array): CrlEntry | undefined {
  return (crl.entries as CrlIndex).find(issuerKey, serial)
}

/** Revoked entries of one CRL (read them with `findEntry`). */
export interface CrlEntries {
  /** Number of (certificate issuer, serial) pairs listed; a pair listed twice counts once (the later entry wins). */
  readonly size: number
}

/** Start of a serial's minimal two's-complement form within `bytes[start, end)` (see serialKey). */
function minimalStart (bytes: Uint8Array, start: number, end: number): number {
  let i = start
  while (i < end - 1 && ((bytes[i] === 0 && bytes[i + 1]! < 0x80) || (bytes[i] === 0xff && bytes[i + 1]! >= 0x80))) i++
  return i
}

/**
 * Random tables for tabulation hashing (one table of 256 words per byte position, 32 positions),
 * drawn per process. CRL entries are indexed before the CRL's signature is checked, so serials may
 * be chosen by whoever can write the CRL object: with secret random tables they cannot be chosen to
 * collide (the table would degrade to a list and the load to quadratic time), as V8's seeded string
 * hashing protected the Map this index replaces.
 */
const TABLES = new Int32Array(randomBytes(32 * 256 * 4).buffer)

/** Tabulation hash of a serial's minimal form, mixed with the issuer's id. */
function serialHash (bytes: Uint8Array, start: number, end: number, issuer: number): number {
  let h = Math.imul(issuer + 1, 0x9e3779b1) ^ (end - start)
  for (let i = start; i < end; i++) {
    const position = i - start
    const word = TABLES[((position & 31) << 8) | bytes[i]!]!
    // Past 32 octets (longer than RFC 5280 4.1.2.2 allows), the tables repeat rotated.
    const turn = (position >>> 5) & 31
    h ^= turn === 0 ? word : (word << turn) | (word >>> (32 - turn))
  }
  // murmur3's finaliser: a bijection, so it adds no collisions; it spreads the bits the mask keeps.
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  return (h ^ (h >>> 16)) >>> 0
}

const NO_REASON = 0xff

/**
 * The entries of one CRL without an object per entry: the CRL's DER is kept once, each entry is
 * the [start, end) of its serial's minimal form in that DER (RFC 5280 4.1.2.2: serials compare as
 * signed INTEGERs, so `00 ff` and `ff` differ) and a reason byte; (issuer, serial) pairs sit in an
 * open-addressing table of entry numbers. Issuers are numbered: 0 is the CRL issuer; indirect CRLs
 * (RFC 5280 5.3.3) add the certificateIssuer names, and only they keep an issuer per slot.
 */
class CrlIndex implements CrlEntries {
  size = 0
  private readonly mask: number
  private readonly slots: Int32Array
  private readonly slotIssuer: Int32Array | null

  constructor (
    private readonly der: Uint8Array,
    /** [start, end) of each entry's serial (minimal form) in `der`. */
    private readonly serials: Uint32Array,
    /** CRLReason of each entry, NO_REASON when absent. */
    private readonly reasons: Uint8Array,
    private readonly issuerIds: ReadonlyMap<string, number>,
    private readonly issuerKeys: readonly string[],
    pairs: number
  ) {
    let capacity = 8
    while (capacity < pairs * 2) capacity *= 2
    this.mask = capacity - 1
    this.slots = new Int32Array(capacity)
    this.slotIssuer = issuerKeys.length > 1 ? new Int32Array(capacity) : null
  }

  /** Indexes entry `entry` under issuer `issuer`; a pair already there takes the later entry. */
  insert (entry: number, issuer: number): void {
    const start = this.serials[2 * entry]!
    const end = this.serials[2 * entry + 1]!
    let at = serialHash(this.der, start, end, issuer) & this.mask
    for (;;) {
      const held = this.slots[at]!
      if (held === 0) {
        this.slots[at] = entry + 1
        if (this.slotIssuer !== null) this.slotIssuer[at] = issuer
        this.size++
        return
      }
      if ((this.slotIssuer === null || this.slotIssuer[at] === issuer) && this.sameSerial(held - 1, this.der, start, end)) {
        this.slots[at] = entry + 1
        return
      }
      at = (at + 1) & this.mask
    }
  }

  find (issuerKey: string, serial: Uint8Array): CrlEntry | undefined {
    const issuer = this.issuerIds.get(issuerKey)
    if (issuer === undefined) return undefined
    const start = minimalStart(serial, 0, serial.length)
    let at = serialHash(serial, start, serial.length, issuer) & this.mask
    for (;;) {
      const held = this.slots[at]!
      if (held === 0) return undefined
      if ((this.slotIssuer === null || this.slotIssuer[at] === issuer) && this.sameSerial(held - 1, serial, start, serial.length)) {
        const reason = this.reasons[held - 1]!
        return Object.freeze({ reason: reason === NO_REASON ? null : reason, issuerKey: this.issuerKeys[issuer]! })
      }
      at = (at + 1) & this.mask
    }
  }

  private sameSerial (entry: number, bytes: Uint8Array, start: number, end: number): boolean {
    const from = this.serials[2 * entry]!
    if (this.serials[2 * entry + 1]! - from !== end - start) return false
    for (let i = 0; i < end - start; i++) if (this.der[from + i] !== bytes[start + i]) return false
    return true
  }
}

export interface ParsedCrl {
  readonly der: Uint8Array
  readonly issuer: Rdns
  readonly issuerKey: string
  readonly thisUpdate: number
  readonly nextUpdate: number
  /** cRLNumber, lowercase hex (see crlNumberValue for comparisons); null for a complete CRL without one. */
  readonly crlNumber: string | null
  /** cRLNumber as a number, -1 when absent (older than any numbered CRL; never a delta's base). */
  readonly crlNumberValue: bigint
  readonly authorityKeyIdentifier: Uint8Array | null
  /** Entries (read them with `findEntry`); size is the number of (issuer, serial) pairs listed. */
  readonly entries: CrlEntries
  /** issuingDistributionPoint (RFC 5280 5.2.5), null when absent. */
  readonly idp: IssuingDistributionPoint | null
  /** BaseCRLNumber of a delta CRL (RFC 5280 5.2.4); null for a complete CRL. */
  readonly deltaBase: bigint | null
  readonly tbs: Uint8Array
  readonly signatureAlgorithm: string
  readonly signatureParams: unknown
  readonly signature: Uint8Array
}

export class CrlError extends Error {}

interface Extension { oid: string, critical: boolean, value: Uint8Array }

function readExtensions (tlv: Tlv): Extension[] {
  if (tlv.tag !== 0x30) throw new CrlError('Extensions is not a SEQUENCE')
  const out: Extension[] = []
  for (const ext of children(tlv.value)) {
    const parts = ext.tag === 0x30 ? children(ext.value) : []
    const [id, second, third] = parts
    if (id?.tag !== 0x06) throw new CrlError('bad Extension')
    let critical = false
    let value: Tlv | undefined = second
    if (second?.tag === 0x01) {
      if (second.value.length !== 1 || second.value[0] !== 0xff) throw new CrlError('critical must be DER TRUE when present')
      critical = true
      value = third
    } else if (third !== undefined) throw new CrlError('bad Extension')
    if (value?.tag !== 0x04 || parts.length !== (critical ? 3 : 2)) throw new CrlError('bad Extension value')
    const oid = oidText(id.value)
    if (out.some((e) => e.oid === oid)) throw new CrlError(`extension ${oid} appears twice`)
    out.push({ oid, critical, value: value.value })
  }
  return out
}

function algorithm (tlv: Tlv): { id: string, params: unknown } {
  const asn1 = asn1js.fromBER(tlv.der)
  if (asn1.offset !== tlv.der.byteLength) throw new CrlError('bad AlgorithmIdentifier')
  const alg = new pkijs.AlgorithmIdentifier({ schema: asn1.result })
  return { id: alg.algorithmId, params: alg.algorithmParams }
}

/** Entries parsed (and then indexed) between two yields of the incremental parser. */
const SLICE = 1024
/** parseCrlAsync gives the event loop a turn once it has run this long, ms. */
const TURN_MS = 8

/** Parses one DER CRL and applies the structural rules. Throws CrlError with the reason. */
export function parseCrl (der: Uint8Array): ParsedCrl {
  const steps = parseSteps(der)
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
  }
}

/**
 * parseCrl in slices of entries, yielding to the event loop (setImmediate) between them, so that a
 * CRL of 500,000 entries does not hold up the requests being served meanwhile. Same result.
 */
export async function parseCrlAsync (der: Uint8Array): Promise<ParsedCrl> {
  const steps = parseSteps(der)
  let since = performance.now()
  for (;;) {
    const step = steps.next()
    if (step.done === true) return step.value
    if (performance.now() - since >= TURN_MS) {
      await new Promise((resolve) => setImmediate(resolve))
      since = performance.now()
    }
  }
}

function * parseSteps (der: Uint8Array): Generator<void, ParsedCrl> {
  try {
    return yield * parseCrlUnchecked(der)
  } catch (err) {
    if (err instanceof CrlError) throw err
    throw new CrlError(err instanceof DerError ? `malformed DER: ${err.message}` : (err as Error).message)
  }
}

/** DER of the entry extension OIDs recognised (RFC 5280 5.3), compared as bytes. */
const ENTRY_OID_DER = {
  reasonCode: [0x55, 0x1d, 0x15],
  invalidityDate: [0x55, 0x1d, 0x18],
  certificateIssuer: [0x55, 0x1d, 0x1d],
  holdInstruction: [0x55, 0x1d, 0x17]
} as const

function oidIs (bytes: Uint8Array, start: number, end: number, oid: readonly number[]): boolean {
  if (end - start !== oid.length) return false
  for (let i = 0; i < oid.length; i++) if (bytes[start + i] !== oid[i]) return false
  return true
}

function sameRange (bytes: Uint8Array, aStart: number, aEnd: number, bStart: number, bEnd: number): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false
  for (let i = 0; i < aEnd - aStart; i++) if (bytes[aStart + i] !== bytes[bStart + i]) return false
  return true
}

function * parseCrlUnchecked (der: Uint8Array): Generator<void, ParsedCrl> {
  const outer = readOne(der)
  const [tbs, sigAlg, sig, ...extra] = outer.tag === 0x30 ? children(outer.value) : []
  if (tbs?.tag !== 0x30 || sigAlg?.tag !== 0x30 || sig?.tag !== 0x03 || extra.length > 0) throw new CrlError('not a CertificateList')
  const fields = children(tbs.value)
  let i = 0
  let version = 1
  if (fields[i]?.tag === 0x02) {
    const v = fields[i++]!.value
    if (v.length !== 1 || v[0] !== 1) throw new CrlError('CRL version must be v2')
    version = 2
  }
  const innerAlg = fields[i++]
  const issuerTlv = fields[i++]
  const thisUpdateTlv = fields[i++]
  if (innerAlg?.tag !== 0x30 || issuerTlv?.tag !== 0x30 || thisUpdateTlv === undefined) throw new CrlError('TBSCertList fields missing')
  if (!sameBytes(innerAlg.der, sigAlg.der)) throw new CrlError('signature algorithm differs inside and outside the signed part')
  const thisUpdate = timeValue(thisUpdateTlv)
  let nextUpdate: number | null = null
  if (fields[i]?.tag === 0x17 || fields[i]?.tag === 0x18) nextUpdate = timeValue(fields[i++]!)
  // revokedCertificates (RFC 5280 5.1.2.6): walked below, once the CRL's extensions are known.
  const list = fields[i]?.tag === 0x30 ? fields[i++]! : null
  let extensions: Extension[] = []
  if (fields[i]?.tag === 0xa0) extensions = readExtensions(readOne(fields[i++]!.value))
  if (i !== fields.length) throw new CrlError('unexpected field in TBSCertList')
  if (version === 1 && extensions.length > 0) throw new CrlError('extensions in a v1 CRL')

  let crlNumber: string | null = null
  let aki: Uint8Array | null = null
  let deltaBase: bigint | null = null
  let idpValue: Uint8Array | null = null
  for (const ext of extensions) {
    if (ext.oid === CRL_OID.crlNumber) {
      // RFC 5280 5.2.3: a non-critical, non-negative INTEGER of at most 20 octets.
      if (ext.critical) throw new CrlError('cRLNumber must not be critical')
      const n = readOne(ext.value)
      if (n.tag !== 0x02 || n.value.length === 0 || n.value.length > 21 || (n.value[0]! & 0x80) !== 0) throw new CrlError('bad cRLNumber')
      crlNumber = integerHex(n.value)
    } else if (ext.oid === CRL_OID.authorityKeyIdentifier) {
      if (ext.critical) throw new CrlError('authorityKeyIdentifier must not be critical')
      const seq = readOne(ext.value)
      if (seq.tag !== 0x30) throw new CrlError('bad authorityKeyIdentifier')
      aki = children(seq.value).find((c) => c.tag === 0x80)?.value ?? null
    } else if (ext.oid === CRL_OID.deltaCrlIndicator) {
      // RFC 5280 5.2.4: critical, BaseCRLNumber ::= CRLNumber.
      if (!ext.critical) throw new CrlError('deltaCRLIndicator must be critical')
      const n = readOne(ext.value)
      if (n.tag !== 0x02 || n.value.length === 0 || n.value.length > 21 || (n.value[0]! & 0x80) !== 0) throw new CrlError('bad deltaCRLIndicator')
      deltaBase = BigInt('0x' + integerHex(n.value))
    } else if (ext.oid === CRL_OID.issuingDistributionPoint) {
      // RFC 5280 5.2.5: critical; read below, once the issuer name is known.
      if (!ext.critical) throw new CrlError('issuingDistributionPoint must be critical')
      idpValue = ext.value
    } else if (ext.critical && !CRL_EXTENSIONS.has(ext.oid)) {
      throw new CrlError(`unsupported critical CRL extension ${ext.oid}`)
    }
  }
  // RFC 5280 5.2.3 has issuers include cRLNumber, but 6.3.3 does not need it to use a complete CRL,
  // and v1 CRLs (`openssl ca -gencrl` without a crlnumber file) have none. Whether one is required
  // is the verifier's setting (crlPolicy.requireCrlNumber); such a CRL can be no delta's base
  // (5.2.4). A delta CRL is ordered by its number, so it must carry one.
  if (crlNumber === null && deltaBase !== null) throw new CrlError('delta CRL without cRLNumber')
  // RFC 5280 5.1.2.5: without nextUpdate nothing bounds how stale the CRL may be.
  if (nextUpdate === null) throw new CrlError('CRL without nextUpdate')

  let issuer: Rdns
  try {
    issuer = parseName(asn1js.fromBER(issuerTlv.der).result)
  } catch (err) {
    throw new CrlError(`bad issuer name: ${(err as Error).message}`)
  }
  if (issuer.length === 0) throw new CrlError('CRL with an empty issuer name')
  const issuerKey = nameKey(issuer)
  let idp: IssuingDistributionPoint | null = null
  if (idpValue !== null) {
    try {
      idp = parseIssuingDistributionPoint(idpValue, issuer)
    } catch (err) {
      throw new CrlError(`bad issuingDistributionPoint: ${(err as Error).message}`)
    }
  }

  // Entries, read over the DER in place: offsets are absolute in `der`.
  const listStart = list === null ? 0 : list.value.byteOffset - der.byteOffset
  const listEnd = list === null ? 0 : listStart + list.value.length
  let count = 0
  for (let at = listStart; at < listEnd; count++) {
    if (count % SLICE === SLICE - 1) yield
    readHeader(der, at, listEnd)
    at = header.end
  }
  const serials = new Uint32Array(2 * count)
  const reasons = new Uint8Array(count).fill(NO_REASON)
  // Issuer of each entry, as a group of issuer ids: group 0 is the CRL issuer. certificateIssuer
  // (RFC 5280 5.3.3) names the issuer of its entry and of the ones after it, up to the next one.
  const issuerIds = new Map<string, number>([[issuerKey, 0]])
  const issuerKeys: string[] = [issuerKey]
  const groups: number[][] = [[0]]
  const groupIds = new Map<string, number>([['0', 0]])
  let entryGroups: Uint32Array | null = null
  let group = 0
  let pairs = 0
  const oids: number[] = []
  for (let at = listStart, e = 0; at < listEnd; e++) {
    if (e % SLICE === SLICE - 1) yield
    let tag = readHeader(der, at, listEnd)
    const entryEnd = header.end
    if (tag !== 0x30) throw new CrlError('bad revoked certificate entry')
    at = entryEnd
    let p = header.start
    if (p === entryEnd) throw new CrlError('bad revoked certificate entry')
    tag = readHeader(der, p, entryEnd)
    if (tag !== 0x02 || header.end === header.start) throw new CrlError('bad revoked certificate entry')
    serials[2 * e] = minimalStart(der, header.start, header.end)
    serials[2 * e + 1] = header.end
    p = header.end
    if (p === entryEnd) throw new CrlError('bad revoked certificate entry')
    tag = readHeader(der, p, entryEnd)
    p = header.end
    timeAt(der, tag, header.start, header.end)
    let reason = NO_REASON
    if (p < entryEnd) {
      // crlEntryExtensions (RFC 5280 5.3).
      tag = readHeader(der, p, entryEnd)
      if (tag !== 0x30) throw new CrlError('Extensions is not a SEQUENCE')
      const extsEnd = header.end
      p = extsEnd
      if (p !== entryEnd) throw new CrlError('bad revoked certificate entry')
      oids.length = 0
      for (let x = header.start; x < extsEnd;) {
        tag = readHeader(der, x, extsEnd)
        if (tag !== 0x30) throw new CrlError('bad Extension')
        const extEnd = header.end
        x = extEnd
        let q = header.start
        if (q === extEnd) throw new CrlError('bad Extension')
        tag = readHeader(der, q, extEnd)
        if (tag !== 0x06) throw new CrlError('bad Extension')
        const oidStart = header.start
        const oidEnd = header.end
        q = header.end
        if (q === extEnd) throw new CrlError('bad Extension value')
        tag = readHeader(der, q, extEnd)
        let critical = false
        if (tag === 0x01) {
          if (header.end - header.start !== 1 || der[header.start] !== 0xff) throw new CrlError('critical must be DER TRUE when present')
          critical = true
          q = header.end
          if (q === extEnd) throw new CrlError('bad Extension value')
          tag = readHeader(der, q, extEnd)
        }
        if (tag !== 0x04) throw new CrlError('bad Extension value')
        if (header.end !== extEnd) throw new CrlError(critical ? 'bad Extension value' : 'bad Extension')
        const valueStart = header.start
        const valueEnd = header.end
        // Known OIDs are compared as bytes; any other is decoded (which refuses bad encodings).
        const known = oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.reasonCode) || oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.certificateIssuer) ||
          oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.invalidityDate) || oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.holdInstruction)
        const oid = known ? null : oidText(der.subarray(oidStart, oidEnd))
        for (let k = 0; k < oids.length; k += 2) {
          if (sameRange(der, oids[k]!, oids[k + 1]!, oidStart, oidEnd)) throw new CrlError(`extension ${oid ?? oidText(der.subarray(oidStart, oidEnd))} appears twice`)
        }
        oids.push(oidStart, oidEnd)
        if (oid !== null) {
          if (critical && !ENTRY_EXTENSIONS.has(oid)) throw new CrlError(`unsupported critical CRL entry extension ${oid}`)
        } else if (oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.reasonCode)) {
          // RFC 5280 5.3.1: ENUMERATED CRLReason.
          tag = readHeader(der, valueStart, valueEnd)
          if (header.end !== valueEnd) throw new DerError('trailing data')
          if (tag !== 0x0a || header.end - header.start !== 1 || REASON_NAMES[der[header.start]!] === undefined) throw new CrlError('bad reasonCode')
          reason = der[header.start]!
        } else if (oidIs(der, oidStart, oidEnd, ENTRY_OID_DER.certificateIssuer)) {
          if (idp?.indirectCRL !== true) throw new CrlError('certificateIssuer entry in a CRL that is not indirect')
          const names = readOne(der.subarray(valueStart, valueEnd))
          if (names.tag !== 0x30) throw new CrlError('bad certificateIssuer')
          // Only directoryNames can name a certificate issuer; other forms match no certificate.
          const ids = children(names.value).filter((t) => t.tag === 0xa4).map((t) => {
            const key = nameKey(directoryName(t))
            let id = issuerIds.get(key)
            if (id === undefined) {
              issuerIds.set(key, id = issuerKeys.length)
              issuerKeys.push(key)
            }
            return id
          })
          const groupKey = ids.join(',')
          let next = groupIds.get(groupKey)
          if (next === undefined) {
            groupIds.set(groupKey, next = groups.length)
            groups.push(ids)
          }
          group = next
          entryGroups ??= new Uint32Array(count)
        }
      }
    }
    if (reason === 8 && deltaBase === null) throw new CrlError('removeFromCRL in a CRL that is not a delta CRL')
    reasons[e] = reason
    if (entryGroups !== null) entryGroups[e] = group
    pairs += groups[group]!.length
  }
  if (sig.value.length < 2 || sig.value[0] !== 0) throw new CrlError('bad signature BIT STRING')
  const alg = algorithm(sigAlg)

  const entries = new CrlIndex(der, serials, reasons, issuerIds, issuerKeys, pairs)
  for (let e = 0; e < count; e++) {
    if (e % SLICE === SLICE - 1) yield
    for (const id of groups[entryGroups === null ? 0 : entryGroups[e]!]!) entries.insert(e, id)
  }
  return {
    der,
    issuer,
    issuerKey,
    thisUpdate,
    nextUpdate,
    crlNumber,
    crlNumberValue: crlNumber === null ? -1n : BigInt('0x' + crlNumber),
    authorityKeyIdentifier: aki,
    entries,
    idp,
    deltaBase,
    tbs: tbs.der,
    signatureAlgorithm: alg.id,
    signatureParams: alg.params,
    signature: sig.value.subarray(1)
  }
}

/** The `X509 CRL` and `CERTIFICATE` blocks of a `crls` PEM text (x509/pem.ts reads them). */
function pemBlocks (text: string, what: string): PemBlock[] {
  let read
  try {
    read = readPemBlocks(text)
  } catch (err) {
    throw new InvalidOptionError(`${what}: ${(err as Error).message}`)
  }
  const other = read.blocks.find((b) => b.label !== 'X509 CRL' && b.label !== 'CERTIFICATE')
  if (read.stray !== null || other !== undefined) throw new InvalidOptionError(`${what}: text outside "X509 CRL" PEM blocks`)
  return read.blocks
}

/** CRLs and the certificates that came with them (separate CRL signers, rolled-over CA keys). */
export interface CrlMaterial {
  crls: ParsedCrl[]
  /** `CERTIFICATE` blocks of the CRL bundle: candidates to verify CRLs with, never trust anchors. */
  certificates: ParsedCertificate[]
}

/**
 * Reads the `crls` option (PEM text, PEM bundles or DER). A PEM bundle may also carry `CERTIFICATE`
 * blocks: CRL-signing certificates offered to CRL issuer resolution. Throws InvalidOptionError.
 */
export function loadCrlMaterial (input: CrlInput | readonly CrlInput[] | undefined): CrlMaterial {
  const out: CrlMaterial = { crls: [], certificates: [] }
  if (input === undefined) return out
  const inputs = (Array.isArray(input) ? input : [input]) as CrlInput[]
  for (const [index, item] of inputs.entries()) {
    const what = `crls[${index}]`
    let blocks: Array<{ label: string, der: Uint8Array }>
    if (typeof item === 'string') blocks = pemBlocks(item, what)
    else if (item instanceof Uint8Array) {
      const ready = prepared.get(item)
      if (ready !== undefined) {
        out.crls.push(ready)
        continue
      }
      // DER is copied: the index refers to offsets in these bytes, which the caller could change later.
      blocks = item[0] === 0x30 ? [{ label: 'X509 CRL', der: new Uint8Array(item) }] : pemBlocks(Buffer.from(item.buffer, item.byteOffset, item.byteLength).toString('latin1'), what)
    } else throw new InvalidOptionError(`${what} must be a PEM string, a PEM Buffer or a DER Buffer`)
    for (const { label, der } of blocks) {
      try {
        if (label === 'CERTIFICATE') out.certificates.push(parseCertificate(der))
        else out.crls.push(parseCrl(der))
      } catch (err) {
        throw new InvalidOptionError(`${what}: unusable ${label === 'CERTIFICATE' ? 'certificate' : 'CRL'} (${(err as Error).message})`)
      }
    }
  }
  return out
}

/** DER CRLs parsed ahead of a reload (prepareCrl), by the very buffer the loader will hand over. */
const prepared = new WeakMap<Uint8Array, ParsedCrl>()

/**
 * Parses a DER CRL ahead of a reload, in slices that yield to the event loop (parseCrlAsync), so
 * that a 50 MB CRL fetched by a trust source does not stall the requests served meanwhile with the
 * material in force; `loadCrlMaterial` then takes the result for this same buffer instead of copying
 * and parsing it again. For buffers the caller owns and never changes afterwards (the S3 loader's
 * decoded objects): the index reads the CRL's entries from these bytes. Throws CrlError.
 */
export async function prepareCrl (der: Uint8Array): Promise<ParsedCrl> {
  const ready = prepared.get(der)
  if (ready !== undefined) return ready
  const crl = await parseCrlAsync(der)
  prepared.set(der, crl)
  return crl
}

/** Reads the `crls` option and returns its CRLs (see loadCrlMaterial). */
export function loadCrls (input: CrlInput | readonly CrlInput[] | undefined): ParsedCrl[] {
  return loadCrlMaterial(input).crls
}

export type CrlTimeProblem = { reason: 'not-yet-valid' | 'stale', message: string }

/** How messages name a CRL: by its cRLNumber, or by thisUpdate when it has none. */
export function crlName (crl: ParsedCrl): string {
  return crl.crlNumber !== null ? `CRL ${crl.crlNumber}` : `CRL of ${new Date(crl.thisUpdate).toISOString()} (no cRLNumber)`
}

/** Whether a CRL may be relied on at time `t` (ms): null, or why not. */
export function crlUsableAt (crl: ParsedCrl, t: number): CrlTimeProblem | null {
  if (crl.thisUpdate > t) return { reason: 'not-yet-valid', message: `${crlName(crl)} is not valid before ${new Date(crl.thisUpdate).toISOString()}` }
  if (crl.nextUpdate < t) return { reason: 'stale', message: `${crlName(crl)} was due to be replaced at ${new Date(crl.nextUpdate).toISOString()}` }
  return null
}

/** The CRL's authorityKeyIdentifier and the certificate's subjectKeyIdentifier agree, or one is absent. */
export function keyIdentifiersAgree (crl: ParsedCrl, signer: ParsedCertificate): boolean {
  const aki = crl.authorityKeyIdentifier
  const ski = signer.subjectKeyIdentifier
  return aki === null || ski === null || sameBytes(aki, ski)
}
