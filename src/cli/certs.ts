/**
 * certs: a demo PKI on disk, like the AWS mTLS demo's "Generate Certificate" button plus what a
 * local ALB needs: root CA, intermediate CA, a server certificate for localhost, the trust store, and
 * client identities (`private-key.pem` + `certificate.crt`). Built with src/testing (pkijs structures,
 * node:crypto keys and signatures): no openssl binary needed.
 */
import { access, mkdir, readFile, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { createCertificate, type CertificateSpec } from '../testing/certificate.js'
import { generateKeyPair, type KeyAlgorithm, type KeyPair } from '../testing/keys.js'
import type { Issued } from '../testing/chain.js'

/** Key algorithms the demo PKI offers: the ones ALB accepts for client certificates. */
export const DEMO_ALGORITHMS = ['p-256', 'p-384', 'p-521', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const
export type DemoAlgorithm = typeof DEMO_ALGORITHMS[number]

export interface DemoPkiOptions {
  /** Output folder (created if missing). */
  dir: string
  /** Key algorithm of the CAs, the server and the main client. Default 'p-256' (fast). */
  algorithm?: DemoAlgorithm
  /** Replace existing files. Default false: refuse when any file the PKI writes already exists. */
  force?: boolean
  /** Reference time for validity periods. Default now. */
  now?: Date
}

/** One client identity in the manifest. */
export interface DemoIdentity {
  /** `demo-client` for the top-level pair, else the folder name under `clients/`. */
  name: string
  subject: string
  keyAlgorithm: KeyAlgorithm
  /** Paths relative to the PKI folder. */
  key: string
  cert: string
  notAfter: string
  /** What a strict verifier (ALB verify mode, the plugin) does with it. */
  expected: 'accepted' | 'refused'
  note: string
}

/** `manifest.json`: what was generated, for the demo runner and for people. */
export interface DemoPkiManifest {
  generatedAt: string
  algorithm: DemoAlgorithm
  rootCa: string
  intermediateCa: string
  /** The CA bundle an ALB trust store would hold (the root). */
  trustStore: string
  server: { key: string; cert: string; notAfter: string; names: string[] }
  identities: DemoIdentity[]
}

export class PkiExistsError extends Error {
  readonly files: string[]
  constructor (files: string[]) {
    const shown = files.slice(0, 3).join(', ') + (files.length > 3 ? ` and ${files.length - 3} more` : '')
    super(`refusing to overwrite existing files (use --force to replace them): ${shown}`)
    this.name = 'PkiExistsError'
    this.files = files
  }
}

const HOUR = 3600_000
const DAY = 24 * HOUR
const ORG = 'O=fastify-alb-mtls demo'
export const MANIFEST = 'manifest.json'

interface ClientPlan {
  name: string
  subject: string
  algorithm?: KeyAlgorithm
  san?: CertificateSpec['san']
  expired?: boolean
  untrusted?: boolean
  note: string
}

const CLIENTS: readonly ClientPlan[] = [
  { name: 'alice', subject: 'CN=alice,OU=Engineering,O=Example Corp', san: { email: ['alice@example.com'] }, note: 'a person: OU=Engineering, e-mail SAN' },
  {
    name: 'billing',
    subject: 'CN=billing-service,OU=Billing,O=Example Corp',
    san: { dns: ['billing.example.internal'], uri: ['spiffe://example.org/ns/prod/sa/billing'] },
    note: 'a workload: SPIFFE ID and DNS SAN'
  },
  { name: 'rsa', subject: 'CN=rsa-client,O=Example Corp', algorithm: 'rsa-2048', note: 'RSA 2048 key' },
  { name: 'ecdsa', subject: 'CN=ecdsa-client,O=Example Corp', algorithm: 'p-384', note: 'ECDSA P-384 key' },
  { name: 'expired', subject: 'CN=expired-client,O=Example Corp', expired: true, note: 'expired yesterday: refused' },
  { name: 'untrusted', subject: 'CN=mallory,O=Untrusted Corp', untrusted: true, note: 'issued by a root outside the trust store: refused' }
]

function pemChain (...certs: Issued[]): string {
  return certs.map((c) => c.pem).join('')
}

async function issue (spec: Omit<CertificateSpec, 'key'> & { key?: KeyPair }, algorithm: KeyAlgorithm, issuer?: Issued): Promise<Issued> {
  // Fresh keys: these are real files people may reuse; never share pooled test keys.
  const key = spec.key ?? await generateKeyPair(algorithm, { fresh: true })
  const cert = await createCertificate({
    ...spec,
    key,
    ...(issuer !== undefined ? { issuer: { certificate: issuer, key: issuer.key } } : {})
  })
  return { ...cert, key }
}

/** Every path (relative to the folder) the PKI writes. */
export function demoPkiFiles (): string[] {
  return [
    'root-ca.crt', 'root-ca.key', 'intermediate-ca.crt', 'intermediate-ca.key', 'trust-store.pem',
    'server.crt', 'server.key', 'private-key.pem', 'certificate.crt',
    ...CLIENTS.flatMap((c) => [`clients/${c.name}/private-key.pem`, `clients/${c.name}/certificate.crt`]),
    MANIFEST
  ]
}

async function exists (file: string): Promise<boolean> {
  return await access(file).then(() => true, () => false)
}

/** Generates the demo PKI into `options.dir`. Throws PkiExistsError rather than overwrite. */
export async function generateDemoPki (options: DemoPkiOptions): Promise<DemoPkiManifest> {
  const dir = path.resolve(options.dir)
  const algorithm = options.algorithm ?? 'p-256'
  if (!DEMO_ALGORITHMS.includes(algorithm)) throw new TypeError(`algorithm must be one of ${DEMO_ALGORITHMS.join(', ')}`)
  if (options.force !== true) {
    const present: string[] = []
    for (const file of demoPkiFiles()) if (await exists(path.join(dir, file))) present.push(path.join(dir, file))
    if (present.length > 0) throw new PkiExistsError(present)
  }
  const now = (options.now ?? new Date()).getTime()
  const from = new Date(now - HOUR)
  const year = new Date(now + 365 * DAY)

  const root = await issue({
    subject: `CN=fastify-alb-mtls Demo Root CA,${ORG}`, ca: true, notBefore: from, notAfter: new Date(now + 3650 * DAY)
  }, algorithm)
  const intermediate = await issue({
    subject: `CN=fastify-alb-mtls Demo Intermediate CA,${ORG}`, ca: { pathLength: 0 }, notBefore: from, notAfter: new Date(now + 1825 * DAY)
  }, algorithm, root)
  const serverNames = ['localhost', '127.0.0.1', '::1']
  const server = await issue({
    subject: `CN=localhost,${ORG}`,
    san: { dns: ['localhost'], ip: ['127.0.0.1', '::1'] },
    keyUsage: algorithm.startsWith('rsa-') ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
    extendedKeyUsage: ['serverAuth'],
    notBefore: from,
    notAfter: year
  }, algorithm, intermediate)

  const files = new Map<string, string>()
  const identities: DemoIdentity[] = []
  const addClient = (name: string, prefix: string, leaf: Issued, chain: string, plan: Omit<ClientPlan, 'name' | 'subject'>): void => {
    files.set(`${prefix}private-key.pem`, leaf.key.privateKeyPem)
    files.set(`${prefix}certificate.crt`, chain)
    identities.push({
      name,
      subject: leaf.subject as string,
      keyAlgorithm: leaf.key.algorithm,
      key: `${prefix}private-key.pem`,
      cert: `${prefix}certificate.crt`,
      notAfter: (leaf.spec.notAfter as Date).toISOString(),
      expected: plan.expired === true || plan.untrusted === true ? 'refused' : 'accepted',
      note: plan.note
    })
  }

  const client = await issue({
    subject: `CN=demo-client,${ORG}`, san: { dns: ['demo-client.localhost'] }, notBefore: from, notAfter: year
  }, algorithm, intermediate)
  // certificate.crt holds leaf + intermediate: clients send the chain, ALB trust stores hold the root.
  addClient('demo-client', '', client, pemChain(client, intermediate), { note: 'the AWS demo\'s "Generate Certificate" pair' })

  let otherRoot: Issued | undefined
  for (const plan of CLIENTS) {
    const keyAlgorithm = plan.algorithm ?? algorithm
    if (plan.untrusted === true) {
      otherRoot ??= await issue({ subject: 'CN=Untrusted Root CA,O=Untrusted Corp', ca: true, notBefore: from, notAfter: year }, keyAlgorithm)
    }
    const leaf = await issue({
      subject: plan.subject,
      ...(plan.san !== undefined ? { san: plan.san } : {}),
      notBefore: plan.expired === true ? new Date(now - 60 * DAY) : from,
      notAfter: plan.expired === true ? new Date(now - DAY) : year
    }, keyAlgorithm, otherRoot !== undefined && plan.untrusted === true ? otherRoot : intermediate)
    const chain = plan.untrusted === true ? pemChain(leaf) : pemChain(leaf, intermediate)
    addClient(plan.name, `clients/${plan.name}/`, leaf, chain, plan)
  }

  files.set('root-ca.crt', root.pem)
  files.set('root-ca.key', root.key.privateKeyPem)
  files.set('intermediate-ca.crt', intermediate.pem)
  files.set('intermediate-ca.key', intermediate.key.privateKeyPem)
  files.set('trust-store.pem', `# ALB trust store CA bundle: the demo root CA\n${root.pem}`)
  files.set('server.crt', pemChain(server, intermediate))
  files.set('server.key', server.key.privateKeyPem)

  const manifest: DemoPkiManifest = {
    generatedAt: new Date(now).toISOString(),
    algorithm,
    rootCa: 'root-ca.crt',
    intermediateCa: 'intermediate-ca.crt',
    trustStore: 'trust-store.pem',
    server: { key: 'server.key', cert: 'server.crt', notAfter: year.toISOString(), names: serverNames },
    identities
  }
  files.set(MANIFEST, `${JSON.stringify(manifest, null, 2)}\n`)

  for (const [file, text] of files) {
    const target = path.join(dir, file)
    await mkdir(path.dirname(target), { recursive: true })
    const secret = /(\.key|private-key\.pem)$/.test(file)
    await writeFile(target, text, { flag: options.force === true ? 'w' : 'wx', mode: secret ? 0o600 : 0o644 })
  }
  return manifest
}

/** Reads `manifest.json` of a demo PKI; null when the folder holds none. */
export async function readDemoPki (dir: string): Promise<DemoPkiManifest | null> {
  let text: string
  try {
    text = await readFile(path.join(dir, MANIFEST), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw err
  }
  return JSON.parse(text) as DemoPkiManifest
}
