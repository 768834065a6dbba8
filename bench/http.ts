/**
 * HTTP benchmark: autocannon on 127.0.0.1 against three servers (bare Fastify, plugin with a warm
 * cache, plugin with the cache off), each in its own process, all receiving the same header on the
 * same route. Runs alternate between the servers so drifting machine load hits all three alike.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import type { Fixtures } from './fixtures.js'

export type Mode = 'bare' | 'warm' | 'off'
export interface HttpResult {
  /** Requests per second of each run, by mode, in run order. */
  runs: Record<Mode, number[]>
  median: Record<Mode, number>
  warmOverBare: number
  offOverBare: number
  non2xx: number
}

const MODES: Mode[] = ['bare', 'warm', 'off']

async function startServer (mode: Mode, roots: string): Promise<{ child: ChildProcess, port: number }> {
  const script = fileURLToPath(new URL('./server.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, mode], { stdio: ['pipe', 'pipe', 'inherit'] })
  child.stdin!.end(roots)
  const [line] = await once(child.stdout!, 'data') as [Buffer]
  const port = Number.parseInt(line.toString(), 10)
  if (!(port > 0)) throw new Error(`server ${mode} did not start`)
  return { child, port }
}

function median (values: number[]): number {
  const s = [...values].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

export async function runHttp (fx: Fixtures, quick: boolean): Promise<HttpResult> {
  const servers = new Map<Mode, { child: ChildProcess, port: number }>()
  try {
    for (const mode of MODES) servers.set(mode, await startServer(mode, fx.pki.root.pem))
    const runs: Record<Mode, number[]> = { bare: [], warm: [], off: [] }
    let non2xx = 0
    const shot = async (mode: Mode, seconds: number): Promise<number> => {
      const result = await autocannon({
        url: `http://127.0.0.1:${servers.get(mode)!.port}/`,
        headers: { 'x-amzn-mtls-clientcert': fx.header },
        connections: 10,
        duration: seconds
      })
      non2xx += result.non2xx + result.errors
      return result.requests.average
    }
    // Warm-up: JIT, the verdict cache, connection setup.
    for (const mode of MODES) await shot(mode, 1)
    const rounds = quick ? 1 : 3
    const seconds = quick ? 1 : 4
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? MODES : [...MODES].reverse()
      for (const mode of order) runs[mode].push(await shot(mode, seconds))
    }
    const med = { bare: median(runs.bare), warm: median(runs.warm), off: median(runs.off) }
    return { runs, median: med, warmOverBare: med.warm / med.bare, offOverBare: med.off / med.bare, non2xx }
  } finally {
    for (const { child } of servers.values()) child.kill()
  }
}
