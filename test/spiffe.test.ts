/**
 * Issue 12, item 4: `spiffeId` only for a valid SPIFFE ID (SPIFFE-ID standard, section 2).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier, inTrustDomain, isSpiffeId, parseSpiffeId, spiffeTrustDomain } from '../src/index.js'
import { createTestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

const VALID = [
  'spiffe://example.org',
  'spiffe://example.org/ns/prod/sa/billing',
  'spiffe://trust-domain_1.example/a.b/c-d/E_F',
  'spiffe://example.org/...',
  `spiffe://${'a'.repeat(255)}/x`
]
const INVALID = [
  'spiffe://example.org@x.partner.example/ns/prod/sa/admin',
  'spiffe://user:pw@example.org/ns',
  'spiffe://example.org:8443/ns',
  'spiffe://Example.org/ns',
  'SPIFFE://example.org/ns',
  'Spiffe://example.org/ns',
  'spiffe:///ns/prod',
  'spiffe://',
  'spiffe://example.org/',
  'spiffe://example.org/ns/',
  'spiffe://example.org//ns',
  'spiffe://example.org/ns/./sa',
  'spiffe://example.org/ns/../sa',
  'spiffe://example.org/.',
  'spiffe://example.org/ns%2Fprod',
  'spiffe://example.org/ns?x=1',
  'spiffe://example.org/ns#frag',
  'spiffe://exa mple.org/ns',
  'spiffe://example.org/n s',
  'spiffe://exämple.org/ns',
  'spiffe:example.org/ns',
  'https://example.org/ns',
  `spiffe://${'a'.repeat(256)}/x`,
  `spiffe://example.org/${'a'.repeat(2048)}`
]

test('parseSpiffeId: the standard, character by character', () => {
  for (const id of VALID) assert.ok(isSpiffeId(id), id)
  for (const id of INVALID) assert.equal(parseSpiffeId(id), null, id)
  assert.deepEqual(parseSpiffeId('spiffe://example.org/ns/prod'), { id: 'spiffe://example.org/ns/prod', trustDomain: 'example.org', path: '/ns/prod' })
})

test('spiffeTrustDomain / inTrustDomain: exact trust domains, never prefixes', () => {
  assert.equal(spiffeTrustDomain('spiffe://example.org/ns/prod'), 'example.org')
  assert.equal(spiffeTrustDomain('spiffe://example.org@x.partner.example/ns'), null)
  assert.equal(spiffeTrustDomain(null), null)
  assert.equal(inTrustDomain('spiffe://example.org/ns/prod', 'example.org'), true)
  assert.equal(inTrustDomain('spiffe://example.org.partner.example/ns', 'example.org'), false)
  assert.equal(inTrustDomain('spiffe://prod.example.org/ns', 'example.org'), false)
  assert.equal(inTrustDomain('spiffe://example.org@x.partner.example/ns', 'example.org'), false)
  assert.equal(inTrustDomain(null, 'example.org'), false)
  assert.throws(() => inTrustDomain('spiffe://example.org', 'Example.org'), TypeError)
  assert.throws(() => inTrustDomain('spiffe://example.org', 'spiffe://example.org'), TypeError)
})

test('identity: spiffeId is null for an invalid one (the URI stays in san.uri), set for a valid one', async () => {
  const pki = await createTestPki()
  const v = createVerifier({ roots: pki.root.pem })
  const cases: Array<[string[], string | null]> = [
    [['spiffe://example.org/ns/prod/sa/admin'], 'spiffe://example.org/ns/prod/sa/admin'],
    [['spiffe://example.org@x.partner.example/ns/prod/sa/admin'], null],
    [['spiffe://example.org/ns/prod/sa/admin/'], null],
    [['spiffe://example.org/a', 'spiffe://example.org/b'], null],
    [['spiffe://example.org/a', 'SPIFFE://example.org/b'], null],
    [['https://example.org/x', 'spiffe://example.org/a'], 'spiffe://example.org/a']
  ]
  for (const [uris, expected] of cases) {
    const leaf = await pki.issue({ subject: 'CN=svid', san: { uri: uris } })
    const r = v.verifySync(header(leaf, pki.intermediate))
    assert.ok(r.ok, r.ok ? '' : r.message)
    assert.equal(r.certificate.spiffeId, expected, uris.join(' '))
    assert.deepEqual(r.certificate.san.uri, uris)
  }
})
