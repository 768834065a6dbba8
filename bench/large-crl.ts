/**
 * Large signed CRLs for the memory and hostile benchmarks (crl-memory.ts, s3-crl.ts, hostile.ts), built directly in DER:
 * the factory's per-entry ASN.1 objects would take a minute for a million entries. The factory's
 * CRL (one entry, `lastSerial`) is widened with `count` entries of `entryLength` bytes, each written
 * by `writeEntry` after its SEQUENCE header, then signed again with the issuer's key.
 */
import { randomBytes, sign } from 'node:crypto'
import { children, readOne } from '../src/x509/der.js'
import { createCrl, type createTestPki } from '../src/testing/index.js'

type Pki = Awaited<ReturnType<typeof createTestPki>>

function derLength (n: number): Buffer {
  if (n < 0x80) return Buffer.from([n])
  const bytes: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256)
  return Buffer.from([0x80 | bytes.length, ...bytes])
}

export function tlv (tag: number, value: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(value.length), value])
}

export function crlPem (der: Uint8Array): string {
  return `-----BEGIN X509 CRL-----\n${Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n').replace(/\n?$/, '\n')}-----END X509 CRL-----\n`
}

export interface EntryShape {
  /** Bytes of one entry's contents (serial, date, extensions), given the revocationDate's DER. */
  contentLength: (date: Uint8Array) => number
  /** Number of entries, given the whole entry length (header included). */
  count: (entryLength: number) => number
  /** Writes entry `i`'s contents at `at` (just past its two-byte SEQUENCE header). */
  write: (body: Buffer, at: number, i: number, date: Uint8Array) => void
}

export async function buildCrl (pki: Pki, lastSerial: string, shape: EntryShape): Promise<{ der: Buffer, entries: number }> {
  const small = await createCrl({ issuer: { certificate: pki.intermediate, key: pki.intermediate.key }, revoked: [{ serialNumber: lastSerial }], crlNumber: 7 })
  const [tbs, alg] = children(readOne(small.der).value)
  const fields = children(tbs!.value)
  const listAt = fields.findIndex((f, i) => i > 3 && f.tag === 0x30)
  const list = fields[listAt]!
  const date = children(children(list.value)[0]!.value)[1]!.der
  const entryLength = 2 + shape.contentLength(date)
  const count = shape.count(entryLength)
  const body = Buffer.allocUnsafe(count * entryLength)
  for (let i = 0; i < count; i++) {
    const at = i * entryLength
    body[at] = 0x30
    body[at + 1] = entryLength - 2
    shape.write(body, at + 2, i, date)
  }
  const entries = Buffer.concat([body, list.value])
  const tbsNew = tlv(0x30, Buffer.concat([...fields.slice(0, listAt).map((f) => f.der), tlv(0x30, entries), ...fields.slice(listAt + 1).map((f) => f.der)]))
  const signature = sign('sha256', tbsNew, pki.intermediate.key.privateKey)
  return { der: tlv(0x30, Buffer.concat([tbsNew, alg!.der, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))])), entries: count + 1 }
}

/** reasonCode keyCompromise, as an entry extension list (RFC 5280 5.3.1). */
const REASON_EXTS = Buffer.from('300c300a0603551d1504030a0101', 'hex')

/**
 * A signed CRL of the factory's shape with `count` extra entries (random 20-byte serials, with a
 * reasonCode each unless `reasonCode` is false) before the factory's one (`lastSerial`), signed by
 * `pki.intermediate` (pass another issuer there: a separate CRL signer, say).
 */
export async function buildLargeCrl (count: number, pki: Pki, lastSerial: string, reasonCode = true): Promise<Buffer> {
  const serials = randomBytes(count * 20)
  const exts = reasonCode ? REASON_EXTS : Buffer.alloc(0)
  const { der } = await buildCrl(pki, lastSerial, {
    contentLength: (date) => 22 + date.length + exts.length,
    count: () => count,
    write: (body, at, i, date) => {
      body[at] = 0x02
      body[at + 1] = 20
      serials.copy(body, at + 2, i * 20, i * 20 + 20)
      // Positive, minimal, and never the factory's serial.
      body[at + 2] = 0x40 | (body[at + 2]! & 0x3f)
      body.set(date, at + 22)
      exts.copy(body, at + 22 + date.length)
    }
  })
  return der
}
