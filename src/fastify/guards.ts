/**
 * guards: authorization rules on the verified identity, compiled once at route declaration.
 *
 * `requireClientCert(rules)` returns a callback-style hook usable as `onRequest` (recommended: a
 * refused request's body is never parsed), `preHandler`, or inside `@fastify/auth`.
 */
import { BlockList, isIP } from 'node:net'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { ClientCertificate } from '../types.js'
import { attributeName, attributeOid } from '../x509/names.js'
import { CertMissingError, ForbiddenError, InvalidOptionError, NotRegisteredError } from '../errors.js'
import { refusedChannel, type MtlsRefusedMessage } from './diagnostics.js'

/** An exact, case-sensitive value or a RegExp (not anchored for you: write `^...$`). */
export type ValueMatcher = string | RegExp

/** One matcher, or a list where any entry may match. */
export type ValueRule = ValueMatcher | readonly ValueMatcher[]

/** Attribute short names the parser knows; other attribute types are matched by dotted OID. */
export type KnownAttributeName =
  | 'CN' | 'SN' | 'serialNumber' | 'C' | 'L' | 'ST' | 'STREET' | 'O' | 'OU' | 'title' | 'GN'
  | 'dnQualifier' | 'pseudonym' | 'organizationIdentifier' | 'UID' | 'DC' | 'emailAddress'

/** A dotted OID such as `2.5.4.15` (businessCategory). */
export type AttributeOid = `${number}.${string}`

/**
 * Rules on a distinguished name: every attribute given must match. The attribute must be present, and
 * when the name repeats it (two `CN`s, several `OU`s) EVERY value must match the rule (each value may
 * match a different entry of a list). A rule on a repeated attribute could otherwise be passed with a
 * second value that the issuing CA did not police (issue 12): `{ CN: 'admin' }` refuses a certificate
 * whose subject holds both `CN=admin` and `CN=guest`. To accept "any of several OUs", list every OU the
 * certificate may carry, or use `check`.
 */
export type NameRules =
  { readonly [K in KnownAttributeName]?: ValueRule } &
  { readonly [oid: AttributeOid]: ValueRule }

/** Rules on subject alternative names: every kind given must match at least one SAN of that kind. */
export interface SanRules {
  /**
   * dNSName: exact host names (case-insensitive) or `*.example.com` (one left-most label, never
   * `example.com` itself nor `a.b.example.com`); a RegExp is tested on the lowercased name.
   */
  readonly dns?: ValueRule
  /** uniformResourceIdentifier: exact string or RegExp. */
  readonly uri?: ValueRule
  /** rfc822Name: exact mailbox (domain case-insensitive) or RegExp, both on the address with its domain lowercased. */
  readonly email?: ValueRule
  /** iPAddress: an IPv4 or IPv6 address, or a CIDR block (`10.0.0.0/8`, `2001:db8::/32`). */
  readonly ip?: string | readonly string[]
}

/** A custom predicate; only `true` (or a promise of `true`) authorizes. A throw or rejection refuses. */
export type ClientCertCheck = (cert: ClientCertificate, request: FastifyRequest) => boolean | Promise<boolean>

/** Authorization rules: every rule given must hold (AND); inside a list, any entry may match (OR). */
export interface ClientCertRules {
  /** Subject attributes of the leaf, e.g. `{ O: 'Example Corp', OU: ['Billing', 'Finance'] }`. */
  readonly subject?: NameRules
  /** Issuer attributes of the leaf. */
  readonly issuer?: NameRules
  /** Subject alternative names of the leaf. */
  readonly san?: SanRules
  /** The leaf's SPIFFE ID (`request.clientCert.spiffeId`): exact `spiffe://` string or RegExp. */
  readonly spiffeId?: ValueRule
  /** Pins on the leaf's SHA-256 fingerprint: hex, with or without colons, any case. */
  readonly fingerprint256?: string | readonly string[]
  /**
   * Certificate policies (dotted OIDs): the leaf's valid policies after RFC 5280 6.1 processing
   * (`request.clientCert.policies`) must include one of them, e.g. PIV authentication
   * `2.16.840.1.101.3.2.1.3.13`. Exact match: anyPolicy satisfies it only when listed itself.
   */
  readonly policies?: string | readonly string[]
  /** Runs last, only when every other rule held. May be async. */
  readonly check?: ClientCertCheck
}

