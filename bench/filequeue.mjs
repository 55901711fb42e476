// The file queue: records/s enqueued and dequeued with one and two processes per side, against
// appending JSON lines to a file from Node, in the same run. Medians of several runs.
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'

const run = promisify(execFile)
const CHILD = fileURLToPath(new URL('./filequeue-child.cjs', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const RECORDS = Number(process.env.BENCH_FILEQUEUE_RECORDS ?? 400_000)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Runs `count` child processes with `args(i)` at once; records/s over the wall time of them all. */
async function processes(count, args) {
  const start = performance.now()
  const results = await Promise.all(Array.from({ length: count }, (_, i) => run(process.execPath, [CHILD, ...args(i)])))
  const records = results.reduce((sum, { stdout }) => sum + JSON.parse(stdout).records, 0)
  return records / ((performance.now() - start) / 1000)
}

const rows = []
for (const procs of [1, 2]) {
  const jsonl = [], enqueue = [], dequeue = []
  for (let r = 0; r < RUNS; r++) {
    const dir = mkdtempSync(join(tmpdir(), 'scouter-queue-bench-'))
    jsonl.push(await processes(procs, (i) => ['jsonl', join(dir, `lines-${i}.jsonl`), String(RECORDS / procs)]))
    enqueue.push(await processes(procs, () => ['enqueue', dir, 'q', String(RECORDS / procs)]))
    dequeue.push(await processes(procs, () => ['dequeue', dir, 'q']))
    rmSync(dir, { recursive: true, force: true })
  }
  rows.push({ procs, jsonl: median(jsonl), enqueue: median(enqueue), dequeue: median(dequeue) })
}

const fmt = (x) => Math.round(x).toLocaleString('en-US')
console.log(`file queue benchmark (node ${process.version}, ${RECORDS.toLocaleString('en-US')} records of ~100 B, median of ${RUNS} runs)\n`)
console.log('processes per side   JSON lines (baseline)   enqueue records/s (x baseline)   dequeue records/s (x baseline)')
for (const { procs, jsonl, enqueue, dequeue } of rows) {
  console.log(`${String(procs).padStart(18)}   ${fmt(jsonl).padStart(21)}   ${fmt(enqueue).padStart(17)} (x${(enqueue / jsonl).toFixed(2)})   ${fmt(dequeue).padStart(17)} (x${(dequeue / jsonl).toFixed(2)})`)
}
