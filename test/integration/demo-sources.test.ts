/**
 * `npm run demo` shows the non-ALB sources too: its rfc9440 and xfcc listeners answer with an
 * identity whose `source` names them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import https from 'node:https'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repo = fileURLToPath(new URL('../..', import.meta.url))

async function get (port: number, pki: string): Promise<{ status: number, body: string }> {
  const [ca, key, cert] = await Promise.all(['root-ca.crt', 'private-key.pem', 'certificate.crt'].map(async (f) => await readFile(path.join(pki, f), 'utf8')))
  return await new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', servername: 'localhost', port, path: '/', ca, key, cert, agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

test('npm run demo: the rfc9440 and xfcc listeners serve the same identity through another source', async () => {
  const pki = path.join(await mkdtemp(path.join(tmpdir(), 'demo-sources-')), 'demo-pki')
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/demo.ts', '--pki', pki, '--verify-port', '0', '--passthrough-port', '0'], {
    cwd: repo, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (c: Buffer) => {
        stdout += c.toString()
        if (stdout.includes('Ctrl-C stops everything')) resolve()
      })
      exited.then((code) => reject(new Error(`demo exited early (${String(code)}): ${stderr}`)), reject)
    })
    for (const source of ['rfc9440', 'xfcc']) {
      const port = Number(new RegExp(`${source} +https://localhost:(\\d+)`).exec(stdout)?.[1])
      assert.ok(port > 0, stdout)
      const res = await get(port, pki)
      assert.equal(res.status, 200, res.body)
      const body = JSON.parse(res.body)
      assert.equal(body.identity.source, source)
      assert.equal(body.identity.subject, 'CN=demo-client,O=fastify-alb-mtls demo')
    }
  } finally {
    child.kill('SIGINT')
    assert.equal(await exited, 0, stderr)
    await rm(path.dirname(pki), { recursive: true, force: true })
  }
})
