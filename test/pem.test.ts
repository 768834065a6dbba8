import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PemError, readPemBlocks } from '../src/x509/pem.js'

const block = (label: string, body: string): string => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`

test('readPemBlocks: blocks in order, comment lines dropped, the first stray line reported', () => {
  const text = `# bundle\n${block('CERTIFICATE', 'AAEC')}\n  # indented comment\n${block('X509 CRL', 'AwQF\nBg==')}`
  const { blocks, stray } = readPemBlocks(text)
  assert.deepEqual(blocks.map((b) => [b.label, [...b.der]]), [['CERTIFICATE', [0, 1, 2]], ['X509 CRL', [3, 4, 5, 6]]])
  assert.equal(stray, null)
  assert.equal(readPemBlocks(`${block('CERTIFICATE', 'AAEC')}oops\n`).stray, 'oops')
  assert.equal(readPemBlocks('no pem here').stray, 'no pem here')
  // Mismatched labels do not make a block.
  assert.equal(readPemBlocks('-----BEGIN CERTIFICATE-----\nAAEC\n-----END X509 CRL-----\n').blocks.length, 0)
})

test('readPemBlocks: base64 is checked in place (RFC 7468 section 3)', () => {
  for (const body of ['AAE', 'AA=C', 'A===', 'AAEC=', '====', '']) {
    assert.throws(() => readPemBlocks(block('CERTIFICATE', body)), PemError, JSON.stringify(body))
  }
  for (const body of ['AAEC', 'AA==', 'AAE=', 'AA\r\n  EC', 'AA\tE\fC\v']) {
    assert.equal(readPemBlocks(block('CERTIFICATE', body)).blocks.length, 1, JSON.stringify(body))
  }
  // Unicode whitespace the block pattern admits is stripped, as a regular expression sees it.
  assert.deepEqual([...readPemBlocks(block('CERTIFICATE', 'AA\u00a0EC\u2028')).blocks[0]!.der], [0, 1, 2])
})
