/**
 * s3-client: the only module that touches `@aws-sdk/client-s3`, an optional peer dependency loaded
 * with a dynamic import the first time an S3 trust store is created. Users who never use S3
 * install nothing; users who do and forgot get an error that says what to install.
 *
 * One operation: a conditional GetObject (RFC 9110 section 13.1.2, `If-None-Match` with the ETag
 * of the copy in hand, so an unchanged object costs a 304 and no body), optionally of a pinned
 * `versionId`, with a deadline covering the request and the whole body, and the body decoded as it
 * streams (s3-body.ts).
 */
import { decodeBody, ObjectBodyError, type DecodedObject } from './s3-body.js'

/** An S3 object: bucket, key and optionally a pinned version. */
export interface S3ObjectRef {
  readonly bucket: string
  readonly key: string
  /** Pinned version (needs `s3:GetObjectVersion`). Omitted: the current version. */
  readonly versionId?: string
}

export type S3FaultKind = 'not-found' | 'access-denied' | 'timeout' | 'unreachable' | 'too-large' | 'bad-body' | 'error'

/** A fetch that did not produce a usable object. `kind` is stable; `message` is for logs. */
export class S3FetchError extends Error {
  constructor (readonly kind: S3FaultKind, message: string) {
    super(message)
  }
}

export type GetResult =
  | { readonly modified: false }
  | { readonly modified: true, readonly etag: string | undefined, readonly versionId: string | undefined, readonly body: DecodedObject }

export interface GetOptions {
  /** ETag of the copy in hand: a 304 answers `{ modified: false }`. */
  ifNoneMatch?: string
  /** PEM label expected in the body (`CERTIFICATE`, `X509 CRL`). */
  label: string
  maxBytes: number
  /** Deadline for the request and the whole body, ms. */
  timeout: number
}

export interface ObjectFetcher {
  get (ref: S3ObjectRef, options: GetOptions): Promise<GetResult>
  destroy (): void
}

