/**
 * crl: certificate revocation lists (RFC 5280 section 5) given as options.
 *
 * CRLs are configuration: they are parsed and checked once, when loaded, and every structural
 * problem throws there. Revoked serials are indexed per CRL in a Set, so a check costs O(1) whatever
 * the CRL's size. Whether a CRL may be used at a given time is a separate question
 * (`crlUsableAt`), answered per request, so that policies for stale CRLs can be layered on top.
 */
import * as asn1js from 'asn1js'
import * as pkijs from 'pkijs'
import { children, DerError, integerHex, oidText, readOne, timeValue, type Tlv } from '../x509/der.js'
import { sameBytes, type Problem } from './checks.js'
import { nameKey, parseName, type Rdns } from '../x509/names.js'
import { KeyUsage, type ParsedCertificate } from '../x509/parse.js'
import { checkSignature, publicKeyOf, type AlgorithmPolicy } from './signature.js'
import type { CrlInput } from '../types.js'
import { InvalidOptionError } from '../errors.js'

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
const ENTRY_EXTENSIONS = new Set<string>([CRL_OID.reasonCode, CRL_OID.invalidityDate])

export interface ParsedCrl {
  readonly der: Uint8Array
  readonly issuer: Rdns
  readonly issuerKey: string
  readonly thisUpdate: number
  readonly nextUpdate: number
  readonly crlNumber: string
  readonly authorityKeyIdentifier: Uint8Array | null
  /** Revoked serial numbers, lowercase hex without leading zero octets. */
  readonly revoked: ReadonlySet<string>
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

/** Parses one DER CRL and applies the structural rules. Throws CrlError with the reason. */
export function parseCrl (der: Uint8Array): ParsedCrl {
  try {
    return parseCrlUnchecked(der)
  } catch (err) {
    if (err instanceof CrlError) throw err
    throw new CrlError(err instanceof DerError ? `malformed DER: ${err.message}` : (err as Error).message)
  }
}

function parseCrlUnchecked (der: Uint8Array): ParsedCrl {
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
  const revoked = new Set<string>()
  if (fields[i]?.tag === 0x30) {
    for (const entry of children(fields[i++]!.value)) {
      const [serial, date, entryExts, ...rest] = entry.tag === 0x30 ? children(entry.value) : []
      if (serial?.tag !== 0x02 || date === undefined || rest.length > 0) throw new CrlError('bad revoked certificate entry')
      timeValue(date)
      if (entryExts !== undefined) {
        for (const ext of readExtensions(entryExts)) {
          // certificateIssuer means an indirect CRL, which this library does not process.
          if (ext.critical && !ENTRY_EXTENSIONS.has(ext.oid)) throw new CrlError(`unsupported critical CRL entry extension ${ext.oid}`)
        }
      }
      revoked.add(integerHex(serial.value))
    }
  }
  let extensions: Extension[] = []
  if (fields[i]?.tag === 0xa0) extensions = readExtensions(readOne(fields[i++]!.value))
  if (i !== fields.length) throw new CrlError('unexpected field in TBSCertList')
  if (version === 1 && extensions.length > 0) throw new CrlError('extensions in a v1 CRL')

  let crlNumber: string | null = null
  let aki: Uint8Array | null = null
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
    } else if (ext.oid === CRL_OID.deltaCrlIndicator || ext.oid === CRL_OID.issuingDistributionPoint) {
      // Delta and partitioned CRLs do not say "complete list for this issuer": refuse, never guess.
      throw new CrlError(`delta or partitioned CRLs (${ext.oid}) are not supported`)
    } else if (ext.critical && !CRL_EXTENSIONS.has(ext.oid)) {
      throw new CrlError(`unsupported critical CRL extension ${ext.oid}`)
    }
  }
  // RFC 5280 5.2.3 and 5.1.2.5: conforming CRL issuers MUST include both.
  if (crlNumber === null) throw new CrlError('CRL without cRLNumber')
  if (nextUpdate === null) throw new CrlError('CRL without nextUpdate')

  let issuer: Rdns
  try {
    issuer = parseName(asn1js.fromBER(issuerTlv.der).result)
  } catch (err) {
    throw new CrlError(`bad issuer name: ${(err as Error).message}`)
  }
  if (issuer.length === 0) throw new CrlError('CRL with an empty issuer name')
  if (sig.value.length < 2 || sig.value[0] !== 0) throw new CrlError('bad signature BIT STRING')
  const alg = algorithm(sigAlg)
  return {
    der,
    issuer,
    issuerKey: nameKey(issuer),
    thisUpdate,
    nextUpdate,
    crlNumber,
    authorityKeyIdentifier: aki,
    revoked,
    tbs: tbs.der,
    signatureAlgorithm: alg.id,
    signatureParams: alg.params,
    signature: sig.value.subarray(1)
  }
}

