/**
 * `npm run demo` end to end: the runner generates a PKI, starts the apps and the emulator, answers
 * the AWS demo's requests, and exits 0 on SIGINT.
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

async function get (port: number, pki: string, id: boolean | string, urlPath = '/'): Promise<{ status: number, body: string }> {
  const dir = typeof id === 'string' ? `clients/${id}/` : ''
  const [ca, key, cert] = await Promise.all(['root-ca.crt', `${dir}private-key.pem`, `${dir}certificate.crt`].map(async (f) => await readFile(path.join(pki, f), 'utf8')))
  return await new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', servername: 'localhost', port, path: urlPath, ca, ...(id !== false ? { key, cert } : {}), agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    }).on('error', reject)
  })
}

test('npm run demo: generates the PKI, prints the curl walk-through, serves both ALB modes and the rfc9440 and xfcc sources, stops on SIGINT with 0', async () => {
  const pki = path.join(await mkdtemp(path.join(tmpdir(), 'demo-run-')), 'demo-pki')
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
    const verifyPort = Number(/verify +https:\/\/localhost:(\d+)/.exec(stdout)?.[1])
    const passthroughPort = Number(/passthrough +https:\/\/localhost:(\d+)/.exec(stdout)?.[1])
    assert.ok(verifyPort > 0 && passthroughPort > 0)
    assert.match(stdout, new RegExp(`curl -v https://localhost:${verifyPort} --cacert root-ca.crt --key private-key.pem --cert certificate.crt`))
    assert.match(stdout, new RegExp(`curl -v https://localhost:${passthroughPort} --cacert root-ca.crt --key private-key.pem --cert certificate.crt`))

    await assert.rejects(get(verifyPort, pki, false))
    const verified = await get(verifyPort, pki, true)
    assert.equal(verified.status, 200)
    const verifiedBody = JSON.parse(verified.body)
    assert.equal(verifiedBody.identity.subject, 'CN=demo-client,O=fastify-alb-mtls demo')
    assert.equal(verifiedBody.identity.verifiedBy, 'load-balancer')
    assert.equal(verifiedBody.headers['x-amzn-mtls-clientcert-subject'], 'CN=demo-client,O=fastify-alb-mtls demo')
    const passed = await get(passthroughPort, pki, true)
    assert.equal(passed.status, 200)
    assert.equal(JSON.parse(passed.body).identity.subject, 'CN=demo-client,O=fastify-alb-mtls demo')
    assert.equal((await get(passthroughPort, pki, false)).status, 401)
    // The guarded route: demo-client is not in OU=Engineering.
    assert.equal((await get(passthroughPort, pki, true, '/engineering')).status, 403)
    // Refusals print their reason on their own line (issue 14): plugin refusals and handshake refusals.
    assert.equal((await get(passthroughPort, pki, 'expired')).status, 401)
    assert.equal((await get(passthroughPort, pki, 'untrusted')).status, 401)
    await assert.rejects(get(verifyPort, pki, 'expired'))
    const waitFor = async (re: RegExp): Promise<void> => {
      // The log lines are written by the child as the requests end; give them a moment, never hang.
      for (let i = 0; i < 500 && !re.test(stderr); i++) await new Promise((resolve) => setTimeout(resolve, 20))
      assert.match(stderr, re)
    }
    await waitFor(/passthrough app: refused GET \/: expired \(ALB: ClientCertExpired\) client="CN=expired-client,O=Example Corp"/)
    await waitFor(/passthrough app: refused GET \/: untrusted \(ALB: ClientCertUntrusted\) client="CN=mallory,O=Untrusted Corp"/)
    await waitFor(/passthrough app: refused GET \/engineering: forbidden rule=subject.OU/)
    // Verify mode refuses in the handshake, as ALB does; the reason is what OpenSSL reports.
    await waitFor(/alb verify :\d+ TLS handshake refused: /)

    // The non-ALB sources (issue 15): the rfc9440 and xfcc listeners serve the same identity.
    for (const source of ['rfc9440', 'xfcc']) {
      const port = Number(new RegExp(`${source} +https://localhost:(\\d+)`).exec(stdout)?.[1])
      assert.ok(port > 0, stdout)
      const res = await get(port, pki, true)
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
  assert.match(stdout, /SIGINT: stopping\nstopped\n/)
})