/** What an S3 client must offer: `send` with an abort signal (an `S3Client` of `@aws-sdk/client-s3` v3). */
export interface S3ClientLike {
  send (command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>
  destroy? (): void
}

export interface S3ConnectionOptions {
  /**
   * Endpoint of an S3-compatible store (MinIO, Ceph, LocalStack, ...) or a VPC endpoint, e.g.
   * `http://127.0.0.1:9000`. Default: AWS S3 of the region.
   */
  endpoint?: string
  /** Default: the SDK's default chain (`AWS_REGION`, profile); `us-east-1` when only `endpoint` is given. */
  region?: string
  /** Path-style URLs (`endpoint/bucket/key`). Default true with `endpoint`, false without. */
  forcePathStyle?: boolean
  /** Static credentials. Default: the SDK's default credential chain (environment, profile, IMDS, ECS, web identity). */
  credentials?: { accessKeyId: string, secretAccessKey: string, sessionToken?: string }
  /** SDK attempts per request (retries with backoff inside the deadline). Default 3. */
  maxAttempts?: number
  /** A client you configured yourself (an `S3Client`); the options above are then ignored. */
  client?: S3ClientLike
}

type SdkModule = typeof import('@aws-sdk/client-s3')

let sdk: Promise<SdkModule> | undefined

/** Loads the optional peer dependency once. */
async function loadSdk (): Promise<SdkModule> {
  sdk ??= import('@aws-sdk/client-s3').catch((err: NodeJS.ErrnoException) => {
    sdk = undefined
    if (err.code === 'ERR_MODULE_NOT_FOUND') {
      throw new S3FetchError('error', 'fastify-alb-mtls/s3 needs the optional peer dependency @aws-sdk/client-s3: npm install @aws-sdk/client-s3')
    }
    throw err
  })
  return await sdk
}

interface SdkError {
  name?: string
  code?: string
  message?: string
  $metadata?: { httpStatusCode?: number }
}

function classify (err: unknown, ref: S3ObjectRef, signal: AbortSignal): S3FetchError {
  if (err instanceof S3FetchError) return err
  const where = `s3://${ref.bucket}/${ref.key}${ref.versionId !== undefined ? `?versionId=${ref.versionId}` : ''}`
  if (err instanceof ObjectBodyError) {
    return new S3FetchError(/larger|exceeds/.test(err.message) ? 'too-large' : signal.aborted ? 'timeout' : 'bad-body', `${where}: ${err.message}`)
  }
  const e = (err ?? {}) as SdkError
  const status = e.$metadata?.httpStatusCode
  const detail = `${e.name ?? 'Error'}${status !== undefined ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`
  // Only our own deadline is a timeout; the SDK names network failures such as 'socket hang up' TimeoutError too.
  if (signal.aborted) return new S3FetchError('timeout', `${where}: no complete answer in time (${detail})`)
  if (status === 404 || e.name === 'NoSuchKey' || e.name === 'NoSuchVersion' || e.name === 'NoSuchBucket' || e.name === 'NotFound') {
    return new S3FetchError('not-found', `${where}: object not found (${detail})`)
  }
  if (status === 403 || e.name === 'AccessDenied') return new S3FetchError('access-denied', `${where}: access denied (${detail})`)
  if (status === undefined && (e.code !== undefined || e.name === 'TimeoutError' || /ECONN|EHOSTUNREACH|ENOTFOUND|EAI_AGAIN|socket|network/i.test(`${e.name ?? ''} ${e.message ?? ''}`))) {
    return new S3FetchError('unreachable', `${where}: ${detail}`)
  }
  return new S3FetchError('error', `${where}: ${detail}`)
}

/** Creates the fetcher: loads the SDK and builds (or adopts) the client. */
export async function createSdkFetcher (options: S3ConnectionOptions): Promise<ObjectFetcher> {
  const { GetObjectCommand, S3Client } = await loadSdk()
  const own = options.client === undefined
  const client: S3ClientLike = options.client ?? new S3Client({
    ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
    ...(options.region !== undefined ? { region: options.region } : options.endpoint !== undefined && process.env.AWS_REGION === undefined ? { region: 'us-east-1' } : {}),
    forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
    ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
    maxAttempts: options.maxAttempts ?? 3
  })
  return {
    async get (ref, get) {
      const signal = AbortSignal.timeout(get.timeout)
      try {
        let output: { Body?: unknown, ContentLength?: number, ETag?: string, VersionId?: string }
        try {
          output = await client.send(new GetObjectCommand({
            Bucket: ref.bucket,
            Key: ref.key,
            ...(ref.versionId !== undefined ? { VersionId: ref.versionId } : {}),
            ...(get.ifNoneMatch !== undefined ? { IfNoneMatch: get.ifNoneMatch } : {})
          }), { abortSignal: signal }) as typeof output
        } catch (err) {
          // The SDK reports 304 Not Modified as an error.
          if ((err as SdkError)?.$metadata?.httpStatusCode === 304 || (err as SdkError)?.name === 'NotModified') return { modified: false }
          throw err
        }
        const body = output.Body as (AsyncIterable<Uint8Array> & { destroy?: (err?: Error) => void }) | undefined
        if (body === undefined || typeof (body as Partial<AsyncIterable<Uint8Array>>)[Symbol.asyncIterator] !== 'function') {
          throw new S3FetchError('bad-body', `s3://${ref.bucket}/${ref.key}: response without a readable body`)
        }
        if (output.ContentLength !== undefined && output.ContentLength > get.maxBytes) {
          body.destroy?.()
          throw new S3FetchError('too-large', `s3://${ref.bucket}/${ref.key}: object of ${output.ContentLength} bytes exceeds the limit of ${get.maxBytes} bytes`)
        }
        const decoded = await decodeBody(body, get.label, output.ContentLength, get.maxBytes, signal)
        return { modified: true, etag: output.ETag, versionId: output.VersionId, body: decoded }
      } catch (err) {
        throw classify(err, ref, signal)
      }
    },
    destroy () {
      if (own) client.destroy?.()
    }
  }
}
