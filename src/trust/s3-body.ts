/**
 * s3-body: reads an S3 object body (or a large CRL file, for loadTrustStore) into memory with a
 * bounded footprint.
 *
 * A CRL object may be 50 MB (ALB's limit per CRL file) in PEM (RFC 7468 section 5, label
 * `X509 CRL`) or DER. The naive way (collect chunks, concatenate, decode to a string, strip the
 * armour, base64-decode) holds four or five copies at its peak. Here the body is decoded while it
 * streams: DER is copied once into a buffer sized from Content-Length; PEM is base64-decoded byte
 * by byte into a buffer of at most 3/4 of Content-Length, with no intermediate string. The result
 * is a list of views into that one buffer, one per PEM block.
 *
 * Every byte is hostile: the size is capped before reading (Content-Length) and while reading (a
 * server that sends more than it announced is cut off), text outside the PEM blocks may only be
 * blank lines or `#` comment lines (as ALB trust stores allow), and a body that ends inside a
 * block, mid-quantum or short of its announced length is an error.
 */

export class ObjectBodyError extends Error {}

/** base64 alphabet (RFC 4648 section 4) -> value; -1 elsewhere. */
const B64 = new Int8Array(256).fill(-1)
for (const [i, c] of [...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].entries()) B64[c.charCodeAt(0)] = i

const MAX_LINE_OUTSIDE = 4096

export interface DecodedObject {
  /** One DER item per PEM block (or the whole body when it is DER). Views into one buffer. */
  items: Uint8Array[]
  /** Bytes received. */
  size: number
}

/**
 * A growing byte buffer: preallocated from Content-Length when known, else doubled up to `max`.
 * Never from Node's shared Buffer pool (allocUnsafeSlow): the decoded items are views of this
 * buffer's ArrayBuffer and are kept as long as the material is, so they must not pin a pool slab
 * (Node 24's pool serves larger sizes than Node 20's).
 */
class Output {
  buffer: Buffer
  length = 0
  constructor (initial: number, readonly max: number) {
    this.buffer = Buffer.allocUnsafeSlow(Math.max(16, Math.min(initial, max)))
  }

  static empty (max: number): Output {
    return new Output(0, max)
  }

  ensure (extra: number): void {
    const need = this.length + extra
    if (need <= this.buffer.length) return
    if (need > this.max) throw new ObjectBodyError(`object is larger than ${this.max} bytes`)
    const next = Buffer.allocUnsafeSlow(Math.min(this.max, Math.max(need, this.buffer.length * 2)))
    this.buffer.copy(next, 0, 0, this.length)
    this.buffer = next
  }
}

const BEGIN_PREFIX = '-----BEGIN '
const DASHES = '-----'

/**
 * Streaming decoder. `label` is the PEM label accepted (`X509 CRL` or `CERTIFICATE`); a DER body
 * (first byte 0x30, a SEQUENCE) is taken whole.
 */
export class BodyDecoder {
  private mode: 'start' | 'der' | 'outside' | 'inside' | 'end-marker' = 'start'
  private out: Output
  private received = 0
  private line = ''
  private quantum = 0
  private quantumChars = 0
  private padding = 0
  /** The block's padding is complete: only whitespace and the END line may follow. */
  private done = false
  private blockStart = 0
  private readonly items: Uint8Array[] = []

  constructor (private readonly label: string, private readonly expected: number | undefined, private readonly max: number) {
    if (expected !== undefined && expected > max) throw new ObjectBodyError(`object of ${expected} bytes exceeds the limit of ${max} bytes`)
    this.out = Output.empty(max)
  }

  write (chunk: Uint8Array): void {
    this.received += chunk.length
    if (this.received > this.max) throw new ObjectBodyError(`object is larger than ${this.max} bytes`)
    if (this.expected !== undefined && this.received > this.expected) throw new ObjectBodyError(`object is longer than its Content-Length ${this.expected}`)
    if (this.mode === 'start' && this.received === chunk.length && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) {
      // A UTF-8 byte order mark, as some editors write at the start of a PEM bundle.
      chunk = chunk.subarray(3)
    }
    if (this.mode === 'start' && chunk.length > 0) {
      this.mode = chunk[0] === 0x30 ? 'der' : 'outside'
      // Sized once from Content-Length: DER is the body itself, PEM decodes to at most 3/4 of it.
      const size = this.expected === undefined ? 64 * 1024 : this.mode === 'der' ? this.expected : Math.ceil(this.expected * 3 / 4) + 8
      this.out = new Output(size, this.max)
    }
    if (this.mode === 'der') {
      this.out.ensure(chunk.length)
      this.out.buffer.set(chunk, this.out.length)
      this.out.length += chunk.length
      return
    }
    this.out.ensure(Math.floor(chunk.length * 3 / 4) + 3)
    for (let i = 0; i < chunk.length; i++) this.byte(chunk[i]!)
  }

