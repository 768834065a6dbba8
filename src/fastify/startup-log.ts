/**
 * startup-log: what the plugin trusts, said once at registration (and on reload), so a bundle that
 * made an intermediate a trust anchor, or an expiring root, shows in the first lines of the log.
 */
import type { FastifyBaseLogger } from 'fastify'
import type { CertificateInput } from '../types.js'
import { loadCertificates } from '../trust/trust-store.js'
import { formatName } from '../x509/names.js'

export interface AnchorSummary {
  readonly subject: string
  readonly fingerprint256: string
  readonly notAfter: string
  /** False for a CA that is not self-signed (an intermediate configured as a trust anchor). */
  readonly selfSigned: boolean
}

/** The configured trust anchors, as the log lists them. Startup only: parses `roots` once more. */
export function anchorSummary (roots: CertificateInput | readonly CertificateInput[]): AnchorSummary[] {
  return loadCertificates(roots, 'roots').map((cert) => ({
    subject: formatName(cert.subject),
    fingerprint256: cert.fingerprint256,
    notAfter: cert.notAfter.toISOString(),
    selfSigned: cert.selfIssued
  }))
}

/**
 * One info line listing the anchors; one warn line per anchor that is not self-signed. Such an
 * anchor is trusted as configured (RFC 5280 6.1.1 (d): path validation stops at it, its own issuer
 * and validity chain are never checked), which is rarely what a PEM bundle of root + intermediate meant.
 */
export function logAnchors (log: FastifyBaseLogger, roots: CertificateInput | readonly CertificateInput[] | undefined): void {
  if (roots === undefined || (Array.isArray(roots) && roots.length === 0)) return
  const anchors = anchorSummary(roots)
  log.info({ mtls: { anchors } }, `mtls: ${anchors.length} trust anchor${anchors.length === 1 ? '' : 's'} loaded`)
  for (const anchor of anchors) {
    if (anchor.selfSigned) continue
    log.warn({ mtls: { anchor } },
      `mtls: roots holds ${anchor.subject}, which is not self-signed: it is a trust anchor as configured, so its own issuer is never checked. ` +
      'If it is an intermediate, pass it in intermediates (or load the bundle with loadTrustStore, which keeps only self-signed roots)')
  }
}
