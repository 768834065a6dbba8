/**
 * One benchmark server in its own process: `bare` (Fastify alone), `warm` (plugin, verdict cache
 * on) or `off` (plugin, cache off). Same route and setup in all three; prints the port when ready.
 * The roots come on stdin as PEM.
 */
import Fastify from 'fastify'
import { mtlsPassthrough } from '../src/fastify/plugin.js'

const mode = process.argv[2]
let roots = ''
for await (const chunk of process.stdin) roots += String(chunk)
const app = Fastify({ logger: false })
if (mode !== 'bare') await app.register(mtlsPassthrough, { roots, cache: mode === 'off' ? false : {} })
app.get('/', async () => ({ ok: true }))
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
process.stdout.write(`${typeof address === 'object' && address !== null ? address.port : 0}\n`)
