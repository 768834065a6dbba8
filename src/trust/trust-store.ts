/**
 * trust-store: configured certificates (PEM bundles as ALB trust stores hold them, or DER) ->
 * parsed certificates, indexed for issuer lookup. Configuration is trusted but checked: anything
 * unreadable throws at load time, not at request time.
 */
import { splitPem } from '../sources/decode.js'
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js'
import type { CertificateInput } from '../types.js'
import type { TrustAnchors } from '../validation/path.js'
import { InvalidOptionError } from '../errors.js'
import { formatName } from '../x509/names.js'

function pemText (input: string): string {
  // ALB trust-store bundles may carry comment lines starting with '#'.
  return input.split(/\r?\n/).filter((line) => !line.trimStart().startsWith('#')).join('\n')
}

/**
 * A string that reads as a file name rather than PEM (`./ca.pem`, `/etc/ssl/ca.crt`): one short line,
 * no PEM armour, with a path separator or a certificate file extension.
 */
function looksLikePath (text: string): boolean {
  const t = text.trim()
  return t.length > 0 && t.length < 4096 && !t.includes('\n') && !t.includes('-----') &&
    (/[\\/]/.test(t) || /\.(pem|crt|cer|der|ca-bundle|p7b|key)$/i.test(t))
}

/** What a configured string holds when it is not PEM, for an error that says what to change. */
function notPem (text: string, what: string, index: number, detail: string): Error {
  if (text.trim() === '') {
    return new InvalidOptionError(`${what}[${index}] is an empty string: no certificate (did a file read or an environment variable come back empty?)`)
  }
  if (looksLikePath(text)) {
    return new InvalidOptionError(`${what}[${index}] (${JSON.stringify(text.trim())}) looks like a file path: pass the file's contents ` +
      "(readFileSync(path, 'utf8')) or use loadTrustStore(path)")
  }
  return new InvalidOptionError(`${what}[${index}]: ${detail}`)
}

/**
 * A trust anchor must be a CA certificate (RFC 5280 4.2.1.9: cA TRUE in basicConstraints), or a v1
 * root without extensions (RFC 5280 6.1.1 (d): the configuration alone makes it trusted). A leaf in
 * `roots` would be accepted here and then refuse every request as `untrusted`: refuse it now.
 */
function checkAnchor (cert: ParsedCertificate, what: string, index: number): void {
  const v1Root = cert.version === 1 && cert.extensions.length === 0
  if (v1Root || cert.basicConstraints?.ca === true) return
  throw new InvalidOptionError(`${what}[${index}]: ${formatName(cert.subject)} is not a CA certificate (no basicConstraints cA=TRUE): ` +
    'an end-entity (leaf) certificate cannot be a trust anchor; configure the CA that issued it')
}

/** Parses one or many PEM texts/buffers or DER buffers into certificates. `what === 'roots'` also checks each is a CA. */
export function loadCertificates (input: CertificateInput | readonly CertificateInput[], what: string): ParsedCertificate[] {
  const inputs = Array.isArray(input) ? input : [input]
  const out: ParsedCertificate[] = []
  for (const [index, item] of (inputs as CertificateInput[]).entries()) {
    let ders: Uint8Array[]
    if (typeof item === 'string' || (item instanceof Uint8Array && item[0] !== 0x30)) {
      const text = typeof item === 'string' ? item : Buffer.from(item).toString('latin1')
      const split = splitPem(pemText(text), 10_000)
      if (!split.ok) throw notPem(text, what, index, split.message)
      ders = split.certificates
    } else if (item instanceof Uint8Array) {
      ders = [new Uint8Array(item)]
    } else {
      throw new InvalidOptionError(`${what}[${index}] must be a PEM string, a PEM Buffer or a DER Buffer`)
    }
    for (const der of ders) {
      let cert: ParsedCertificate
      try {
        cert = parseCertificate(der)
      } catch (err) {
        throw new InvalidOptionError(`${what}[${index}]: not a readable certificate (${(err as Error).message})`)
      }
      if (what === 'roots') checkAnchor(cert, what, index)
      out.push(cert)
    }
  }
  return out
}

export function indexAnchors (roots: readonly ParsedCertificate[]): TrustAnchors {
  const bySubject = new Map<string, ParsedCertificate[]>()
  for (const root of roots) {
    const list = bySubject.get(root.subjectKey) ?? []
    if (!list.some((r) => r.fingerprint256 === root.fingerprint256)) list.push(root)
    bySubject.set(root.subjectKey, list)
  }
  return { bySubject }
}
