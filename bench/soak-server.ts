/**
 * The soak's server, in its own process so its memory is measured alone. Reads the root PEM from the
 * parent over IPC, listens on 127.0.0.1 only, and reports memory and verifier counters every second
 * until the parent says stop. Heap figures are taken right after a full GC (run with --expose-gc),
 * so their slope shows retained memory, not the garbage collector's sawtooth.
 */
import Fastify from 'fastify'
import { mtlsPassthrough } from '../src/fastify/plugin.js'

type Message = { type: 'start', roots: string, cacheBytes: number } | { type: 'stop' }

const send = (message: unknown): void => {
  if (process.connected) process.send?.(message)
}
const gc = (globalThis as { gc?: () => void }).gc

async function start (roots: string, cacheBytes: number): Promise<void> {
  const app = Fastify({ logger: false })
  await app.register(mtlsPassthrough, { roots, cache: { maxBytes: cacheBytes } })
  app.get('/', async (request) => ({ cn: request.clientCert?.commonName ?? null }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  send({ type: 'ready', port: typeof address === 'object' && address !== null ? address.port : 0 })
  // The verdict cache's counters: entries and bytes held.
  const verifier = app.mtls.verifier
  const timer = setInterval(() => {
    gc?.()
    const m = process.memoryUsage()
    send({ type: 'sample', at: Date.now(), rss: m.rss, heapUsed: m.heapUsed, stats: verifier.stats() })
  }, 1000)
  const stop = (): void => {
    clearInterval(timer)
    app.close().finally(() => process.exit(0))
  }
  process.on('message', (msg: Message) => { if (msg.type === 'stop') stop() })
  process.once('disconnect', stop)
}

process.once('message', (msg: Message) => {
  if (msg.type !== 'start') return
  start(msg.roots, msg.cacheBytes).catch((err: unknown) => {
    console.error(err)
    process.exit(1)
  })
})
