/**
 * A PKI built the way many teams build theirs: with the `openssl` command line (`openssl req`,
 * `openssl ca`, `openssl ca -revoke`, `openssl ca -gencrl`), for RSA, ECDSA P-384, Ed25519 and
 * RSA-PSS keys. Nothing here comes from the project's certificate factory, so it checks the
 * reader and the verifier against another producer's encodings. The verdicts must agree with
 * `openssl verify -x509_strict -crl_check_all -extended_crl` in both ALB modes, including CRLs
 * without cRLNumber (what `openssl ca -gencrl` writes when the config names no crlnumber file;
 * refused by default, used with `crlPolicy: { requireCrlNumber: false }`),
 * entries with reason codes, invalidity dates and certificateHold, and a partitioned CRL
 * (issuingDistributionPoint). Skipped when the openssl binary is absent.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createAlbVerifyVerifier, createVerifier, readAlbVerifyHeaders } from '../src/index.js'
import { verifyHeaders } from '../src/cli/alb-headers.js'
import { OPENSSL_VERSION } from './helpers/openssl.js'

const version = OPENSSL_VERSION

const CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = $dir/index-$ENV::NAME.txt
new_certs_dir = $dir/new
serial = $dir/serial-$ENV::NAME
NUMBERED
default_md = default
policy = pol
default_days = 365
default_crl_days = 30
unique_subject = no
[ pol ]
commonName = supplied
organizationName = optional
[ v3_root ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_int ]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
crlDistributionPoints = URI:http://crl.example.test/int.crl
[ v3_leaf ]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid,issuer
subjectAltName = DNS:client.example.test
crlDistributionPoints = URI:http://crl.example.test/int.crl
[ crl_aki ]
authorityKeyIdentifier = keyid:always
[ crl_idp ]
authorityKeyIdentifier = keyid:always
issuingDistributionPoint = critical,@idp
[ idp ]
fullname = URI:http://crl.example.test/int.crl
onlyuser = TRUE
`

const KEYS = {
  rsa: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'],
  'ecdsa-p384': ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-384'],
  ed25519: ['-algorithm', 'ED25519'],
  'rsa-pss': ['-algorithm', 'RSA-PSS', '-pkeyopt', 'rsa_keygen_bits:2048']
} as const
type KeyType = keyof typeof KEYS

/** The leaves and how each ends up on the intermediate's CRLs. */
const LEAVES = {
  good: null,
  'key-compromise': ['-crl_compromise', '20260101000000Z'],
  hold: ['-crl_hold', 'holdInstructionReject'],
  'no-reason': []
} as const
type LeafName = keyof typeof LEAVES

/** CRL sets handed to both verifiers: the root's CRL (for the intermediate) and the intermediate's. */
const CRL_SETS = {
  'numbered with AKI': ['root-aki.crl', 'int-aki.crl'],
  'no cRLNumber (v1 root CRL)': ['root-plain.crl', 'int-plain.crl'],
  'partitioned (issuingDistributionPoint, onlyContainsUserCerts)': ['root-aki.crl', 'int-idp.crl']
} as const

let work: string
before(() => { work = mkdtempSync(join(tmpdir(), 'mtls-openssl-ca-')) })
after(() => { if (work !== undefined) rmSync(work, { recursive: true, force: true }) })

