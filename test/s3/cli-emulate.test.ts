/**
 * `fastify-alb-mtls emulate --trust-store s3://...`: the local ALB reads its CA bundle from S3
 * (s3rver on 127.0.0.1) and follows it, so the emulator and the app read the same object.
 */
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import http from 'node:http'
import https from 'node:https'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { main } from '../../src/cli/main.js'
import { generateDemoPki } from '../../src/cli/certs.js'
import { BUCKET, CREDENTIALS, startS3, type TestS3 } from './server.js'

let s3: TestS3
let dir: string
let target: http.Server
let targetUrl: string

interface Identity { key: string, cert: string }

async function identity (pki: string): Promise<Identity> {
  return { key: await readFile(path.join(pki, 'private-key.pem'), 'utf8'), cert: await readFile(path.join(pki, 'certificate.crt'), 'utf8') }
}

async function status (port: number, ca: string, id: Identity): Promise<number | string> {
  return await new Promise((resolve) => {
    const req = https.request({ host: '127.0.0.1', servername: 'localhost', port, ca, key: id.key, cert: id.cert, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
    req.end()
  })
}

before(async () => {
  s3 = await startS3()
  dir = await mkdtemp(path.join(tmpdir(), 'alb-emulator-s3-'))
  await generateDemoPki({ dir: path.join(dir, 'a') })
  await generateDemoPki({ dir: path.join(dir, 'b') })
  target = http.createServer((request, response) => response.end(String(request.headers['x-amzn-mtls-clientcert-subject'] ?? '')))
  await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
  targetUrl = `http://127.0.0.1:${(target.address() as AddressInfo).port}`
})

after(async () => {
  await new Promise((resolve) => target.close(resolve))
  await s3.close()
  await rm(dir, { recursive: true, force: true })
})

test('the verify listener trusts the CA bundle in S3 and follows its rotation', async () => {
  const a = path.join(dir, 'a')
  const b = path.join(dir, 'b')
  const serverCa = await readFile(path.join(a, 'root-ca.crt'), 'utf8')
  await s3.put('cli/ca-bundle.pem', await readFile(path.join(a, 'trust-store.pem')))
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY }
  // Credentials come from the SDK's default chain: here, the environment.
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey
  let out = ''
  let err = ''
  let exit: Promise<number> = Promise.resolve(-1)
  const listening = new Promise<number>((resolve) => {
    const io = {
      out: (text: string) => {
        out += text
        const m = /verify listener on https:\/\/127\.0\.0\.1:(\d+)/.exec(out)
        if (m !== null) resolve(Number(m[1]))
      },
      err: (text: string) => { err += text }
    }
    exit = main(['emulate', '--pki', a, '--trust-store', `s3://${BUCKET}/cli/ca-bundle.pem`, '--s3-endpoint', s3.endpoint, '--s3-poll', '1',
      '--verify-port', '0', '--passthrough-port=-1', '--target', targetUrl], io)
  })
  try {
    const port = await Promise.race([listening, exit.then((code) => { throw new Error(`emulate exited with ${code}: ${err}`) })])
    assert.match(out, /checked every 1 s/)
    assert.equal(await status(port, serverCa, await identity(a)), 200)
    assert.notEqual(await status(port, serverCa, await identity(b)), 200)

    // Rotation: the bundle of PKI b replaces PKI a's. Wait (bounded) for a poll that fetched it.
    const before = s3.seen.length
    await s3.put('cli/ca-bundle.pem', await readFile(path.join(b, 'trust-store.pem')))
    for (let i = 0; i < 100 && !s3.seen.slice(before).some((s) => s.method === 'GET' && s.status === 200); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    let verdict: number | string = 0
    for (let i = 0; i < 20 && verdict !== 200; i++) {
      verdict = await status(port, serverCa, await identity(b))
      if (verdict !== 200) await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(verdict, 200)
    assert.notEqual(await status(port, serverCa, await identity(a)), 200)
  } finally {
    process.emit('SIGINT')
    assert.equal(await exit, 0, err)
    process.env.AWS_ACCESS_KEY_ID = saved.id
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY
  }
})

test('--s3-* options need an s3:// trust store; a missing object fails at start', async () => {
  let err = ''
  const io = { out: () => {}, err: (text: string) => { err += text } }
  assert.equal(await main(['emulate', '--s3-endpoint', s3.endpoint], io), 2)
  assert.match(err, /need --trust-store s3:/)
  err = ''
  process.env.AWS_ACCESS_KEY_ID = CREDENTIALS.accessKeyId
  process.env.AWS_SECRET_ACCESS_KEY = CREDENTIALS.secretAccessKey
  try {
    assert.equal(await main(['emulate', '--pki', path.join(dir, 'a'), '--trust-store', `s3://${BUCKET}/cli/missing.pem`, '--s3-endpoint', s3.endpoint], io), 1)
    assert.match(err, /missing\.pem.*not found/)
  } finally {
    delete process.env.AWS_ACCESS_KEY_ID
    delete process.env.AWS_SECRET_ACCESS_KEY
  }
})
