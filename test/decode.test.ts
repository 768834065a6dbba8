import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeAlb, decodeFast, decodeHeader, decodeReference, percentDecode, splitPem } from '../src/sources/decode.js'
import { prng } from './helpers/random.js'

const body = Buffer.from('0\x82\x00\x01hello world, a fake DER body that is long enough').toString('base64')
const pem = `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`

/** Encodes as ALB does: everything but unreserved characters and + = / is %XX. */
function albEncode (text: string): string {
  return text.replace(/[^A-Za-z0-9\-_.~+=/]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'))
}

test('percentDecode keeps + = / literal and decodes every %XX', () => {
  assert.equal(percentDecode('a+b=c/d%3D%2B%2F%0A'), 'a+b=c/d=+/\n')
  assert.equal(percentDecode('plain'), 'plain')
  assert.equal(percentDecode('%41%62'), 'Ab')
})

test('percentDecode refuses bad escapes, NUL, control and non-ASCII', () => {
  for (const bad of ['%', '%4', '%G0', 'abc%zz', '%00', 'a%01b', '%80', '%FF', 'caf\u00e9', 'x\u0000y']) {
    assert.equal(percentDecode(bad), null, bad)
  }
})

test('decodeHeader decodes one and several certificates, leaf first', () => {
  const one = decodeHeader(albEncode(pem), 6)
  assert.ok(one.ok)
  assert.equal(one.certificates.length, 1)
  assert.deepEqual(Buffer.from(one.certificates[0]!), Buffer.from(body, 'base64'))
  const body2 = Buffer.from('second').toString('base64')
  const two = decodeHeader(albEncode(pem + pem.replace(body, body2)), 6)
  assert.ok(two.ok)
  assert.equal(Buffer.from(two.certificates[1]!).toString(), 'second')
})

test('decodeHeader accepts = encoded as %3D (AWS example) and CRLF line breaks', () => {
  const r = decodeHeader(albEncode(pem).replace(/=/g, '%3D').replace(/%0A/g, '%0D%0A'), 6)
  assert.ok(r.ok)
})

test('+ is never a space', () => {
  const withPlus = '-----BEGIN CERTIFICATE-----\nAB+/\n-----END CERTIFICATE-----\n'
  const r = decodeHeader(albEncode(withPlus), 6)
  assert.ok(r.ok)
  assert.deepEqual([...r.certificates[0]!], [...Buffer.from('AB+/', 'base64')])
})

const rejections: Array<[string, string, string]> = [
  ['junk before', 'x' + pem, 'bad-pem'],
  ['junk between', pem + 'junk\n' + pem, 'bad-pem'],
  ['junk after', pem + 'trailing', 'bad-pem'],
  ['no END', pem.replace('-----END CERTIFICATE-----', ''), 'bad-pem'],
  ['empty', '\n\n', 'bad-pem'],
  ['private key', pem.replace(/CERTIFICATE/g, 'PRIVATE KEY'), 'not-a-certificate'],
  ['x509 crl', pem.replace(/CERTIFICATE/g, 'X509 CRL'), 'not-a-certificate'],
  ['bad base64 char', pem.replace(body.slice(0, 4), 'A*AA'), 'bad-base64'],
  ['bad base64 length', pem.replace(body, body.slice(1)), 'bad-base64'],
  ['padding inside', pem.replace(body.slice(0, 4), 'AA=A'), 'bad-base64'],
  ['empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', 'bad-base64'],
  ['PEM header fields', pem.replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\n'), 'bad-base64']
]

for (const [name, text, reason] of rejections) {
  test(`decodeHeader refuses ${name}`, () => {
    const r = decodeHeader(albEncode(text), 6)
    assert.equal(r.ok, false)
    assert.equal(!r.ok && r.reason, reason)
  })
}

test('decodeHeader refuses bad percent-encoding', () => {
  const r = decodeHeader(albEncode(pem) + '%Z1', 6)
  assert.equal(!r.ok && r.reason, 'bad-encoding')
})

test('more certificates than allowed is refused before decoding them all', () => {
  const r = splitPem(pem.repeat(7), 6)
  assert.equal(!r.ok && r.reason, 'too-many-certificates')
  assert.ok(splitPem(pem.repeat(6), 6).ok)
})

function randomPem (rand: () => number, bytes: number): string {
  const der = Buffer.alloc(bytes)
  for (let i = 0; i < bytes; i++) der[i] = Math.floor(rand() * 256)
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '')
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`
}

test('the one-pass decoder takes the forms ALB sends (%3D, literal =, CRLF, literal spaces) without the fallback', () => {
  const rand = prng(7)
  const chain = randomPem(rand, 700) + randomPem(rand, 1000)
  for (const value of [
    albEncode(chain),
    albEncode(chain).replace(/=/g, '%3D'),
    albEncode(chain).replace(/%0A/g, '%0d%0a'),
    albEncode(chain).replace(/%20/g, ' '),
    albEncode(chain).replace(/\+/g, '%2B').replace(/\//g, '%2f')
  ]) {
    const fast = decodeFast(value, 6)
    assert.ok(fast !== null, value.slice(0, 80))
    const reference = decodeReference(value, 6)
    assert.ok(reference.ok)
    assert.equal(fast.length, 2)
    for (let i = 0; i < 2; i++) assert.deepEqual(Buffer.from(fast[i]!), Buffer.from(reference.certificates[i]!))
  }
})

test('unusual but valid spellings fall back to the strict decoder and still decode', () => {
  const rand = prng(11)
  const value = albEncode(randomPem(rand, 300)).replace(/-----BEGIN/, '%2D----BEGIN').replace(/Q/g, '%51')
  assert.equal(decodeFast(value, 6), null)
  const r = decodeHeader(value, 6)
  assert.ok(r.ok)
  assert.deepEqual(r, decodeReference(value, 6))
})

test('one-pass decoder agrees with the strict decoder on 20,000 mutated headers', () => {
  const rand = prng(42)
  const pieces = ['%', '%0A', '%0a', '%20', '%3D', '%3d', '%2B', '%2F', '%2b', '%2D', '%41', '%00', '%80', '%ZZ', '=', '==', '===',
    '-', '-----', '-----END%20CERTIFICATE-----', '-----BEGIN%20CERTIFICATE-----', '-----END CERTIFICATE-----', ' ', '\t',
    'A', 'z', '+', '/', '*', ',', '\u00e9', '\n', '%0D%0A', '-----BEGIN%20PRIVATE%20KEY-----']
  let accepted = 0
  for (let round = 0; round < 20_000; round++) {
    let value = albEncode(randomPem(rand, 1 + Math.floor(rand() * 40)) + (rand() < 0.5 ? randomPem(rand, 1 + Math.floor(rand() * 40)) : ''))
    if (rand() < 0.3) value = value.replace(/=/g, '%3D')
    const edits = Math.floor(rand() * 3)
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (value.length + 1))
      const op = rand()
      const piece = pieces[Math.floor(rand() * pieces.length)]!
      if (op < 0.4) value = value.slice(0, at) + piece + value.slice(at)
      else if (op < 0.7) value = value.slice(0, at) + value.slice(at + 1 + Math.floor(rand() * 4))
      else value = value.slice(0, at) + piece + value.slice(at + piece.length)
    }
    const max = 1 + Math.floor(rand() * 2)
    const reference = decodeReference(value, max)
    const fast = decodeFast(value, max)
    if (fast !== null) {
      accepted++
      assert.ok(reference.ok, `fast path accepted what the strict decoder refuses: ${JSON.stringify(value)}`)
      assert.equal(fast.length, reference.certificates.length)
      for (let i = 0; i < fast.length; i++) assert.deepEqual(Buffer.from(fast[i]!), Buffer.from(reference.certificates[i]!), JSON.stringify(value))
    }
    assert.deepEqual(decodeHeader(value, max).ok, reference.ok)
  }
  assert.ok(accepted > 1000, `fast path took only ${accepted} values`)
})

test('the native-operations decoder takes the ALB form only, and agrees with the strict decoder on 20,000 mutated headers', () => {
  const rand = prng(4242)
  const chain = randomPem(rand, 700) + randomPem(rand, 1000)
  const plain = decodeAlb(albEncode(chain), 6)
  assert.ok(plain !== null)
  const reference = decodeReference(albEncode(chain), 6)
  assert.ok(reference.ok)
  assert.deepEqual(plain.map((c) => Buffer.from(c)), reference.certificates.map((c) => Buffer.from(c)))
  for (const other of [albEncode(chain).replace(/=/g, '%3D'), albEncode(chain).replace(/%0A/g, '%0a'), albEncode(chain).replace(/%20/g, ' '), '%0A' + albEncode(chain)]) {
    assert.equal(decodeAlb(other, 6), null, other.slice(0, 60))
    assert.ok(decodeFast(other, 6) !== null)
  }
  assert.equal(decodeAlb(albEncode(chain), 1), null, 'more blocks than allowed is left to the reference')
  const pieces = ['%', '%0A', '%0a', '%%0A0A', '%0A%0A', '%3D', '=', '==', '-', '-----END%20CERTIFICATE-----', '-----BEGIN%20CERTIFICATE-----',
    ' ', '\t', '\f', 'A', '+', '/', '*', '_', '\u00e9', '\n', '%0D%0A', '%u0041', '%41']
  let accepted = 0
  for (let round = 0; round < 20_000; round++) {
    let value = albEncode(randomPem(rand, 1 + Math.floor(rand() * 40)) + (rand() < 0.5 ? randomPem(rand, 1 + Math.floor(rand() * 40)) : ''))
    const edits = Math.floor(rand() * 3)
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (value.length + 1))
      const piece = pieces[Math.floor(rand() * pieces.length)]!
      value = rand() < 0.5 ? value.slice(0, at) + piece + value.slice(at) : value.slice(0, at) + value.slice(at + 1 + Math.floor(rand() * 4))
    }
    const max = 1 + Math.floor(rand() * 2)
    const fast = decodeAlb(value, max)
    if (fast === null) continue
    accepted++
    const strict = decodeReference(value, max)
    assert.ok(strict.ok, `accepted what the strict decoder refuses: ${JSON.stringify(value)}`)
    assert.deepEqual(fast.map((c) => Buffer.from(c)), strict.certificates.map((c) => Buffer.from(c)), JSON.stringify(value))
  }
  assert.ok(accepted > 1000, `the ALB-form decoder took only ${accepted} values`)
})
