/** The `openssl` binary the differential tests compare with: its version line, or null when absent. */
import { spawnSync } from 'node:child_process'

const run = spawnSync('openssl', ['version'], { encoding: 'utf8' })
export const OPENSSL_VERSION: string | null = run.status === 0 ? run.stdout.trim() : null
