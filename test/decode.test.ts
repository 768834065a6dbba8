import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeHeader, percentDecode, splitPem } from '../src/core/decode.js'

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
