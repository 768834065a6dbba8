/**
 * The streaming body decoder of fastify-alb-mtls/s3 (src/trust/s3-body.ts): PEM or DER in, DER out,
 * with one buffer, whatever the chunking; every malformed or oversized body refused.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { BodyDecoder, decodeBody, ObjectBodyError } from '../../src/trust/s3-body.js'

function pem (der: Uint8Array, label = 'X509 CRL', width = 64, eol = '\n'): string {
  const b64 = Buffer.from(der).toString('base64')
  const lines = b64.match(new RegExp(`.{1,${width}}`, 'g')) ?? []
  return `-----BEGIN ${label}-----${eol}${lines.join(eol)}${eol}-----END ${label}-----${eol}`
}

function decode (body: string | Uint8Array, chunk = 7, label = 'X509 CRL', expected?: number, max = 1 << 20): Uint8Array[] {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'latin1') : body
  const d = new BodyDecoder(label, expected ?? bytes.length, max)
  for (let i = 0; i < bytes.length; i += chunk) d.write(bytes.subarray(i, i + chunk))
  return d.end().items
}

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0

test('PEM decodes to the same bytes for every length, line width, line ending and chunking', () => {
  fc.assert(fc.property(
    fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.integer({ min: 4, max: 100 }), fc.constantFrom('\n', '\r\n'), fc.integer({ min: 1, max: 50 }),
    (der, width, eol, chunk) => {
      const [out, ...rest] = decode(pem(der, 'X509 CRL', width, eol), chunk)
      return rest.length === 0 && out !== undefined && same(out, der)
    }), { numRuns: 300 })
})

test('bundles: several blocks, comment and blank lines, no final newline; items are views of one buffer', () => {
  const a = randomBytes(100)
  const b = randomBytes(2000)
  const text = `# ALB trust store CRLs\n\n${pem(a)}\n# second\n${pem(b).trimEnd()}`
  const items = decode(text, 13)
  assert.equal(items.length, 2)
  assert.ok(same(items[0]!, a) && same(items[1]!, b))
  assert.equal(items[0]!.buffer, items[1]!.buffer)
})

test('a UTF-8 byte order mark before the first block is skipped', () => {
  const der = randomBytes(40)
  const [out] = decode(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(pem(der))]), 64)
  assert.ok(same(out!, der))
})

test('DER is taken whole, in one buffer sized from Content-Length', () => {
  const der = Buffer.concat([Buffer.from([0x30, 0x82, 0x03, 0xe8]), randomBytes(1000)])
  const [out] = decode(der, 100)
  assert.ok(same(out!, der))
  assert.equal(out!.buffer.byteLength >= der.length, true)
})

test('malformed bodies are refused with a reason', () => {
  const good = pem(randomBytes(50))
  const cases: Array<[string, string | Uint8Array, RegExp]> = [
    ['text outside blocks', `hello\n${good}`, /outside PEM blocks/],
    ['another label', pem(randomBytes(10), 'CERTIFICATE'), /unexpected CERTIFICATE/],
    ['truncated inside a block', good.slice(0, 40), /ends inside a PEM block/],
    ['bad END line', good.replace('-----END X509 CRL-----', '-----END CERTIFICATE-----'), /bad PEM END/],
    ['mid quantum', '-----BEGIN X509 CRL-----\nAAAAA\n-----END X509 CRL-----\n', /mid base64 quantum/],
    ['partial padding', '-----BEGIN X509 CRL-----\nAAAAAA=\n-----END X509 CRL-----\n', /mid base64 quantum/],
    ['data after padding', '-----BEGIN X509 CRL-----\nAA==AAAA\n-----END X509 CRL-----\n', /after padding/],
    ['misplaced padding', '-----BEGIN X509 CRL-----\nA===\n-----END X509 CRL-----\n', /padding/],
    ['foreign byte', '-----BEGIN X509 CRL-----\nAA*A\n-----END X509 CRL-----\n', /inside a PEM block/],
    ['empty block', '-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n', /empty PEM block/],
    ['only comments', '# nothing\n', /no X509 CRL PEM block/],
    ['empty', '', /empty object/]
  ]
  for (const [name, body, message] of cases) {
    assert.throws(() => decode(body), (err: Error) => err instanceof ObjectBodyError && message.test(err.message), name)
  }
})

test('sizes are bounded: announced, received and decoded', async () => {
  assert.throws(() => new BodyDecoder('X509 CRL', 2048, 1024), /exceeds the limit/)
  const d = new BodyDecoder('X509 CRL', 10, 1024)
  assert.throws(() => d.write(new Uint8Array(11).fill(0x30)), /longer than its Content-Length/)
  const u = new BodyDecoder('X509 CRL', undefined, 1024)
  u.write(new Uint8Array(1000).fill(0x30))
  assert.throws(() => u.write(new Uint8Array(100)), /larger than 1024/)
  const short = new BodyDecoder('X509 CRL', 100, 1024)
  short.write(new Uint8Array(50).fill(0x30))
  assert.throws(() => short.end(), /truncated: 50 of 100/)
  // A stream: the signal aborts a slow body.
  const controller = new AbortController()
  async function * slow (): AsyncGenerator<Uint8Array> {
    yield Buffer.from('-----BEGIN X509 CRL-----\n')
    controller.abort()
    yield Buffer.from('AAAA\n')
  }
  await assert.rejects(decodeBody(slow(), 'X509 CRL', undefined, 1024, controller.signal), /timed out/)
})

test('PEM needs no more than 3/4 of Content-Length for its output buffer', () => {
  const der = randomBytes(30_000)
  const text = Buffer.from(pem(der))
  const d = new BodyDecoder('X509 CRL', text.length, 1 << 20)
  for (let i = 0; i < text.length; i += 1000) d.write(text.subarray(i, i + 1000))
  const [out] = d.end().items
  assert.ok(same(out!, der))
  assert.ok(out!.buffer.byteLength <= Math.ceil(text.length * 3 / 4) + 8, `${out!.buffer.byteLength} for ${text.length}`)
})