  private byte (c: number): void {
    switch (this.mode) {
      case 'inside': {
        const v = B64[c]!
        if (v >= 0) {
          if (this.padding > 0 || this.done) throw new ObjectBodyError('base64 data after padding')
          this.quantum = (this.quantum << 6) | v
          if (++this.quantumChars === 4) this.flush(3)
          return
        }
        if (c === 0x3d) { // '='
          if (this.done || this.quantumChars < 2) throw new ObjectBodyError('misplaced base64 padding')
          this.padding++
          if (this.quantumChars + this.padding === 4) {
            this.quantum <<= 6 * this.padding
            this.flush(3 - this.padding)
            this.done = true
          }
          return
        }
        if (c === 0x0a || c === 0x0d || c === 0x20 || c === 0x09) return
        if (c === 0x2d) { // '-': the END marker starts
          this.mode = 'end-marker'
          this.line = '-'
          return
        }
        throw new ObjectBodyError(`byte 0x${c.toString(16)} inside a PEM block`)
      }
      case 'end-marker':
        if (c === 0x0a) {
          this.endBlock(this.line.trimEnd())
          return
        }
        if (this.line.length > 64) throw new ObjectBodyError('unterminated PEM END line')
        this.line += String.fromCharCode(c)
        return
      case 'outside':
        if (c === 0x0a) {
          this.outsideLine(this.line)
          this.line = ''
          return
        }
        if (this.line.length >= MAX_LINE_OUTSIDE) throw new ObjectBodyError('text outside PEM blocks')
        this.line += String.fromCharCode(c)
    }
  }

  /** Writes the `n` bytes of a complete quantum (padding already shifted in). */
  private flush (n: number): void {
    const q = this.quantum
    const b = this.out.buffer
    let at = this.out.length
    b[at++] = (q >>> 16) & 0xff
    if (n > 1) b[at++] = (q >>> 8) & 0xff
    if (n > 2) b[at++] = q & 0xff
    this.out.length = at
    this.quantum = 0
    this.quantumChars = 0
  }

  private outsideLine (raw: string): void {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    if (line.startsWith(BEGIN_PREFIX) && line.endsWith(DASHES)) {
      const label = line.slice(BEGIN_PREFIX.length, -DASHES.length)
      if (label !== this.label) throw new ObjectBodyError(`unexpected ${label} PEM block (expected ${this.label})`)
      this.mode = 'inside'
      this.blockStart = this.out.length
      this.quantum = 0
      this.quantumChars = 0
      this.padding = 0
      this.done = false
      return
    }
    throw new ObjectBodyError(`text outside PEM blocks: ${JSON.stringify(line.slice(0, 40))}`)
  }

  private endBlock (line: string): void {
    if (line !== `-----END ${this.label}-----`) throw new ObjectBodyError(`bad PEM END line ${JSON.stringify(line.slice(0, 40))}`)
    if (this.quantumChars > 0) throw new ObjectBodyError('PEM block ends mid base64 quantum')
    if (this.out.length === this.blockStart) throw new ObjectBodyError('empty PEM block')
    this.items.push(new Uint8Array(this.out.buffer.buffer, this.out.buffer.byteOffset + this.blockStart, this.out.length - this.blockStart))
    this.mode = 'outside'
    this.line = ''
  }

  /** Bytes received so far. */
  get bytes (): number {
    return this.received
  }

  /** Ends the body; throws when it is incomplete. */
  end (): DecodedObject {
    if (this.expected !== undefined && this.received !== this.expected) {
      throw new ObjectBodyError(`object truncated: ${this.received} of ${this.expected} bytes received`)
    }
    if (this.mode === 'start') throw new ObjectBodyError('empty object')
    if (this.mode === 'der') {
      return { items: [new Uint8Array(this.out.buffer.buffer, this.out.buffer.byteOffset, this.out.length)], size: this.received }
    }
    if (this.mode === 'end-marker') this.endBlock(this.line.trimEnd())
    if (this.mode === 'inside') throw new ObjectBodyError('object ends inside a PEM block (truncated)')
    if (this.line !== '') this.outsideLine(this.line)
    if (this.items.length === 0) throw new ObjectBodyError(`no ${this.label} PEM block`)
    return { items: this.items, size: this.received }
  }
}

/** Reads a body stream through a BodyDecoder; `signal` aborts the read (slow server). */
export async function decodeBody (
  body: AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void },
  label: string,
  expected: number | undefined,
  max: number,
  signal?: AbortSignal
): Promise<DecodedObject> {
  const decoder = new BodyDecoder(label, expected, max)
  const onAbort = (): void => body.destroy?.(new ObjectBodyError('read timed out'))
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    for await (const chunk of body) {
      if (signal?.aborted === true) throw new ObjectBodyError('read timed out')
      decoder.write(chunk)
    }
  } catch (err) {
    body.destroy?.()
    if (signal?.aborted === true) throw new ObjectBodyError('read timed out')
    if (err instanceof ObjectBodyError) throw err
    // The connection broke mid-body (reset, aborted): a truncated transfer.
    throw new ObjectBodyError(`transfer cut short after ${decoder.bytes} of ${expected ?? 'unknown'} bytes (${(err as Error).message})`)
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
  return decoder.end()
}
