/**
 * Issue 12, item 5: nothing reachable from request.clientCert shares mutable state with the verifier.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createVerifier, createAlbVerifyVerifier } from '../src/index.js'
import { createTestPki } from '../src/testing/index.js'
import { header } from './helpers/pki.js'

/** Every object reachable from `value` is frozen, and every Date refuses its setters. */
function assertDeepReadOnly (value: unknown, path: string, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return
  seen.add(value)
  assert.ok(Object.isFrozen(value), `${path} is not frozen`)
  if (value instanceof Date) {
    const before = value.getTime()
    assert.throws(() => value.setTime(0), TypeError, `${path}.setTime`)
    assert.throws(() => value.setUTCFullYear(2100), TypeError, `${path}.setUTCFullYear`)
    assert.equal(value.getTime(), before)
    return
  }
  for (const [key, child] of Object.entries(value)) assertDeepReadOnly(child, `${path}.${key}`, seen)
}

test('an identity is read-only all the way down, in both modes', async () => {
  const pki = await createTestPki()
  const r = createVerifier({ roots: pki.root.pem }).verifySync(header(pki.leaf, pki.intermediate))
  assert.ok(r.ok)
  assertDeepReadOnly(r.certificate, 'clientCert')
  assert.ok(r.certificate.notAfter instanceof Date)
  assert.equal(JSON.stringify(r.certificate.notAfter), JSON.stringify(new Date(r.certificate.notAfter.getTime())))
})

test("a handler changing an identity's dates cannot change a later validation (the issue's expired intermediate)", async () => {
  const start = Date.now()
  let clock = start
  const pki = await createTestPki()
  // An intermediate that expires 30 s from now.
  const shortLived = await pki.issue({ subject: 'CN=Short-lived CA', ca: true, notAfter: new Date(start + 30_000) }, pki.root)
  const first = await pki.issue({ subject: 'CN=first' }, shortLived)
  const second = await pki.issue({ subject: 'CN=second' }, shortLived)
  const v = createVerifier({ roots: pki.root.pem, now: () => new Date(clock) })
  const r = v.verifySync(header(first, shortLived))
  assert.ok(r.ok)
  const notAfter = r.certificate.chain[1]!.notAfter
  // What an application bug would do: refused.
  assert.throws(() => notAfter.setFullYear(2100), TypeError)
  // Even forcing it through Date.prototype changes only the identity's own copy.
  Date.prototype.setTime.call(notAfter, start + 10 * 365 * 86400_000)
  clock = start + 60_000
  const later = v.verifySync(header(second, shortLived))
  assert.equal(later.ok ? 'ok' : later.reason, 'expired')
})

test('verify mode: the identity is read-only as well', async () => {
  const pki = await createTestPki()
  const leaf = pki.leaf
  const v = createAlbVerifyVerifier({})
  const x = new (await import('node:crypto')).X509Certificate(leaf.der)
  const iso = (s: string): string => new Date(s).toISOString().replace('.000Z', 'Z')
  const r = v.verifySync({
    leaf: header(leaf),
    serialNumber: x.serialNumber,
    issuer: 'CN=Test Intermediate CA,O=fastify-alb-mtls',
    subject: 'CN=client,O=Example Corp',
    validity: `NotBefore=${iso(x.validFrom)};NotAfter=${iso(x.validTo)}`
  })
  assert.ok(r.ok, r.ok ? '' : r.message)
  assertDeepReadOnly(r.certificate, 'clientCert')
})
