/**
 * Compiled rule matchers on hand-built identities, and declaration-time validation.
 * The hook and plugin wiring over real certificates are in guards-plugin.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ClientCertificate, SubjectAltNames } from '../src/types.js'
import { compileRules, failedRule, requireClientCert } from '../src/fastify/guards.js'

const FP = 'ab'.repeat(32)

function cert (fields: {
  subject?: Record<string, string[]>
  issuer?: Record<string, string[]>
  san?: Partial<SubjectAltNames>
  spiffeId?: string | null
  fingerprint256?: string
  policies?: string[]
} = {}): ClientCertificate {
  const subjectAttributes = fields.subject ?? { CN: ['client'], O: ['Example Corp'] }
  return {
    subject: 'CN=client,O=Example Corp',
    issuer: 'CN=Example Issuing CA',
    serialNumber: '01',
    notBefore: new Date(0),
    notAfter: new Date(0),
    fingerprint256: fields.fingerprint256 ?? FP,
    pem: '',
    subjectAttributes,
    issuerAttributes: fields.issuer ?? { CN: ['Example Issuing CA'], O: ['Example Corp'] },
    commonName: subjectAttributes.CN?.[0] ?? null,
    san: { dns: [], uri: [], email: [], ip: [], ...fields.san },
    spiffeId: fields.spiffeId ?? null,
    chain: [],
    source: 'alb-passthrough',
    verifiedBy: 'fastify-alb-mtls',
    policies: fields.policies ?? [],
    x5tS256: Buffer.from(fields.fingerprint256 ?? FP, 'hex').toString('base64url')
  }
}

/** The name of the failing rule, or null when the certificate passes. */
function verdict (rules: unknown, c: ClientCertificate): string | null {
  return failedRule(compileRules(rules), c)
}

test('no rules: any verified certificate passes', () => {
  assert.equal(verdict(undefined, cert()), null)
  assert.equal(verdict({}, cert()), null)
})

test('subject attributes: exact and case-sensitive, list is any-of, RegExp as written', () => {
  assert.equal(verdict({ subject: { O: 'Example Corp' } }, cert()), null)
  assert.equal(verdict({ subject: { O: 'example corp' } }, cert()), 'subject.O')
  assert.equal(verdict({ subject: { O: 'Example Corp ' } }, cert()), 'subject.O')
  assert.equal(verdict({ subject: { O: 'Example' } }, cert()), 'subject.O')
  assert.equal(verdict({ subject: { O: ['Other', 'Example Corp'] } }, cert()), null)
  assert.equal(verdict({ subject: { O: ['Other', 'Another'] } }, cert()), 'subject.O')
  assert.equal(verdict({ subject: { O: /^example/i } }, cert()), null)
  assert.equal(verdict({ subject: { O: /^example/ } }, cert()), 'subject.O')
  assert.equal(verdict({ subject: { O: ['x', /Corp$/] } }, cert()), null)
})

test('a repeated attribute matches only when every one of its values does (issue 12)', () => {
  const c = cert({ subject: { CN: ['svc'], OU: ['Engineering', 'Billing'] } })
  // One value matching is not enough: a second, unpoliced value would bypass the rule.
  assert.equal(verdict({ subject: { OU: 'Billing' } }, c), 'subject.OU')
  assert.equal(verdict({ subject: { OU: ['Billing', 'Finance'] } }, c), 'subject.OU')
  assert.equal(verdict({ subject: { OU: /^Billing$/ } }, c), 'subject.OU')
  // Each value may match a different alternative, string or RegExp.
  assert.equal(verdict({ subject: { OU: ['Billing', 'Engineering'] } }, c), null)
  assert.equal(verdict({ subject: { OU: ['Billing', /^Eng/] } }, c), null)
  assert.equal(verdict({ subject: { OU: /^(Billing|Engineering)$/ } }, c), null)
  assert.equal(verdict({ subject: { OU: 'Finance' } }, c), 'subject.OU')
})

