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
  /** Median over rounds of (warm / bare) within the round. */
  warmOverBare: number
  /** Median over rounds of (off / bare) within the round. */
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
    // Many short alternating rounds: adjacent runs share the machine's load, so the ratio of each
    // round is compared, and the median round ratio is reported.
    const rounds = quick ? 1 : 5
    const seconds = quick ? 1 : 2
    const warmRatios: number[] = []
    const offRatios: number[] = []
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? MODES : [...MODES].reverse()
      const got: Partial<Record<Mode, number>> = {}
      // Cache-off serves ~1% of bare: one second tells its rate well enough.
      for (const mode of order) got[mode] = await shot(mode, mode === 'off' ? 1 : seconds)
      for (const mode of MODES) runs[mode].push(got[mode]!)
      warmRatios.push(got.warm! / got.bare!)
      offRatios.push(got.off! / got.bare!)
    }
    const med = { bare: median(runs.bare), warm: median(runs.warm), off: median(runs.off) }
    return { runs, median: med, warmOverBare: median(warmRatios), offOverBare: median(offRatios), non2xx }
  } finally {
    for (const { child } of servers.values()) child.kill()
  }
}