function buildPki (type: KeyType): string {
  const dir = join(work, type)
  mkdirSync(join(dir, 'new'), { recursive: true })
  writeFileSync(join(dir, 'numbered.cnf'), CONFIG.replace('NUMBERED', 'crlnumber = $dir/crlnumber-$ENV::NAME'))
  writeFileSync(join(dir, 'plain.cnf'), CONFIG.replace('NUMBERED', ''))
  for (const name of ['root', 'int']) {
    writeFileSync(join(dir, `index-${name}.txt`), '')
    writeFileSync(join(dir, `serial-${name}`), name === 'root' ? '1000\n' : '2000\n')
    writeFileSync(join(dir, `crlnumber-${name}`), '01\n')
  }
  const run = (name: string, args: string[], config = 'numbered.cnf'): void => {
    const withConfig = args[0] === 'genpkey' ? args : [...args, '-config', config]
    const r = spawnSync('openssl', withConfig, { cwd: dir, encoding: 'utf8', env: { ...process.env, NAME: name } })
    if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: ${r.stderr}`)
  }
  const key = (file: string): void => run('root', ['genpkey', ...KEYS[type], '-out', file])
  const ca = (name: string, extra: string[], config?: string): void =>
    run(name, ['ca', '-batch', '-cert', `${name}.pem`, '-keyfile', `${name}.key`, ...extra], config)

  key('root.key')
  run('root', ['req', '-new', '-x509', '-key', 'root.key', '-subj', `/CN=OpenSSL Root ${type}/O=Test`, '-days', '3650', '-extensions', 'v3_root', '-out', 'root.pem'])
  key('int.key')
  run('root', ['req', '-new', '-key', 'int.key', '-subj', `/CN=OpenSSL Issuing CA ${type}/O=Test`, '-out', 'int.csr'])
  ca('root', ['-in', 'int.csr', '-extensions', 'v3_int', '-notext', '-out', 'int.pem'])
  for (const leaf of Object.keys(LEAVES)) {
    key(`${leaf}.key`)
    run('int', ['req', '-new', '-key', `${leaf}.key`, '-subj', `/CN=${leaf}/O=Test`, '-out', `${leaf}.csr`])
    ca('int', ['-in', `${leaf}.csr`, '-extensions', 'v3_leaf', '-notext', '-out', `${leaf}.pem`])
  }
  // The root's CRLs are empty: without cRLNumber (and so without any extension) it is a v1 CRL.
  ca('root', ['-gencrl', '-out', 'root-plain.crl'], 'plain.cnf')
  ca('root', ['-gencrl', '-crlexts', 'crl_aki', '-out', 'root-aki.crl'])
  for (const [leaf, how] of Object.entries(LEAVES)) if (how !== null) ca('int', ['-revoke', `${leaf}.pem`, ...how])
  ca('int', ['-gencrl', '-out', 'int-plain.crl'], 'plain.cnf')
  ca('int', ['-gencrl', '-crlexts', 'crl_aki', '-out', 'int-aki.crl'])
  ca('int', ['-gencrl', '-crlexts', 'crl_idp', '-out', 'int-idp.crl'])
  return dir
}

function opensslAccepts (dir: string, leaf: LeafName, crls: readonly string[]): boolean {
  const args = ['verify', '-x509_strict', '-purpose', 'sslclient', '-CAfile', 'root.pem', '-untrusted', 'int.pem', '-crl_check_all', '-extended_crl']
  for (const crl of crls) args.push('-CRLfile', crl)
  return spawnSync('openssl', [...args, `${leaf}.pem`], { cwd: dir }).status === 0
}

const derOf = (pem: string): Uint8Array => new Uint8Array(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'))

for (const type of Object.keys(KEYS) as KeyType[]) {
  test(`an openssl-built ${type} PKI: verdicts agree with openssl verify in both ALB modes`, { skip: version === null ? 'openssl not found' : false }, () => {
    const dir = buildPki(type)
    const read = (file: string): string => readFileSync(join(dir, file), 'utf8')
    const plainRoot = read('root-plain.crl')
    assert.doesNotMatch(execFileSync('openssl', ['crl', '-noout', '-text'], { input: plainRoot, encoding: 'utf8' }), /CRL extensions/, 'the root CRL without cRLNumber carries no extension')
    const seen: string[] = []
    for (const [set, files] of Object.entries(CRL_SETS)) {
      const crls = files.map(read)
      const unnumbered = set.startsWith('no cRLNumber')
      if (unnumbered) {
        // Refused by default (RFC 5280 5.2.3 MUST), with the setting that accepts it in the message.
        assert.throws(() => createVerifier({ roots: read('root.pem'), crls }), /has no cRLNumber.*requireCrlNumber: false/)
      }
      const options = { roots: read('root.pem'), crls, crlPolicy: { onMissing: 'reject' as const, requireCrlNumber: !unnumbered } }
      const passthrough = createVerifier(options)
      const verify = createAlbVerifyVerifier({ ...options, intermediates: read('int.pem') })
      for (const leaf of Object.keys(LEAVES) as LeafName[]) {
        const expected = opensslAccepts(dir, leaf, files)
        const a = passthrough.verifySync(encodeURIComponent(read(`${leaf}.pem`) + read('int.pem')))
        const headers = Object.fromEntries(Object.entries(verifyHeaders(derOf(read(`${leaf}.pem`)))).map(([k, v]) => [k.toLowerCase(), v]))
        const b = verify.verifySync(readAlbVerifyHeaders(headers))
        const label = `${type}, ${set}, ${leaf}`
        assert.equal(a.ok, expected, `${label} (passthrough): ${a.ok ? 'accepted' : `${a.reason}: ${a.message}`}, openssl ${expected ? 'accepts' : 'refuses'}`)
        assert.equal(b.ok, expected, `${label} (verify mode): ${b.ok ? 'accepted' : `${b.reason}: ${b.message}`}, openssl ${expected ? 'accepts' : 'refuses'}`)
        if (!a.ok) assert.equal(a.reason, 'revoked', label)
        seen.push(`${leaf}:${expected ? 'accept' : 'refuse'}`)
      }
    }
    // The scenario is not vacuous: only the good leaf is accepted, under every CRL set.
    assert.deepEqual([...new Set(seen)].sort(), ['good:accept', 'hold:refuse', 'key-compromise:refuse', 'no-reason:refuse'])
  })
}