test('two CNs, admin and guest: a CN admin rule refuses, on the subject and on the issuer', () => {
  const twoCns = cert({ subject: { CN: ['admin', 'guest'], O: ['Example Corp'] }, issuer: { CN: ['Example Issuing CA', 'Other CA'] } })
  assert.equal(verdict({ subject: { CN: 'admin' } }, twoCns), 'subject.CN')
  assert.equal(verdict({ subject: { CN: /^admin$/ } }, twoCns), 'subject.CN')
  assert.equal(verdict({ subject: { CN: ['admin', 'root'] } }, twoCns), 'subject.CN')
  assert.equal(verdict({ subject: { CN: ['admin', 'guest'] } }, twoCns), null)
  assert.equal(verdict({ issuer: { CN: 'Example Issuing CA' } }, twoCns), 'issuer.CN')
  // The other attributes are unaffected.
  assert.equal(verdict({ subject: { O: 'Example Corp' } }, twoCns), null)
  // The same name with one CN passes.
  assert.equal(verdict({ subject: { CN: 'admin' } }, cert({ subject: { CN: ['admin'] } })), null)
})

test('an absent attribute, or one with no values, never matches', () => {
  const c = cert({ subject: { CN: ['svc'], OU: [] } })
  assert.equal(verdict({ subject: { O: /.*/ } }, c), 'subject.O')
  assert.equal(verdict({ subject: { OU: /.*/ } }, c), 'subject.OU')
  assert.equal(verdict({ issuer: { OU: /.*/ } }, c), 'issuer.OU')
})

test('attribute keys: short names, case-insensitive aliases and OIDs resolve to the identity key', () => {
  assert.equal(verdict({ subject: { '2.5.4.3': 'client' } }, cert()), null)
  assert.equal(verdict({ subject: { cn: 'client' } }, cert()), null)
  const withOid = cert({ subject: { CN: ['x'], '2.5.4.15': ['Private Organization'] } })
  assert.equal(verdict({ subject: { '2.5.4.15': 'Private Organization' } }, withOid), null)
  assert.equal(verdict({ subject: { '2.5.4.15': 'Government Entity' } }, withOid), 'subject.2.5.4.15')
})

test('issuer attributes are matched on the issuer, not the subject', () => {
  assert.equal(verdict({ issuer: { CN: 'Example Issuing CA' } }, cert()), null)
  assert.equal(verdict({ issuer: { CN: 'client' } }, cert()), 'issuer.CN')
})

test('every rule must hold (AND) and the log names the first that fails', () => {
  const c = cert({ spiffeId: 'spiffe://example.org/a', san: { uri: ['spiffe://example.org/a'] } })
  const rules = { subject: { O: 'Example Corp' }, issuer: { CN: 'Example Issuing CA' }, spiffeId: 'spiffe://example.org/a' }
  assert.equal(verdict(rules, c), null)
  assert.equal(verdict({ ...rules, issuer: { CN: 'Other CA' } }, c), 'issuer.CN')
  assert.equal(verdict({ ...rules, subject: { O: 'Example Corp', OU: 'Billing' } }, c), 'subject.OU')
  assert.equal(verdict({ ...rules, spiffeId: 'spiffe://example.org/b' }, c), 'spiffeId')
})

test('san.dns: exact names are case-insensitive', () => {
  const c = cert({ san: { dns: ['Api.Example.com'] } })
  assert.equal(verdict({ san: { dns: 'api.example.com' } }, c), null)
  assert.equal(verdict({ san: { dns: 'API.EXAMPLE.COM' } }, c), null)
  assert.equal(verdict({ san: { dns: 'example.com' } }, c), 'san.dns')
  assert.equal(verdict({ san: { dns: /^api\.example\.com$/ } }, c), null, 'RegExp sees the lowercased name')
})

