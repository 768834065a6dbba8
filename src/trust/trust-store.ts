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

function pemText (input: string): string {
  // ALB trust-store bundles may carry comment lines starting with '#'.
  return input.split(/\r?\n/).filter((line) => !line.trimStart().startsWith('#')).join('\n')
}

/** Parses one or many PEM texts/buffers or DER buffers into certificates. */
export function loadCertificates (input: CertificateInput | readonly CertificateInput[], what: string): ParsedCertificate[] {
  const inputs = Array.isArray(input) ? input : [input]
  const out: ParsedCertificate[] = []
  for (const [index, item] of (inputs as CertificateInput[]).entries()) {
    let ders: Uint8Array[]
    if (typeof item === 'string' || (item instanceof Uint8Array && item[0] !== 0x30)) {
      const text = typeof item === 'string' ? item : Buffer.from(item).toString('latin1')
      const split = splitPem(pemText(text), 10_000)
      if (!split.ok) throw new InvalidOptionError(`${what}[${index}]: ${split.message}`)
      ders = split.certificates
    } else if (item instanceof Uint8Array) {
      ders = [new Uint8Array(item)]
    } else {
      throw new InvalidOptionError(`${what}[${index}] must be a PEM string, a PEM Buffer or a DER Buffer`)
    }
    for (const der of ders) {
      try {
        out.push(parseCertificate(der))
      } catch (err) {
        throw new InvalidOptionError(`${what}[${index}]: not a readable certificate (${(err as Error).message})`)
      }
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
