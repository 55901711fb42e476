// A process reading a file queue and appending each record, as a JSON line, to <out> before taking the
// next: what is in <out> is what this reader handled. Args: <dir> <name> <out> [checkpointEvery] [mode]
// mode 'drain' stops when nothing is ready; 'follow' polls until SIGTERM; 'pause' stops after the first
// record and waits (holding its batch) until killed.
const { appendFileSync } = require('node:fs')
const { FileQueue } = require('../../dist/index.js')

const [dir, name, out, checkpointEvery = '100', mode = 'follow'] = process.argv.slice(2)
const stop = new AbortController()
process.on('SIGTERM', () => stop.abort())

;(async () => {
  const records = FileQueue.dequeue({ dir, name, checkpointEvery: Number(checkpointEvery), stopWhenEmpty: mode === 'drain', pollMs: 20, signal: stop.signal })
  for await (const record of records) {
    appendFileSync(out, JSON.stringify(record) + '\n')
    if (mode === 'pause') {
      process.stdout.write('paused\n')
      await new Promise(() => setInterval(() => {}, 1000))
    }
  }
})()
