/**
 * One certificate, one encoding: the bytes no signature covers (the outer SEQUENCE header, the
 * signature BIT STRING header and its unused-bits octet) must be strict DER, so a certificate cannot
 * be re-encoded into a copy with another fingerprint that still verifies.
 */
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier, type Verifier } from '../src/index.js'
import { createTestPki, toAlbHeader, toPem, type TestPki } from '../src/testing/index.js'
import { assertDefinedRefusal } from './helpers/hostile.js'

let p: TestPki
let verifier: Verifier
before(async () => {
  p = await createTestPki()
  verifier = createVerifier({ roots: p.root.pem })
})

test('re-encodings of a valid certificate are refused', () => {
  // Found by the DER mutation property: asn1js let the outer length disagree with the contents, and
  // the signature BIT STRING's unused-bits octet is outside what the signature covers.
  const der = Buffer.from(p.leaf.der)
  assert.equal(der[1], 0x82)
  const body = der.subarray(4)
  const variants: Record<string, Uint8Array> = {
    'outer length too short': Buffer.concat([der.subarray(0, 3), Uint8Array.of(der[3]! - 2), body]),
    'outer length too long': Buffer.concat([der.subarray(0, 3), Uint8Array.of(der[3]! + 1), body]),
    'outer length in 3 octets': Buffer.concat([Uint8Array.of(0x30, 0x83, 0x00), der.subarray(2)]),
    'unused bits in the signature': (() => { const m = Buffer.from(der); m[m.length - 1 - signatureLength(der)]! |= 1; return m })(),
    'trailing byte': Buffer.concat([der, Uint8Array.of(0)])
  }
  assert.ok(verifier.verifySync(toAlbHeader([p.leaf.pem, p.intermediate.pem])).ok)
  for (const [label, mutated] of Object.entries(variants)) {
    const value = toAlbHeader([toPem(mutated), p.intermediate.pem])
    const r = verifier.verifySync(value)
    assertDefinedRefusal(r, label)
    assert.equal(r.reason, 'bad-der', label)
  }
})

/** Length of the signature BIT STRING contents after the unused-bits octet (the last TLV). */
function signatureLength (der: Uint8Array): number {
  // The last TLV is `03 len 00 sig`; for ECDSA P-256 its length fits in one octet.
  for (let i = der.length - 3; i > 0; i--) {
    if (der[i] === 0x03 && der[i + 1] === der.length - i - 2 && der[i + 2] === 0x00) return der.length - i - 3
  }
  throw new Error('no BIT STRING at the end')
}
