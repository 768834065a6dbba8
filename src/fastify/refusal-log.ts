/**
 * refusal-log: who was refused and why, in one log line an operator can search and graph.
 *
 * Every refusal carries the stable reason and ALB's connection-log equivalent
 * (`tls_verify_status=Failed:<code>`), so one dashboard covers verify mode (ALB refuses in the
 * handshake) and passthrough mode (this plugin refuses). When the client's leaf parses, the line
 * names what it CLAIMS (subject, issuer, serial, SHA-256 fingerprint: unverified, attacker-chosen
 * text), and for `untrusted` the issuer name no configured certificate matched.
 *
 * Every source: ALB's header is re-read; any other source hands over the material it read, decoded
 * again here (see `PresentedMaterial`).
 *
 * Cost bound: the certificates are re-read only on a refusal, only when its reason leaves a
 * parseable leaf, and at most once per verdict (memoized on the verdict object, which the verdict
 * cache hands out again on a hit), over at most MAX_LOG_CERTIFICATES certificates of headers
 * already within maxHeaderBytes. An accepted request never reaches this module.
 */
import { decodeHeader } from '../sources/decode.js'
import { formatName } from '../x509/names.js'
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js'
import type { FailureReason, VerifyFailure } from '../types.js'

/** ALB connection-log `tls_verify_status` failure codes this plugin's reasons correspond to. */
export type AlbTlsVerifyStatus =
  | 'ClientCertMaxSizeExceeded'
  | 'ClientCertMaxChainDepthExceeded'
  | 'ClientCertInvalid'
  | 'ClientCertUntrusted'
  | 'ClientCertExpired'
  | 'ClientCertNotYetValid'
  | 'ClientCertCrlHit'
  | 'ClientCertPurposeInvalid'

/**
 * Reason -> ALB status. `null`: ALB has no equivalent (the header is not something ALB would send:
 * a spoofed, mangled or missing header). Typed over every FailureReason: a new reason fails to compile
 * until it is mapped here.
 */
export const ALB_STATUS: Readonly<Record<FailureReason, AlbTlsVerifyStatus | null>> = Object.freeze({
  missing: null,
  'header-too-large': 'ClientCertMaxSizeExceeded',
  'repeated-header': null,
  'incomplete-headers': null,
  'header-mismatch': null,
  'bad-encoding': null,
  'bad-pem': null,
  'not-a-certificate': null,
  'bad-base64': null,
  'bad-der': 'ClientCertInvalid',
  'too-many-certificates': 'ClientCertMaxChainDepthExceeded',
  untrusted: 'ClientCertUntrusted',
  'bad-signature': 'ClientCertUntrusted',
  expired: 'ClientCertExpired',
  'not-yet-valid': 'ClientCertNotYetValid',
  revoked: 'ClientCertCrlHit',
  'crl-unusable': 'ClientCertCrlHit',
  'ca-as-leaf': 'ClientCertPurposeInvalid',
  'not-a-ca': 'ClientCertUntrusted',
  'path-length-exceeded': 'ClientCertUntrusted',
  'max-chain-depth-exceeded': 'ClientCertMaxChainDepthExceeded',
  'key-usage': 'ClientCertPurposeInvalid',
  'extended-key-usage': 'ClientCertPurposeInvalid',
  'unknown-critical-extension': 'ClientCertInvalid',
  'name-constraints': 'ClientCertUntrusted',
  'weak-algorithm': 'ClientCertInvalid',
  'weak-key': 'ClientCertInvalid',
  'invalid-certificate': 'ClientCertInvalid',
  'revocation-unknown': 'ClientCertCrlHit',
  'path-budget-exceeded': 'ClientCertMaxChainDepthExceeded',
  'certificate-policy': 'ClientCertPurposeInvalid',
  'policy-limit-exceeded': 'ClientCertInvalid'
})

/** What the client's leaf claims. Not verified: never authorize on it, only log it. */
export interface ClaimedCertificate {
  readonly subject: string
  readonly issuer: string
  readonly serialNumber: string
  readonly fingerprint256: string
}

/** The `mtls` object of a refusal log line. */
export interface RefusalLogFields {
  readonly code: VerifyFailure['code']
  readonly reason: FailureReason
  /** `tls_verify_status` ALB would log for the same certificate, or null. */
  readonly albStatus: AlbTlsVerifyStatus | null
  /** Human-readable detail (for operators; never sent to the client). */
  readonly detail: string
  /** The leaf's claims, when it parses. */
  readonly client?: ClaimedCertificate
  /** `untrusted`: the issuer name at the top of the client's chain that no configured root or intermediate matched. */
  readonly missingIssuer?: string
}

