/**
 * pem: the PEM blocks (RFC 7468) of configuration text: CA bundles, CRL files, the `crls` option.
 * One linear pass, each body base64-decoded straight from the text (no whitespace-stripped copy of a
 * 36 MB CRL file, no backtracking pattern); `#` comment lines, which ALB trust-store bundles carry,
 * are dropped. Network input (the client-certificate headers) has its own, stricter reader in
 * sources/decode.ts.
 */

export class PemError extends Error {}

export interface PemBlock {
  /** The label, e.g. `CERTIFICATE`, `X509 CRL`. */
  label: string
  der: Uint8Array
}

// Greedy over a class without '-': it stops at the END line in one pass.
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([A-Za-z0-9+/=\s]*)-----END \1-----/g

const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d, 0x0b, 0x0c])

/**
 * Canonical base64 in quanta of 4 characters with whitespace anywhere between them (RFC 7468
 * section 3): true when the body is well formed. Checked in place, without a stripped copy.
 */
function wellFormedBase64 (body: string): boolean {
  let chars = 0
  let padding = 0
  for (let i = 0; i < body.length; i++) {
    const c = body.charCodeAt(i)
    if (WHITESPACE.has(c)) continue
    if (c === 0x3d) { // '=': only at the end, at most two
      if (++padding > 2) return false
      continue
    }
    // Other characters are base64 letters: the block pattern admits nothing else.
    if (padding > 0) return false
    chars++
  }
  return chars > 0 && (chars + padding) % 4 === 0
}

/**
 * The blocks of `text` in order, and the first line outside them that is neither blank nor a `#`
 * comment (null when there is none). Throws PemError for a block whose body is not base64.
 */
export function readPemBlocks (text: string): { blocks: PemBlock[], stray: string | null } {
  const source = text.includes('#') ? text.split(/\r?\n/).filter((line) => !line.trimStart().startsWith('#')).join('\n') : text
  const blocks: PemBlock[] = []
  let stray: string | null = null
  let last = 0
  const outside = (from: number, to: number): void => {
    if (stray !== null) return
    const line = source.slice(from, to).split(/\r?\n/).find((l) => l.trim() !== '')
    if (line !== undefined) stray = line.trim()
  }
  for (const m of source.matchAll(BLOCK)) {
    outside(last, m.index)
    last = m.index + m[0].length
    const body = m[2]!
    // Other Unicode whitespace the pattern's \s admits (U+00A0, U+2028, ...): stripped first, as a
    // regular expression sees it (rare: then a copy is made).
    const base64 = /[\u0080-\uffff]/.test(body) ? body.replace(/\s+/g, '') : body
    if (!wellFormedBase64(base64)) throw new PemError(`a ${m[1]!} PEM block is not valid base64`)
    blocks.push({ label: m[1]!, der: Buffer.from(base64, 'base64') })
  }
  outside(last, source.length)
  return { blocks, stray }
}