test('san.dns wildcard: exactly one left-most label', () => {
  const rule = { san: { dns: '*.example.com' } }
  const cases: Array<[string, boolean]> = [
    ['a.example.com', true],
    ['A.EXAMPLE.com', true],
    ['x-1.example.com', true],
    ['a.b.example.com', false],
    ['example.com', false],
    ['.example.com', false],
    ['*.example.com', false],
    ['a*.example.com', false],
    ['aexample.com', false],
    ['a.example.com.evil.net', false],
    ['a.example.co', false],
    ['a.notexample.com', false]
  ]
  for (const [name, ok] of cases) {
    assert.equal(verdict(rule, cert({ san: { dns: [name] } })), ok ? null : 'san.dns', name)
  }
  assert.equal(verdict(rule, cert({ san: { dns: ['x.other.com', 'a.example.com'] } })), null, 'any SAN may match')
  assert.equal(verdict(rule, cert()), 'san.dns', 'no dNSName at all')
})

test('san.dns: an exact rule never matches a wildcard SAN', () => {
  assert.equal(verdict({ san: { dns: 'a.example.com' } }, cert({ san: { dns: ['*.example.com'] } })), 'san.dns')
})

test('san.uri and spiffeId: exact string or RegExp', () => {
  const id = 'spiffe://example.org/ns/prod/sa/billing'
  const c = cert({ san: { uri: [id, 'https://example.org/x'] }, spiffeId: id })
  assert.equal(verdict({ san: { uri: /^spiffe:\/\/example\.org\/ns\/prod\// } }, c), null)
  assert.equal(verdict({ san: { uri: 'https://example.org/x' } }, c), null)
  assert.equal(verdict({ san: { uri: 'https://example.org/X' } }, c), 'san.uri')
  assert.equal(verdict({ spiffeId: id }, c), null)
  assert.equal(verdict({ spiffeId: ['spiffe://example.org/ns/dev/sa/billing', id] }, c), null)
  assert.equal(verdict({ spiffeId: /^spiffe:\/\/example\.org\/ns\/dev\// }, c), 'spiffeId')
  assert.equal(verdict({ spiffeId: /.*/ }, cert({ spiffeId: null })), 'spiffeId', 'no SPIFFE ID never matches')
})

test('san.email: local part exact, domain case-insensitive', () => {
  const c = cert({ san: { email: ['Alice@Example.COM'] } })
  assert.equal(verdict({ san: { email: 'Alice@example.com' } }, c), null)
  assert.equal(verdict({ san: { email: 'alice@example.com' } }, c), 'san.email')
  assert.equal(verdict({ san: { email: /^Alice@example\.com$/ } }, c), null, 'RegExp sees the domain lowercased')
  assert.equal(verdict({ san: { email: /^alice@/ } }, c), 'san.email')
})

test('san.ip: IPv4, normalized IPv6, CIDR; IPv4 rules do not match IPv4-mapped IPv6', () => {
  const c = cert({ san: { ip: ['10.1.2.3', '2001:db8::1'] } })
  assert.equal(verdict({ san: { ip: '10.1.2.3' } }, c), null)
  assert.equal(verdict({ san: { ip: '10.1.2.4' } }, c), 'san.ip')
  assert.equal(verdict({ san: { ip: '10.0.0.0/8' } }, c), null)
  assert.equal(verdict({ san: { ip: '10.1.3.0/24' } }, c), 'san.ip')
  assert.equal(verdict({ san: { ip: '2001:DB8:0:0:0:0:0:1' } }, c), null)
  assert.equal(verdict({ san: { ip: '2001:db8::/32' } }, cert({ san: { ip: ['2001:db8:ffff::9'] } })), null)
  assert.equal(verdict({ san: { ip: '2001:db9::/32' } }, c), 'san.ip')
  assert.equal(verdict({ san: { ip: '1.2.3.4' } }, cert({ san: { ip: ['::ffff:1.2.3.4'] } })), 'san.ip')
  assert.equal(verdict({ san: { ip: '0.0.0.0/0' } }, cert({ san: { ip: ['0a000000ff000000'] } })), 'san.ip', 'odd-length text is not an address')
})

test('fingerprint256 pins: hex with or without colons, any case', () => {
  const colons = FP.toUpperCase().match(/../g)!.join(':')
  assert.equal(verdict({ fingerprint256: colons }, cert()), null)
  assert.equal(verdict({ fingerprint256: ['cd'.repeat(32), FP] }, cert()), null)
  assert.equal(verdict({ fingerprint256: 'cd'.repeat(32) }, cert()), 'fingerprint256')
})

test('a predicate is kept for the hook, after every static rule', () => {
  const check = (): boolean => true
  const compiled = compileRules({ check, subject: { CN: 'client' } })
  assert.equal(compiled.check, check)
  assert.deepEqual(compiled.clauses.map((c) => c.name), ['subject.CN'])
})

test('bad rules throw FST_MTLS_INVALID_OPTION when the route is declared', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['rules', /rules must be an object/],
    [{ subjet: { CN: 'x' } }, /unknown rule "subjet"/],
    [{ subject: { Organisation: 'x' } }, /subject\.Organisation: unknown attribute name/],
    [{ subject: { CN: 'x', '2.5.4.3': 'y' } }, /given twice/],
    [{ subject: {} }, /subject has no attribute rules/],
    [{ subject: 'CN=x' }, /subject must be an object/],
    [{ subject: { CN: undefined } }, /subject\.CN is undefined/],
    [{ spiffeId: undefined }, /rules\.spiffeId is undefined/],
    [{ subject: { CN: [] } }, /empty list/],
    [{ subject: { CN: '' } }, /empty string/],
    [{ subject: { CN: 42 } }, /expected a string, a RegExp/],
    [{ subject: { CN: /x/g } }, /flags g and y/],
    [{ subject: { CN: /x/y } }, /flags g and y/],
    [{ san: { dsn: ['a.example.com'] } }, /san\.dsn: unknown SAN kind/],
    [{ san: {} }, /san has no rules/],
    [{ san: { dns: '*.com' } }, /top-level domain/],
    [{ san: { dns: 'a.*.example.com' } }, /not a DNS name/],
    [{ san: { dns: '*.*.example.com' } }, /not a DNS name/],
    [{ san: { dns: 'a*.example.com' } }, /not a DNS name/],
    [{ san: { dns: '*' } }, /not a DNS name/],
    [{ san: { dns: 'a..example.com' } }, /not a DNS name/],
    [{ san: { dns: 'https://example.com' } }, /not a DNS name/],
    [{ san: { email: 'example.com' } }, /not a mailbox/],
    [{ san: { ip: '10.0.0' } }, /not an IP address/],
    [{ san: { ip: '10.0.0.0/33' } }, /bad prefix length/],
    [{ san: { ip: '::/129' } }, /bad prefix length/],
    [{ san: { ip: '10.0.0.0/' } }, /bad prefix length/],
    [{ san: { ip: /10\./ } }, /expected an IP address/],
    [{ spiffeId: 'example.org/ns/prod' }, /not a spiffe:\/\/ ID/],
    [{ fingerprint256: 'ab12' }, /64 hex digits/],
    [{ fingerprint256: 'ab'.repeat(20) }, /64 hex digits/],
    [{ fingerprint256: 'zz'.repeat(32) }, /64 hex digits/],
    [{ check: 'true' }, /check must be a function/]
  ]
  for (const [rules, message] of bad) {
    assert.throws(() => requireClientCert(rules as never), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'FST_MTLS_INVALID_OPTION')
      assert.match(err.message, message)
      assert.match(err.message, /requireClientCert: /)
      return true
    }, JSON.stringify(rules, (_k, v: unknown) => v instanceof RegExp ? String(v) : v))
  }
})