const PEM_CRL = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]*)-----END X509 CRL-----/g

function pemBlocks (text: string, what: string): Uint8Array[] {
  const withoutComments = text.split(/\r?\n/).filter((line) => !line.trimStart().startsWith('#')).join('\n')
  const out: Uint8Array[] = []
  let rest = withoutComments
  for (const m of withoutComments.matchAll(PEM_CRL)) {
    const body = m[1]!.replace(/\s+/g, '')
    if (body.length === 0 || body.length % 4 !== 0) throw new InvalidOptionError(`${what}: a CRL PEM block is not valid base64`)
    out.push(new Uint8Array(Buffer.from(body, 'base64')))
    rest = rest.replace(m[0], '')
  }
  if (rest.trim() !== '') throw new InvalidOptionError(`${what}: text outside "X509 CRL" PEM blocks`)
  return out
}

/** Reads the `crls` option (PEM text, PEM bundles or DER). Throws InvalidOptionError on a bad CRL. */
export function loadCrls (input: CrlInput | readonly CrlInput[] | undefined): ParsedCrl[] {
  if (input === undefined) return []
  const inputs = (Array.isArray(input) ? input : [input]) as CrlInput[]
  const out: ParsedCrl[] = []
  for (const [index, item] of inputs.entries()) {
    const what = `crls[${index}]`
    let ders: Uint8Array[]
    if (typeof item === 'string') ders = pemBlocks(item, what)
    else if (item instanceof Uint8Array) ders = item[0] === 0x30 ? [new Uint8Array(item)] : pemBlocks(Buffer.from(item).toString('latin1'), what)
    else throw new InvalidOptionError(`${what} must be a PEM string, a PEM Buffer or a DER Buffer`)
    for (const der of ders) {
      try {
        out.push(parseCrl(der))
      } catch (err) {
        throw new InvalidOptionError(`${what}: unusable CRL (${(err as Error).message})`)
      }
    }
  }
  return out
}

export type CrlTimeProblem = { reason: 'not-yet-valid' | 'stale', message: string }

/** Whether a CRL may be relied on at time `t` (ms): null, or why not. */
export function crlUsableAt (crl: ParsedCrl, t: number): CrlTimeProblem | null {
  if (crl.thisUpdate > t) return { reason: 'not-yet-valid', message: `CRL ${crl.crlNumber} is not valid before ${new Date(crl.thisUpdate).toISOString()}` }
  if (crl.nextUpdate < t) return { reason: 'stale', message: `CRL ${crl.crlNumber} was due to be replaced at ${new Date(crl.nextUpdate).toISOString()}` }
  return null
}

/** Why `issuer` cannot vouch for `crl` (keyUsage without cRLSign, bad signature), or null. */
export function crlIssuerProblem (crl: ParsedCrl, issuer: ParsedCertificate, policy: AlgorithmPolicy): string | null {
  if (issuer.keyUsage !== null && (issuer.keyUsage & KeyUsage.cRLSign) === 0) return `CRL issuer ${issuer.serialNumber} lacks keyUsage cRLSign`
  const key = publicKeyOf(issuer, policy)
  if ('reason' in key) return `CRL issuer key: ${key.message}`
  const bad = checkSignature(crl, key, policy)
  return bad === null ? null : `CRL ${crl.crlNumber}: ${bad.message}`
}

