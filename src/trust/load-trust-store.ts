/**
 * load-trust-store: reads the files an ALB trust store is made of (PEM CA bundles, `#` comment lines
 * allowed, and CRL files, PEM or DER) from files or directories, so the app loads exactly what the
 * load balancer uses and can `reload` when a deploy pipeline or an S3 sync refreshes them.
 * It sorts and classifies, and prepares the CRLs in slices that leave the event loop free
 * (prepare-crls.ts); checking the material (signatures, CRL freshness) is done by
 * `createVerifier`/`reload`, which refuse bad material as a whole.
 */
import { createReadStream } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { extname, join } from 'node:path'
import { parseCertificate, type ParsedCertificate } from '../x509/parse.js'
import { checkSignature, publicKeyOf } from '../validation/signature.js'
import { InvalidOptionError } from '../errors.js'
import { prepareCrlFor } from './prepare-crls.js'
import { readPemBlocks, type PemBlock } from '../x509/pem.js'
import { decodeBody, ObjectBodyError } from './s3-body.js'

/** Trust material as read from files: pass it to `reload` or spread it into the options. */
export interface LoadedTrustStore {
  /** Self-signed CA certificates (every CA certificate with `trustIntermediates`), DER. */
  roots: Uint8Array[]
  /** The other CA certificates: path-building helpers, not trust anchors. DER. */
  intermediates: Uint8Array[]
  /** CRLs, DER, already parsed for the verifier (hand these buffers over unchanged). */
  crls: Uint8Array[]
  /** The files read, in order. */
  files: string[]
}

export interface LoadTrustStoreOptions {
  /**
   * Treat every certificate of the bundles as a trust anchor, intermediates included (a path may
   * end at them). Default false: only self-signed certificates are roots.
   */
  trustIntermediates?: boolean
}

/**
 * Signed with its own key, not merely self-issued: a CA's rolled-over key certified by its old key
 * (or a CRL-signing key certified by the CA, RFC 5280 6.3.3 (f)) has the same issuer and subject
 * names but is no trust anchor. Only the signature is looked at here; algorithm policy comes later.
 */
function selfSigned (cert: ParsedCertificate): boolean {
  if (!cert.selfIssued) return false
  const key = publicKeyOf(cert, { minRsaKeyBits: 1024, allowSha1: true })
  if ('reason' in key) return true // unreadable key: classified as before; createVerifier refuses it
  return checkSignature(cert, key, { minRsaKeyBits: 1024, allowSha1: true }) === null
}

/** Files considered inside a directory; other names (README, keys, ...) are skipped. */
const EXTENSIONS = new Set(['.pem', '.crt', '.cer', '.der', '.crl'])

function pemBlocks (text: string, file: string): PemBlock[] {
  let read
  try {
    read = readPemBlocks(text)
  } catch (err) {
    throw new InvalidOptionError(`${file}: ${(err as Error).message}`)
  }
  if (read.stray !== null) throw new InvalidOptionError(`${file}: text outside PEM blocks: ${JSON.stringify(read.stray.slice(0, 40))}`)
  return read.blocks
}

/** Files from this size on that hold only CRLs are decoded while they stream (large-CRL path). */
const STREAM_FROM = 1024 * 1024

/**
 * A large file of CRLs (DER `.crl`, or PEM with only `X509 CRL` blocks and comment lines) decoded
 * while it streams from disk, as the S3 loader does (s3-body.ts): no whole-file string, no
 * whitespace-stripped copy, the event loop served between 64 KiB chunks. A 36 MB PEM CRL read the
 * simple way held it for 1.7 s. Null for other files (small, certificates, mixed bundles), which the
 * simple path reads and reports on.
 */