/** The hook `requireClientCert` returns: `onRequest`, `preHandler`, or an `@fastify/auth` function. */
export type ClientCertGuard = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction) => void

type Test = (cert: ClientCertificate) => boolean

interface Clause {
  /** Which rule, for the log (`subject.OU`, `san.dns`, ...). */
  readonly name: string
  readonly test: Test
}

/** Rules compiled to closures: no regex or object construction per request. */
export interface CompiledRules {
  readonly clauses: readonly Clause[]
  readonly check: ClientCertCheck | null
}

const RULE_KEYS = new Set(['subject', 'issuer', 'san', 'spiffeId', 'fingerprint256', 'policies', 'check'])
const SAN_KEYS = new Set(['dns', 'uri', 'email', 'ip'])

/** A rule that cannot work; compileRules turns it into FST_MTLS_INVALID_OPTION with its context. */
class RuleError extends Error {}

function fail (message: string): never {
  throw new RuleError(message)
}

function isPlainObject (value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** Own keys of a rules object; an explicitly undefined value is a mistake that would fail open. */
function entries (value: Record<string, unknown>, where: string): Array<[string, unknown]> {
  const out = Object.entries(value)
  for (const [key, v] of out) if (v === undefined) fail(`${where}.${key} is undefined (omit the key to have no rule)`)
  return out
}

function list (value: unknown, where: string): unknown[] {
  const items = Array.isArray(value) ? value : [value]
  if (items.length === 0) fail(`${where} is an empty list: it could never match`)
  return items
}

function regExp (re: RegExp, where: string): RegExp {
  // g and y make RegExp.test stateful (lastIndex): the same certificate would match every other time.
  if (re.global || re.sticky) fail(`${where}: RegExp flags g and y are not allowed (${String(re)})`)
  return re
}

/** Exact strings in a Set (optionally normalized) plus RegExps. */
function compileValues (value: unknown, where: string, normalize?: (text: string) => string): (text: string) => boolean {
  const exact = new Set<string>()
  const patterns: RegExp[] = []
  for (const item of list(value, where)) {
    if (typeof item === 'string') {
      if (item === '') fail(`${where}: empty string`)
      exact.add(normalize === undefined ? item : normalize(item))
    } else if (item instanceof RegExp) {
      patterns.push(regExp(item, where))
    } else {
      fail(`${where}: expected a string, a RegExp, or a list of them`)
    }
  }
  if (patterns.length === 0) return (text) => exact.has(text)
  return (text) => {
    if (exact.has(text)) return true
    for (const re of patterns) if (re.test(text)) return true
    return false
  }
}

/** Any of `values` satisfies `match`. */
function anyOf (values: readonly string[] | undefined, match: (text: string) => boolean): boolean {
  if (values === undefined) return false
  for (const v of values) if (match(v)) return true
  return false
}

/**
 * At least one value, and every one satisfies `match`: the rule form for name attributes, which a
 * name may repeat (RFC 5280 4.1.2.4 allows any number of AttributeTypeAndValues, and a CA may check
 * only the first). An absent attribute or an empty list never matches.
 */
function everyOf (values: readonly string[] | undefined, match: (text: string) => boolean): boolean {
  if (values === undefined || values.length === 0) return false
  for (const v of values) if (!match(v)) return false
  return true
}

function compileName (value: unknown, field: 'subject' | 'issuer', clauses: Clause[]): void {
  if (!isPlainObject(value)) fail(`${field} must be an object of attribute rules`)
  const seen = new Set<string>()
  const attrs = entries(value, field)
  if (attrs.length === 0) fail(`${field} has no attribute rules (omit it to have no rule)`)
  for (const [key, rule] of attrs) {
    const oid = attributeOid(key)
    if (oid === undefined) fail(`${field}.${key}: unknown attribute name (use a short name such as CN, O, OU, or a dotted OID)`)
    const name = attributeName(oid) // the key request.clientCert uses
    if (seen.has(name)) fail(`${field}.${key}: attribute ${name} is given twice`)
    seen.add(name)
    const match = compileValues(rule, `${field}.${key}`)
    const test: Test = field === 'subject'
      ? (cert) => everyOf(cert.subjectAttributes[name], match)
      : (cert) => everyOf(cert.issuerAttributes[name], match)
    clauses.push({ name: `${field}.${name}`, test })
  }
}

const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/

function hostName (text: string, where: string): string {
  const lower = text.toLowerCase()
  if (lower.length > 253 || !lower.split('.').every((label) => LABEL.test(label))) {
    fail(`${where}: ${JSON.stringify(text)} is not a DNS name (a wildcard is allowed only as a whole left-most label: *.example.com)`)
  }
  return lower
}

/** True when `name` (lowercase) is one non-empty label, without `*`, followed by `suffix` (`.example.com`). */
function wildcardMatch (name: string, suffix: string): boolean {
  const labelLength = name.length - suffix.length
  if (labelLength < 1 || !name.endsWith(suffix)) return false
  const dot = name.lastIndexOf('.', labelLength - 1)
  const star = name.lastIndexOf('*', labelLength - 1)
  return dot === -1 && star === -1
}

function compileDns (value: unknown, where: string): Test {
  const exact = new Set<string>()
  const suffixes: string[] = []
  const patterns: RegExp[] = []
  for (const item of list(value, where)) {
    if (item instanceof RegExp) {
      patterns.push(regExp(item, where))
    } else if (typeof item === 'string' && item.startsWith('*.')) {
      const base = hostName(item.slice(2), where)
      if (!base.includes('.')) fail(`${where}: ${JSON.stringify(item)} would match every name under a top-level domain`)
      suffixes.push('.' + base)
    } else if (typeof item === 'string') {
      exact.add(hostName(item, where))
    } else {
      fail(`${where}: expected a DNS name, a *.wildcard, a RegExp, or a list of them`)
    }
  }
  return (cert) => {
    for (const dns of cert.san.dns) {
      const name = dns.toLowerCase()
      if (exact.has(name)) return true
      for (const suffix of suffixes) if (wildcardMatch(name, suffix)) return true
      for (const re of patterns) if (re.test(name)) return true
    }
    return false
  }
}

/** Local part as written, domain lowercased (RFC 5321: the domain is case-insensitive). */
function normalizeEmail (text: string): string {
  const at = text.lastIndexOf('@')
  if (at === -1) return text
  const domain = text.slice(at + 1)
  const lower = domain.toLowerCase()
  return lower === domain ? text : text.slice(0, at + 1) + lower
}

function compileEmail (value: unknown, where: string): Test {
  for (const item of list(value, where)) {
    if (typeof item === 'string' && !/^[^@\s]+@[^@\s]+$/.test(item)) fail(`${where}: ${JSON.stringify(item)} is not a mailbox (local@domain)`)
  }
  const match = compileValues(value, where, normalizeEmail)
  return (cert) => {
    for (const email of cert.san.email) if (match(normalizeEmail(email))) return true
    return false
  }
}

function compileIp (value: unknown, where: string): Test {
  // One list per family: a BlockList holding IPv4 rules would also match IPv4-mapped IPv6 addresses.
  const v4 = new BlockList()
  const v6 = new BlockList()
  for (const item of list(value, where)) {
    if (typeof item !== 'string') fail(`${where}: expected an IP address or CIDR string`)
    const slash = item.indexOf('/')
    const address = slash === -1 ? item : item.slice(0, slash)
    const family = isIP(address)
    if (family === 0) fail(`${where}: ${JSON.stringify(item)} is not an IP address or CIDR block`)
    const blocks = family === 4 ? v4 : v6
    const type = family === 4 ? 'ipv4' : 'ipv6'
    if (slash === -1) {
      blocks.addAddress(address, type)
    } else {
      const prefixText = item.slice(slash + 1)
      const prefix = Number(prefixText)
      if (!/^\d{1,3}$/.test(prefixText) || prefix > (family === 4 ? 32 : 128)) fail(`${where}: ${JSON.stringify(item)} has a bad prefix length`)
      blocks.addSubnet(address, prefix, type)
    }
  }
  return (cert) => {
    for (const ip of cert.san.ip) {
      const family = isIP(ip)
      if (family === 4 ? v4.check(ip, 'ipv4') : family === 6 && v6.check(ip, 'ipv6')) return true
    }
    return false
  }
}

function compileSan (value: unknown, clauses: Clause[]): void {
  if (!isPlainObject(value)) fail('san must be an object with dns, uri, email or ip')
  const kinds = entries(value, 'san')
  if (kinds.length === 0) fail('san has no rules (omit it to have no rule)')
  for (const [key, rule] of kinds) {
    const where = `san.${key}`
    if (!SAN_KEYS.has(key)) fail(`${where}: unknown SAN kind (dns, uri, email, ip)`)
    if (key === 'dns') clauses.push({ name: where, test: compileDns(rule, where) })
    else if (key === 'email') clauses.push({ name: where, test: compileEmail(rule, where) })
    else if (key === 'ip') clauses.push({ name: where, test: compileIp(rule, where) })
    else {
      const match = compileValues(rule, where)
      clauses.push({ name: where, test: (cert) => anyOf(cert.san.uri, match) })
    }
  }
}

function compileSpiffeId (value: unknown): Clause {
  for (const item of list(value, 'spiffeId')) {
    if (typeof item === 'string' && !/^spiffe:\/\/[^/]+/.test(item)) fail(`spiffeId: ${JSON.stringify(item)} is not a spiffe:// ID`)
  }
  const match = compileValues(value, 'spiffeId')
  return { name: 'spiffeId', test: (cert) => cert.spiffeId !== null && match(cert.spiffeId) }
}

function compileFingerprints (value: unknown): Clause {
  const pins = new Set<string>()
  for (const item of list(value, 'fingerprint256')) {
    if (typeof item !== 'string') fail('fingerprint256: expected hex strings')
    const hex = item.replace(/:/g, '').toLowerCase()
    if (!/^[0-9a-f]{64}$/.test(hex)) fail(`fingerprint256: ${JSON.stringify(item)} is not a SHA-256 fingerprint (64 hex digits)`)
    pins.add(hex)
  }
  // ClientCertificate.fingerprint256 is lowercase hex without separators already.
  return { name: 'fingerprint256', test: (cert) => pins.has(cert.fingerprint256) }
}

function compilePolicies (value: unknown): Clause {
  const wanted = new Set<string>()
  for (const item of list(value, 'policies')) {
    if (typeof item !== 'string' || !/^[0-2](\.(0|[1-9]\d*))+$/.test(item)) fail(`policies: ${JSON.stringify(item)} is not a dotted OID`)
    wanted.add(item)
  }
  return { name: 'policies', test: (cert) => cert.policies.some((p) => wanted.has(p)) }
}

/**
 * Validates and compiles rules; throws FST_MTLS_INVALID_OPTION on anything unknown or unusable, so a
 * typo fails at startup rather than at request time. `where` prefixes messages (e.g. `authorize`).
 */
export function compileRules (rules: unknown, where = 'requireClientCert'): CompiledRules {
  if (rules === undefined) return { clauses: [], check: null }
  try {
    if (!isPlainObject(rules)) fail('rules must be an object')
    const clauses: Clause[] = []
    let check: ClientCertCheck | null = null
    // Cheap, precise rules first; the predicate last.
    const order = ['fingerprint256', 'spiffeId', 'san', 'subject', 'issuer', 'policies', 'check']
    const given = entries(rules, 'rules')
    for (const [key] of given) if (!RULE_KEYS.has(key)) fail(`unknown rule ${JSON.stringify(key)} (${[...RULE_KEYS].join(', ')})`)
    for (const key of order) {
      const value = rules[key]
      if (value === undefined) continue
      if (key === 'fingerprint256') clauses.push(compileFingerprints(value))
      else if (key === 'spiffeId') clauses.push(compileSpiffeId(value))
      else if (key === 'san') compileSan(value, clauses)
      else if (key === 'subject' || key === 'issuer') compileName(value, key, clauses)
      else if (key === 'policies') clauses.push(compilePolicies(value))
      else if (typeof value === 'function') check = value as ClientCertCheck
      else fail('check must be a function')
    }
    return { clauses: Object.freeze(clauses), check }
  } catch (err) {
    if (err instanceof RuleError) throw new InvalidOptionError(`${where}: ${err.message}`)
    throw err
  }
}

/** Name of the first rule the certificate fails, or null when every static rule holds. */
export function failedRule (compiled: CompiledRules, cert: ClientCertificate): string | null {
  for (const clause of compiled.clauses) if (!clause.test(cert)) return clause.name
  return null
}

function forbid (request: FastifyRequest, cert: ClientCertificate, rule: string, done: HookHandlerDoneFunction, err?: unknown): void {
  if (refusedChannel.hasSubscribers) {
    refusedChannel.publish({
      request,
      code: 'FST_MTLS_FORBIDDEN',
      reason: 'forbidden',
      albStatus: null,
      client: { subject: cert.subject, issuer: cert.issuer, serialNumber: cert.serialNumber, fingerprint256: cert.fingerprint256 },
      rule,
      identity: cert,
      cacheHit: false,
      durationMs: 0
    } satisfies MtlsRefusedMessage)
  }
  request.log.warn({
    mtls: { code: 'FST_MTLS_FORBIDDEN', rule, subject: cert.subject, fingerprint256: cert.fingerprint256 },
    ...(err === undefined ? {} : { err })
  }, 'mtls: client certificate refused by an authorization rule')
  done(new ForbiddenError())
}

/**
 * Applies compiled rules to a verified certificate and ends with `done()` or `done(403)`. Synchronous
 * without a predicate; with one, `done` runs once it settles. Never ends in a 500.
 */
export function authorize (compiled: CompiledRules, request: FastifyRequest, cert: ClientCertificate, done: HookHandlerDoneFunction): void {
  const failed = failedRule(compiled, cert)
  if (failed !== null) {
    forbid(request, cert, failed, done)
    return
  }
  const check = compiled.check
  if (check === null) {
    done()
    return
  }
  let result: unknown
  try {
    result = check(cert, request)
  } catch (err) {
    forbid(request, cert, 'check', done, err)
    return
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function') {
    Promise.resolve(result as PromiseLike<unknown>).then(
      (ok) => { if (ok === true) done(); else forbid(request, cert, 'check', done) },
      (err: unknown) => { forbid(request, cert, 'check', done, err) }
    )
    return
  }
  if (result === true) done()
  else forbid(request, cert, 'check', done)
}

/** Instances that already carry a startup check: one onReady hook per instance, however many binds. */
const startupChecked = new WeakSet<object>()

function isFastifyInstance (value: unknown): value is FastifyInstance {
  return typeof value === 'object' && value !== null &&
    typeof (value as Partial<FastifyInstance>).hasRequestDecorator === 'function' &&
    typeof (value as Partial<FastifyInstance>).addHook === 'function'
}

/** The encapsulation context, for the message: its plugin name and route prefix. */
function describeInstance (instance: FastifyInstance): string {
  const prefix = instance.prefix === '' ? '' : ` (route prefix ${JSON.stringify(instance.prefix)})`
  return `the plugin context ${JSON.stringify(instance.pluginName)}${prefix}`
}

/**
 * Makes "requireClientCert without the plugin" a startup error rather than a 500 on every request
 * (issue 14). Fastify 5 binds every route-level and instance hook to the route's instance when the
 * app boots (`h.bind(this)` in fastify/lib/route.js and lib/four-oh-four.js, in avvio's 'preReady'
 * listener); @fastify/auth binds its functions to the instance it is called on. So the guard gets an
 * own `bind` that sees that instance. When `request.clientCert` is not decorated there, it adds an
 * onReady hook to the instance that checks again once every plugin has loaded and, if still missing,
 * fails `ready()` / `listen()` with FST_MTLS_NOT_REGISTERED. The check is deferred rather than thrown
 * from `bind` because @fastify/auth binds at route declaration, possibly before a plugin registered
 * earlier in the same scope has run (an un-awaited `register`); at preReady the outcome is the same.
 * Fastify does not tell `bind` which route it is for, so the message names the plugin context.
 * Anything that is not a booting Fastify instance binds normally; the request-time 500 stays as the
 * fallback.
 */
function checkedAtStartup (guard: ClientCertGuard): ClientCertGuard {
  const bindNative = Function.prototype.bind
  Object.defineProperty(guard, 'bind', {
    configurable: true,
    enumerable: false,
    writable: true,
    value: function bind (this: ClientCertGuard, thisArg: unknown, ...args: unknown[]): unknown {
      if (isFastifyInstance(thisArg) && !thisArg.hasRequestDecorator('clientCert') && !startupChecked.has(thisArg)) {
        let added = false
        try {
          thisArg.addHook('onReady', function mtlsRegisteredCheck (this: FastifyInstance, done: (err?: Error) => void) {
            if (this.hasRequestDecorator('clientCert')) {
              done()
              return
            }
            done(new NotRegisteredError(`requireClientCert guards a route or hook of ${describeInstance(this)}, but request.clientCert ` +
              'is not decorated there: register the plugin in this context or in a parent one (registering it in a sibling ' +
              'plugin does not reach here)'))
          })
          added = true
        } catch {
          // Already started (a bind at request time, by hand): nothing can fail the boot any more; the
          // guard answers 500 FST_MTLS_NOT_REGISTERED per request instead.
        }
        if (added) startupChecked.add(thisArg)
      }
      return bindNative.call(this, thisArg, ...args)
    }
  })
  return guard
}

/**
 * A route hook that authorizes on `request.clientCert`: 401 `FST_MTLS_CERT_MISSING` without a
 * certificate, 403 `FST_MTLS_FORBIDDEN` when a rule fails (the log names the rule, the body does not).
 * Rules are validated and compiled here, once; a bad rule throws FST_MTLS_INVALID_OPTION. Used on a
 * route (or as an instance hook) where the plugin is not registered, `ready()` fails with
 * FST_MTLS_NOT_REGISTERED (see checkedAtStartup).
 */
export function requireClientCert (rules?: ClientCertRules): ClientCertGuard {
  const compiled = compileRules(rules)
  return checkedAtStartup(function requireClientCert (request, reply, done) {
    const cert = request.clientCert
    if (cert === undefined) {
      // No plugin in this app (or in this encapsulation context): no certificate was ever verified.
      // A deployment mistake, normally caught at startup (checkedAtStartup); should the guard run anyway
      // (bound by hand after boot), answer 500 and say so, instead of refusing a valid client with 401.
      const err = new NotRegisteredError(`route ${request.routeOptions.url ?? request.url} uses requireClientCert, but request.clientCert is not decorated: register the plugin in this app`)
      request.log.error({ mtls: { code: err.code } }, err.message)
      done(err)
      return
    }
    if (cert === null) {
      if (refusedChannel.hasSubscribers) {
        refusedChannel.publish({ request, code: 'FST_MTLS_CERT_MISSING', reason: 'missing', albStatus: null, client: null, cacheHit: false, durationMs: 0 } satisfies MtlsRefusedMessage)
      }
      request.log.warn({ mtls: { code: 'FST_MTLS_CERT_MISSING', reason: 'missing' } }, 'mtls: client certificate required by the route guard')
      done(new CertMissingError())
      return
    }
    authorize(compiled, request, cert, done)
  })
}
