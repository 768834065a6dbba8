/**
 * rfc2253: distinguished names as text (what ALB verify mode sends in `X-Amzn-Mtls-Clientcert-Issuer`
 * and `-Subject`, printed like OpenSSL's `-nameopt RFC2253`) -> attributes, and comparison with the
 * name parsed from the certificate. Comparison is attribute by attribute after unescaping, never on
 * raw strings: `\XX` escapes are UTF-8 bytes, `\,` `\+` `\"` ... are literal characters, `#hex` is the
 * DER of a value OpenSSL does not print as text.
 */
import * as asn1js from 'asn1js'
import { attributeOid, type Rdns } from './names.js'

export interface TextAttribute {
  /** The attribute type as written (`CN`, `street`, `2.5.4.3`, ...). */
  readonly type: string
  /** Its OID, or null when the short name is unknown here (then only the value is compared). */
  readonly oid: string | null
  /** Unescaped text, or lowercase hex of the DER when `hex`. */
  readonly value: string
  readonly hex: boolean
}

/** OpenSSL short and long names that names.ts does not know. */
const EXTRA_NAMES: Record<string, string> = {
  COMMONNAME: '2.5.4.3',
  COUNTRYNAME: '2.5.4.6',
  LOCALITYNAME: '2.5.4.7',
  STATEORPROVINCENAME: '2.5.4.8',
  STREETADDRESS: '2.5.4.9',
  ORGANIZATIONNAME: '2.5.4.10',
  ORGANIZATIONALUNITNAME: '2.5.4.11',
  SURNAME: '2.5.4.4',
  GIVENNAME: '2.5.4.42',
  DESCRIPTION: '2.5.4.13',
  BUSINESSCATEGORY: '2.5.4.15',
  POSTALADDRESS: '2.5.4.16',
  POSTALCODE: '2.5.4.17',
  POSTOFFICEBOX: '2.5.4.18',
  NAME: '2.5.4.41',
  INITIALS: '2.5.4.43',
  GENERATIONQUALIFIER: '2.5.4.44',
  X500UNIQUEIDENTIFIER: '2.5.4.45',
  USERID: '0.9.2342.19200300.100.1.1',
  DOMAINCOMPONENT: '0.9.2342.19200300.100.1.25',
  EMAIL: '1.2.840.113549.1.9.1',
  JURISDICTIONL: '1.3.6.1.4.1.311.60.2.1.1',
  JURISDICTIONST: '1.3.6.1.4.1.311.60.2.1.2',
  JURISDICTIONC: '1.3.6.1.4.1.311.60.2.1.3'
}

function oidOf (type: string): string | null {
  const bare = type.replace(/^oid\./i, '')
  return attributeOid(bare) ?? EXTRA_NAMES[bare.toUpperCase()] ?? null
}

const HEX = /^[0-9a-fA-F]{2}$/
const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Parses RFC 2253/4514 text into RDNs in text order (the last RDN of the DER first). Returns null on
 * text that is not a distinguished name. The empty string is the empty name.
 */
export function parseDistinguishedName (text: string): TextAttribute[][] | null {
  const rdns: TextAttribute[][] = []
  if (text === '') return rdns
  let i = 0
  let rdn: TextAttribute[] = []
  while (i <= text.length) {
    // attribute type
    const eq = text.indexOf('=', i)
    if (eq === -1) return null
    const type = text.slice(i, eq).trim()
    if (!/^([A-Za-z][A-Za-z0-9-]*|(oid\.)?\d+(\.\d+)+)$/i.test(type)) return null
    i = eq + 1
    let value: string
    let hex = false
    if (text[i] === '#') {
      const m = /^#((?:[0-9a-fA-F]{2})+)/.exec(text.slice(i))
      if (m === null) return null
      value = m[1]!.toLowerCase()
      hex = true
      i += m[0].length
      while (text[i] === ' ') i++
    } else {
      const bytes: number[] = []
      let keep = 0 // bytes up to the last escaped or non-space character
      let started = false
      for (; i < text.length; i++) {
        const c = text[i]!
        if (c === ',' || c === '+') break
        if (c === '\\') {
          const pair = text.slice(i + 1, i + 3)
          if (HEX.test(pair)) {
            bytes.push(parseInt(pair, 16))
            i += 2
          } else {
            const next = text[i + 1]
            if (next === undefined) return null
            bytes.push(...Buffer.from(next, 'utf8'))
            i += 1
          }
          started = true
          keep = bytes.length
          continue
        }
        if (c === ' ' && !started) continue
        const code = text.codePointAt(i)!
        const char = String.fromCodePoint(code)
        if (char.length === 2) i++
        bytes.push(...Buffer.from(char, 'utf8'))
        started = true
        if (c !== ' ') keep = bytes.length
      }
      try {
        value = utf8.decode(Uint8Array.from(bytes.slice(0, keep)))
      } catch {
        return null
      }
    }
    rdn.push({ type, oid: oidOf(type), value, hex })
    if (i >= text.length) {
      rdns.push(rdn)
      break
    }
    const sep = text[i]
    if (sep === ',') {
      rdns.push(rdn)
      rdn = []
    } else if (sep !== '+') {
      return null
    }
    i++
    if (i === text.length) return null // trailing separator
  }
  return rdns
}

function fold (value: string): string {
  return value.trim().replace(/\s+/g, ' ').toLowerCase()
}

/** Text of a `#hex` string-typed DER value, or null. */
function hexText (hex: string): string | null {
  const der = Buffer.from(hex, 'hex')
  const parsed = asn1js.fromBER(der)
  if (parsed.offset !== der.length) return null
  const block = parsed.result as { valueBlock?: { value?: unknown } }
  const value = block.valueBlock?.value
  return typeof value === 'string' ? value : null
}

function attributeMatches (text: TextAttribute, cert: { oid: string, value: string, isString: boolean }): boolean {
  if (text.oid !== null && text.oid !== cert.oid) return false
  if (!cert.isString) return text.hex && text.value === cert.value.slice(1).toLowerCase()
  if (!text.hex) return fold(text.value) === fold(cert.value)
  const decoded = hexText(text.value)
  return decoded !== null && fold(decoded) === fold(cert.value)
}

/**
 * True when the text names the same attributes, RDN by RDN, as the certificate's name. String
 * values compare with whitespace folded and case ignored, as RFC 5280 7.1 name matching does.
 */
export function sameDistinguishedName (text: readonly (readonly TextAttribute[])[], cert: Rdns): boolean {
  if (text.length !== cert.length) return false
  for (let i = 0; i < cert.length; i++) {
    const certRdn = cert[i]!
    const textRdn = [...text[text.length - 1 - i]!]
    if (textRdn.length !== certRdn.length) return false
    for (const attribute of certRdn) {
      const at = textRdn.findIndex((t) => attributeMatches(t, attribute))
      if (at === -1) return false
      textRdn.splice(at, 1)
    }
  }
  return true
}