async function largeCrlFile (file: string, size: number): Promise<Uint8Array[] | null> {
  if (size < STREAM_FROM) return null
  try {
    const decoded = await decodeBody(createReadStream(file), 'X509 CRL', size, size)
    // The decoder takes a body starting with a SEQUENCE as DER: a CRL only when named so.
    const der = decoded.items.length === 1 && decoded.items[0]!.length === size
    return der && extname(file).toLowerCase() !== '.crl' ? null : decoded.items
  } catch (err) {
    if (err instanceof ObjectBodyError) return null
    throw new InvalidOptionError(`loadTrustStore: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** Runs a file-system call; a failure (missing file, dangling symlink, permissions) is an option error naming the path. */
async function io<T> (path: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call()
  } catch (err) {
    throw new InvalidOptionError(`loadTrustStore: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`)
  }
}

/** The files `path` names (itself, or the trust-material files of a directory), with their sizes. */
async function filesOf (path: string): Promise<Array<{ file: string, size: number }>> {
  const info = await io(path, async () => await stat(path))
  if (info.isFile()) return [{ file: path, size: info.size }]
  if (!info.isDirectory()) throw new InvalidOptionError(`loadTrustStore: ${path} is neither a file nor a directory`)
  const names = (await io(path, async () => await readdir(path))).filter((name) => !name.startsWith('.') && EXTENSIONS.has(extname(name).toLowerCase())).sort()
  const out: Array<{ file: string, size: number }> = []
  for (const name of names) {
    // stat follows symlinks (Kubernetes ConfigMap/Secret volumes are symlinks into a ..data directory).
    const file = join(path, name)
    const entry = await io(file, async () => await stat(file))
    if (entry.isFile()) out.push({ file, size: entry.size })
  }
  return out
}

/**
 * Reads CA bundles and CRLs from files and/or directories (a directory: its `.pem`, `.crt`, `.cer`,
 * `.der` and `.crl` files, sorted by name, not recursive). A PEM file may hold `CERTIFICATE` and
 * `X509 CRL` blocks and `#` comment lines; a DER file is a CRL when named `.crl`, else a certificate.
 */
export async function loadTrustStore (paths: string | readonly string[], options: LoadTrustStoreOptions = {}): Promise<LoadedTrustStore> {
  const list = typeof paths === 'string' ? [paths] : [...paths]
  if (list.length === 0 || list.some((p) => typeof p !== 'string' || p === '')) throw new InvalidOptionError('loadTrustStore expects one or more file or directory paths')
  const out: LoadedTrustStore = { roots: [], intermediates: [], crls: [], files: [] }
  const seen = new Set<string>()
  const certificates: Array<{ der: Uint8Array, file: string }> = []
  const cas: ParsedCertificate[] = []
  for (const path of list) {
    for (const { file, size } of await filesOf(path)) {
      const streamed = await largeCrlFile(file, size)
      if (streamed !== null) {
        out.files.push(file)
        out.crls.push(...streamed)
        continue
      }
      // A view, not a copy: copying a 26 MB CRL alone stalls the event loop for ~100 ms here.
      const read = await io(file, async () => await readFile(file))
      const bytes = new Uint8Array(read.buffer, read.byteOffset, read.byteLength)
      out.files.push(file)
      if (bytes[0] === 0x30) {
        if (extname(file).toLowerCase() === '.crl') out.crls.push(bytes)
        else certificates.push({ der: bytes, file })
        continue
      }
      for (const block of pemBlocks(Buffer.from(bytes).toString('latin1'), file)) {
        if (block.label === 'CERTIFICATE') certificates.push({ der: block.der, file })
        else if (block.label === 'X509 CRL') out.crls.push(block.der)
        else throw new InvalidOptionError(`${file}: unexpected ${block.label} block (a trust store holds only certificates and CRLs)`)
      }
    }
  }
  for (const { der, file } of certificates) {
    let cert
    try {
      cert = parseCertificate(der)
    } catch (err) {
      throw new InvalidOptionError(`${file}: not a readable certificate (${(err as Error).message})`)
    }
    if (seen.has(cert.fingerprint256)) continue
    seen.add(cert.fingerprint256)
    cas.push(cert)
    if (options.trustIntermediates === true || selfSigned(cert)) out.roots.push(der)
    else out.intermediates.push(der)
  }
  if (out.roots.length === 0) throw new InvalidOptionError(`loadTrustStore: no root (self-signed) certificate in ${list.join(', ')}`)
  // A reload with a 500,000-entry CRL would otherwise index it in one go (most of a second without
  // serving a request); the buffers returned are the ones prepared, so the verifier takes them parsed.
  for (const der of out.crls) {
    try {
      await prepareCrlFor(der, cas)
    } catch {
      // Unreadable: createVerifier/reload refuses it, naming it, as for CRLs given directly.
    }
  }
  return out
}
