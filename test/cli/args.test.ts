import { test } from 'node:test'
import assert from 'node:assert/strict'
import { joinNegativeValues, main } from '../../src/cli/main.js'

test('emulate: --verify-port -1 parses as documented (issue 14)', async () => {
  assert.deepEqual(joinNegativeValues(['--verify-port', '-1', '--target', 'http://x']), ['--verify-port=-1', '--target', 'http://x'])
  assert.deepEqual(joinNegativeValues(['--passthrough-port', '-1']), ['--passthrough-port=-1'])
  // Only the numeric options take a negative value; other flags are left to parseArgs.
  assert.deepEqual(joinNegativeValues(['--target', '-1']), ['--target', '-1'])
  let err = ''
  const io = { out: () => {}, err: (text: string) => { err += text } }
  // Both disabled: the arguments parse, and the usage error is about the listeners, not the syntax.
  assert.equal(await main(['emulate', '--verify-port', '-1', '--passthrough-port', '-1'], io), 2)
  assert.match(err, /both listeners are disabled/)
  err = ''
  assert.equal(await main(['emulate', '--verify-port', '-2'], io), 2)
  assert.match(err, /--verify-port must be a port number/)
})