/** The CRL names this certificate's key (AKI/SKI agree or one is absent) and subject as its issuer. */
function crlFor (crl: ParsedCrl, issuer: ParsedCertificate): boolean {
  if (crl.issuerKey !== issuer.subjectKey) return false
  const aki = crl.authorityKeyIdentifier
  const ski = issuer.subjectKeyIdentifier
  return aki === null || ski === null || sameBytes(aki, ski)
}

export interface Revocation {
  /** Path rule: null when no certificate on the path is revoked and every relevant CRL is usable. */
  check (path: readonly ParsedCertificate[], now: number): Problem | null
  /**
   * Until when a verdict on `path` stands as far as revocation goes: the earliest nextUpdate of the
   * CRLs that applied to it (a newer CRL may list it, or a stale one refuses it). Infinity when no
   * CRL applied, or when stale CRLs keep applying (`onExpired: 'ignore'`).
   */
  validUntil (path: readonly ParsedCertificate[]): number
}

/**
 * Indexes CRLs by issuer name and verifies, at load time, those issued by a configured CA (`cas`:
 * the roots and configured intermediates; InvalidOptionError when such a CRL does not verify). CRLs
 * of CAs met only in a client's chain are verified on first use, once per (CRL, issuer) pair.
 */
export function createRevocation (
  crls: readonly ParsedCrl[],
  cas: readonly ParsedCertificate[],
  policy: AlgorithmPolicy,
  options: { onExpired?: 'reject' | 'ignore' } = {}
): Revocation {
  const ignoreExpired = options.onExpired === 'ignore'
  const byIssuer = new Map<string, ParsedCrl[]>()
  for (const crl of crls) {
    const list = byIssuer.get(crl.issuerKey) ?? []
    list.push(crl)
    byIssuer.set(crl.issuerKey, list)
  }
  const verified = new WeakMap<ParsedCertificate, Map<ParsedCrl, string | null>>()
  const issuerProblem = (crl: ParsedCrl, issuer: ParsedCertificate): string | null => {
    let perIssuer = verified.get(issuer)
    if (perIssuer === undefined) verified.set(issuer, perIssuer = new Map())
    let result = perIssuer.get(crl)
    if (result === undefined) {
      result = crlIssuerProblem(crl, issuer, policy)
      perIssuer.set(crl, result)
    }
    return result
  }
  for (const crl of crls) {
    const candidates = cas.filter((ca) => crlFor(crl, ca))
    if (candidates.length === 0) continue
    const problems = candidates.map((ca) => issuerProblem(crl, ca))
    if (!problems.includes(null)) throw new InvalidOptionError(`crls: CRL ${crl.crlNumber} of a configured CA does not verify: ${problems[0]!}`)
  }
  return {
    check (path, now) {
      for (let i = 0; i + 1 < path.length; i++) {
        const cert = path[i]!
        const issuer = path[i + 1]!
        for (const crl of byIssuer.get(issuer.subjectKey) ?? []) {
          if (!crlFor(crl, issuer)) continue
          const time = crlUsableAt(crl, now)
          // crlPolicy.onExpired 'ignore': a CRL past nextUpdate still applies (its revocations stand).
          const timeProblem = time === null || (time.reason === 'stale' && ignoreExpired) ? null : time.message
          const bad = issuerProblem(crl, issuer) ?? timeProblem
          if (bad !== null) return { reason: 'crl-unusable', message: `revocation of certificate ${cert.serialNumber} cannot be checked: ${bad}` }
          if (crl.revoked.has(cert.serialNumber)) {
            return { reason: 'revoked', message: `certificate ${cert.serialNumber} is revoked by CRL ${crl.crlNumber}` }
          }
        }
      }
      return null
    },
    validUntil (path) {
      let until = Number.POSITIVE_INFINITY
      if (ignoreExpired) return until
      for (let i = 0; i + 1 < path.length; i++) {
        const issuer = path[i + 1]!
        for (const crl of byIssuer.get(issuer.subjectKey) ?? []) {
          if (crlFor(crl, issuer)) until = Math.min(until, crl.nextUpdate)
        }
      }
      return until
    }
  }
}