/** Reasons whose header cannot hold a parseable leaf (or must not be read again: too large). */
const UNREADABLE = new Set<FailureReason>(['missing', 'header-too-large', 'repeated-header', 'bad-encoding', 'bad-pem', 'not-a-certificate', 'bad-base64', 'incomplete-headers'])

/** Most certificates read from a refused header for the log (ALB's depth 4 + leaf + root, and slack). */
export const MAX_LOG_CERTIFICATES = 8
/** Longest header re-read for the log; longer ones are logged without the client's claims. */
const MAX_LOG_HEADER = 64 * 1024

const memo = new WeakMap<VerifyFailure, RefusalLogFields>()

function claimed (cert: ParsedCertificate): ClaimedCertificate {
  return {
    subject: formatName(cert.subject),
    issuer: formatName(cert.issuer),
    serialNumber: cert.serialNumber,
    fingerprint256: cert.fingerprint256
  }
}

/** Follows issuer -> subject links among the certificates the client sent; the issuer the top one names. */
function missingIssuerOf (presented: readonly ParsedCertificate[]): string {
  let current = presented[0] as ParsedCertificate
  const used = new Set<ParsedCertificate>([current])
  for (;;) {
    if (current.selfIssued) return `${formatName(current.subject)} (self-signed, not in roots)`
    const next = presented.find((c) => !used.has(c) && c.subjectKey === current.issuerKey)
    if (next === undefined) return formatName(current.issuer)
    used.add(next)
    current = next
  }
}

/**
 * The certificates a non-ALB source read from a refused request (see `SourceCheck.refusedMaterial`):
 * `certificates` decodes them again (called only when the log line needs them); `decidedHere` is
 * false when the proxy's own flag refused the certificate before any validation here (then no
 * `missingIssuer`: no configured root was consulted).
 */
export interface PresentedMaterial {
  readonly certificates: () => readonly Uint8Array[] | null
  readonly decidedHere: boolean
}

function isPresentedMaterial (value: unknown): value is PresentedMaterial {
  return typeof value === 'object' && value !== null && typeof (value as { certificates?: unknown }).certificates === 'function'
}

/** Reads the client's (unverified) chain for the log; null when it does not decode or the leaf does not parse. */
function readPresented (header: string): ParsedCertificate[] | null {
  if (header.length === 0 || header.length > MAX_LOG_HEADER) return null
  const decoded = decodeHeader(header, MAX_LOG_CERTIFICATES)
  if (!decoded.ok || decoded.certificates.length === 0) return null
  return parseAll(decoded.certificates)
}

/** Parses DER certificates for the log: the leaf must parse; the first unparseable issuer ends the list. */
function parseAll (certificates: readonly Uint8Array[]): ParsedCertificate[] | null {
  const out: ParsedCertificate[] = []
  for (const der of certificates.slice(0, MAX_LOG_CERTIFICATES)) {
    if (der.byteLength > MAX_LOG_HEADER) {
      if (out.length === 0) return null
      break
    }
    try {
      out.push(parseCertificate(der))
    } catch {
      if (out.length === 0) return null
      break
    }
  }
  return out
}

/**
 * The log fields of a refusal. `presented` is what the client's claims are read from: for ALB, the
 * raw certificate header the verdict is about (the chain in passthrough mode, the leaf header in
 * verify mode) when there was exactly one; for every other source, the `PresentedMaterial` the
 * source read. Anything else: no claims. Never throws.
 */
export function refusalFields (result: VerifyFailure, presented: unknown): RefusalLogFields {
  const known = memo.get(result)
  if (known !== undefined) return known
  const base = { code: result.code, reason: result.reason, albStatus: ALB_STATUS[result.reason] ?? null, detail: result.message }
  let fields: RefusalLogFields = base
  if (!UNREADABLE.has(result.reason)) {
    let chain: ParsedCertificate[] | null = null
    let decidedHere = true
    try {
      if (typeof presented === 'string') {
        chain = readPresented(presented)
      } else if (isPresentedMaterial(presented)) {
        decidedHere = presented.decidedHere !== false
        const certificates = presented.certificates()
        chain = certificates === null || certificates.length === 0 ? null : parseAll(certificates)
      }
    } catch {
      // A log helper must never turn a refusal into a crash.
    }
    if (chain !== null) {
      fields = {
        ...base,
        client: claimed(chain[0] as ParsedCertificate),
        ...(result.reason === 'untrusted' && decidedHere ? { missingIssuer: missingIssuerOf(chain) } : {})
      }
    }
  }
  // Frozen: the same object is shared by every request answered from the same cached verdict.
  Object.freeze(fields)
  if (typeof result === 'object' && result !== null) memo.set(result, fields)
  return fields
}
