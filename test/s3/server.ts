/**
 * A real S3-compatible server for the tests: s3rver (Koa, file-system store) on 127.0.0.1. It knows
 * one access key, S3RVER (an unknown one is refused with 403; SigV4 signatures are not checked).
 * Test hooks run in front of its own middleware: a request log (method, key, versionId,
 * If-None-Match, status), a gate that holds GETs back to play a slow server, and a body breaker
 * (half a body, then a cut connection or a stall). s3rver does not implement bucket versioning: it ignores
 * `versionId` and serves the current object, so tests can only see that the loader asks for it.
 * Its file-system store writes an object's body and its metadata (ETag) one after the other, so a
 * GET during a PUT can pair the old body with the new ETag, which S3 never does (a PUT is atomic):
 * the helper's writes wait for GETs in flight and hold new ones back until they are done.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import S3rver from 's3rver'
import { DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'

export const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }
export const BUCKET = 'alb-trust'

export interface Seen { method: string, path: string, versionId: string | undefined, ifNoneMatch: string | undefined, status: number }

export interface TestS3 {
  endpoint: string
  port: number
  seen: Seen[]
  put (key: string, body: string | Uint8Array): Promise<string>
  remove (key: string): Promise<void>
  /** Holds every GET until the returned function is called. */
  hold (): () => void
  /**
   * The next 200 GET of `key` sends half its body under the full Content-Length and then ends the
   * connection ('truncate') or stops sending until released ('stall'). Returns the release.
   */
  breakNext (key: string, how: 'truncate' | 'stall'): () => void
  stop (): Promise<void>
  /** Starts again on the same port with the same objects. */
  restart (): Promise<void>
  close (): Promise<void>
}

export async function startS3 (): Promise<TestS3> {
  const directory = mkdtempSync(join(tmpdir(), 'fastify-alb-mtls-s3-'))
  const seen: Seen[] = []
  let gate: Promise<void> | null = null
  let broken: { path: string, how: 'truncate' | 'stall', release: Promise<void> } | null = null
  let port = 0
  let server: S3rver | null = null
  let writing: Promise<unknown> | null = null
  let active = 0
  let idle: Array<() => void> = []
  const writeDone = async (): Promise<void> => {
    // eslint-disable-next-line no-unmodified-loop-condition -- changed by the awaited write
    while (writing !== null) await writing.catch(() => {})
  }
  const exclusive = async <T>(write: () => Promise<T>): Promise<T> => {
    await writeDone()
    const run = (async () => {
      // eslint-disable-next-line no-unmodified-loop-condition -- changed by the GETs in flight
      while (active > 0) await new Promise<void>((resolve) => idle.push(resolve))
      return await write()
    })()
    writing = run
    try {
      return await run
    } finally {
      writing = null
    }
  }
  const start = async (): Promise<void> => {
    const s = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: [{ name: BUCKET }] })
    s.middleware.unshift(async (ctx, next) => {
      if (ctx.method === 'GET' && gate !== null) await gate
      if (ctx.method === 'GET') {
        // The check and the count in one synchronous step (no await between them).
        // eslint-disable-next-line no-unmodified-loop-condition -- changed by the awaited write
        while (writing !== null) await writing.catch(() => {})
        active++
      }
      try {
        await next()
      } finally {
        if (ctx.method === 'GET' && --active === 0) {
          const ready = idle
          idle = []
          for (const resolve of ready) resolve()
        }
      }
      if (broken !== null && ctx.method === 'GET' && ctx.status === 200 && ctx.path === broken.path) {
        const { how, release } = broken
        broken = null
        const chunks: Buffer[] = []
        for await (const chunk of ctx.body as AsyncIterable<Buffer>) chunks.push(chunk)
        const whole = Buffer.concat(chunks)
        const body = new PassThrough()
        ctx.body = body
        ctx.length = whole.length
        body.write(whole.subarray(0, whole.length >> 1))
        // Cut the connection once the half is on its way: the client has fewer bytes than announced.
        if (how === 'truncate') setTimeout(() => ctx.res.destroy(), 20)
        else release.then(() => body.destroy(), () => {})
      }
      seen.push({ method: ctx.method, path: ctx.path, versionId: ctx.query.versionId, ifNoneMatch: ctx.headers['if-none-match'], status: ctx.status })
    })
    port = (await s.run()).port
    server = s
  }
  await start()
  const endpoint = `http://127.0.0.1:${port}`
  const client = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: CREDENTIALS, maxAttempts: 1 })
  return {
    endpoint,
    port,
    seen,
    async put (key, body) {
      const out = await exclusive(async () => await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body })))
      return out.ETag!
    },
    async remove (key) {
      await exclusive(async () => await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key })))
    },
    hold () {
      let release!: () => void
      gate = new Promise((resolve) => { release = resolve })
      return () => {
        gate = null
        release()
      }
    },
    breakNext (key, how) {
      let release!: () => void
      broken = { path: `/${BUCKET}/${key}`, how, release: new Promise((resolve) => { release = resolve }) }
      return () => release()
    },
    async stop () {
      await server?.close()
      server = null
    },
    async restart () {
      if (server === null) await start()
    },
    async close () {
      client.destroy()
      if (server !== null) await server.close()
      rmSync(directory, { recursive: true, force: true })
    }
  }
}
