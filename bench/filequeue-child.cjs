// One side of the file queue benchmark, in its own process.
// enqueue <dir> <name> <count> | dequeue <dir> <name> | jsonl <file> <count>
// Prints the records handled and the seconds taken, as JSON.
const { createWriteStream } = require('node:fs')
const { FileQueue } = require('../dist/index.js')

const [mode, a, b, c] = process.argv.slice(2)
const record = (i) => ({ id: i, ts: 1795461372000 + i, user: 'u' + (i % 1000), action: 'click', value: i * 0.5, tags: ['a', 'b'] })

async function main() {
  const start = performance.now()
  let records = 0
  if (mode === 'enqueue') {
    const writer = await FileQueue.enqueue({ dir: a, name: b, maxEventsPerFile: 20_000 })
    for (let i = 0; i < Number(c); i++) {
      writer.add(record(i))
      if (i % 20_000 === 0) await new Promise((r) => setImmediate(r))
    }
    records = (await writer.close()).published
  } else if (mode === 'dequeue') {
    for await (const _ of FileQueue.dequeue({ dir: a, name: b, recover: false })) records++
  } else if (mode === 'jsonl') {
    const out = createWriteStream(a)
    for (let i = 0; i < Number(b); i++) {
      if (!out.write(JSON.stringify(record(i)) + '\n')) await new Promise((r) => out.once('drain', r))
      records++
    }
    await new Promise((r) => out.end(r))
  }
  process.stdout.write(JSON.stringify({ records, seconds: (performance.now() - start) / 1000 }) + '\n')
}
main()
