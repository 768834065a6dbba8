// Minimal types for the parts of s3rver (an in-process S3-compatible server) the tests use.
declare module 's3rver' {
  import type { AddressInfo } from 'node:net'
  interface S3rverOptions {
    address?: string
    port?: number
    silent?: boolean
    directory: string
    resetOnClose?: boolean
    configureBuckets?: Array<{ name: string }>
  }
  type Middleware = (ctx: { method: string, path: string, query: Record<string, string>, headers: Record<string, string | undefined>, status: number, body: unknown, length: number, res: import('node:http').ServerResponse }, next: () => Promise<void>) => Promise<void>
  export default class S3rver {
    constructor (options: S3rverOptions)
    middleware: Middleware[]
    run (): Promise<AddressInfo>
    close (): Promise<void>
  }
}
