// npm run bench: the cost of insert on the JS thread, the event loop's delay
// under load, memory per queued record, and file queue throughput. Every
// figure is the median of several runs, beside a baseline from the same run.
// Raw records throughout (aggregation off): bench/drift.mjs measures drift queues.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'

import { FileQueueConfig, Features, ScouterQueue } from '../dist/index.mjs'

const PROFILE = fileURLToPath(new URL('../__test__/fixtures/credit.json', import.meta.url))
const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const row = (i) => ({ f0: i, f1: i * 0.5, f2: 'CA', f3: 3.25, f4: 17, f5: 0.001, f6: 'gold', f7: 42, f8: 9.75, f9: i % 7 })
const fields = { f0: 'int', f1: 'float', f2: 'int', f3: 'float', f4: 'int', f5: 'float', f6: 'int', f7: 'int', f8: 'float', f9: 'int' }

async function withQueue(options, use) {
  const dir = mkdtempSync(join(tmpdir(), 'scouter-queue-bench-'))
  const queue = await ScouterQueue.fromPath({ credit: PROFILE }, new FileQueueConfig({ dir, maxEventsPerFile: 100_000 }), { aggregate: false, ...options })
  try {
    return await use(queue)
  } finally {
    await queue.shutdown({ timeoutMs: 60_000 })
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Waits until the queue's workers have caught up, so one measurement's backlog does not load the next. */
async function drained(queue) {
  if (!queue) return sleep(50)
  for (;;) {
    const { inserted, published, spilled } = queue.report().credit
    if (published + spilled >= inserted) return
    await sleep(20)
  }
}

/** ns per call of `fn(i)` over `n` calls, median of RUNS runs, the queue drained between runs. */
async function nsPerCall(n, fn, queue) {
  const runs = []
  for (let r = 0; r < RUNS; r++) {
    await drained(queue)
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn(i)
    runs.push(Number(process.hrtime.bigint() - start) / n)
  }
  await drained(queue)
  return median(runs)
}

async function insertCost() {
  const N = 200_000
  const objects = Array.from({ length: 1000 }, (_, i) => row(i))
  const items = objects.map((o) => Features.from(o))
  const numbers = objects.map((o, i) => [i, i * 0.5, 1, 3.25, 17, 0.001, 2, 42, 9.75, i % 7])
  const sink = []
  const baseline = {
    'JSON.stringify of the 10-property object': await nsPerCall(N, (i) => (sink[0] = JSON.stringify(objects[i % 1000]))),
    'Array push of a prebuilt item (floor)': await nsPerCall(N, (i) => {
      sink.push(items[i % 1000])
      if (sink.length > 1024) sink.length = 0
    }),
  }
  return withQueue({}, async (queue) => {
    const credit = queue.get('credit')
    const bound = credit.bind(fields)
    return {
      ...baseline,
      'Features.from(10-property object) alone': await nsPerCall(N, (i) => (sink[0] = Features.from(objects[i % 1000]))),
      'insert(prebuilt 10-feature Features)': await nsPerCall(N, (i) => credit.insert(items[i % 1000]), queue),
      'insert(Features.from(10-property object))': await nsPerCall(N, (i) => credit.insert(Features.from(objects[i % 1000])), queue),
      'bound fast path insert(10 numbers)': await nsPerCall(N, (i) => bound.insert(numbers[i % 1000]), queue),
    }
  })
}

async function loopDelayP99(ms, work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  await work(ms)
  histogram.disable()
  return histogram.percentile(99) / 1e6
}

async function eventLoopDelay() {
  const RATE = 100_000
  const seconds = Number(process.env.BENCH_LOAD_SECONDS ?? 5)
  const idle = await loopDelayP99(seconds * 1000, (ms) => sleep(ms))
  let inserted = 0
  const loaded = await withQueue({}, (queue) =>
    loopDelayP99(seconds * 1000, async (ms) => {
      const credit = queue.get('credit')
      const start = performance.now()
      // Paced like a server under load: each turn inserts what is due, then yields to the loop.
      while (performance.now() - start < ms) {
        const due = Math.floor(((performance.now() - start) / 1000) * RATE)
        while (inserted < due) credit.insert(Features.from(row(inserted++)))
        await new Promise((r) => setImmediate(r))
      }
    }),
  )
  return { idle, loaded, rate: inserted / seconds }
}

async function memoryPerRecord() {
  const N = 1_000_000
  return withQueue({ memoryBudgetBytes: 2 ** 40 }, async (queue) => {
    const credit = queue.get('credit')
    const items = Array.from({ length: 1000 }, (_, i) => Features.from(row(i)))
    globalThis.gc?.()
    const before = process.memoryUsage().rss
    for (let i = 0; i < N; i++) credit.insert(items[i % 1000])
    credit.flush()
    const after = process.memoryUsage().rss
    const report = queue.report().credit
    const queued = report.inserted - report.published
    return { queued, queuedBytes: report.queuedBytes, rssPerRecord: (after - before) / queued, accountedPerRecord: report.queuedBytes / queued }
  })
}

async function fileQueueThroughput() {
  const N = 500_000
  const items = Array.from({ length: 1000 }, (_, i) => Features.from(row(i)))
  const runs = []
  for (let r = 0; r < Math.min(RUNS, 3); r++) {
    const dir = mkdtempSync(join(tmpdir(), 'scouter-queue-bench-'))
    const queue = await ScouterQueue.fromPath({ credit: PROFILE }, new FileQueueConfig({ dir, maxEventsPerFile: 100_000 }), { aggregate: false })
    const start = performance.now()
    const credit = queue.get('credit')
    for (let i = 0; i < N; i++) {
      credit.insert(items[i % 1000])
      if (i % 10_000 === 0) await new Promise((r) => setImmediate(r))
    }
    const report = await queue.shutdown({ timeoutMs: 120_000 })
    runs.push(report.credit.published / ((performance.now() - start) / 1000))
    rmSync(dir, { recursive: true, force: true })
  }
  return median(runs)
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

console.log(`scouter-queue insert benchmark (node ${process.version}, median of ${RUNS} runs)\n`)
// First, while the process has not yet grown and freed memory that RSS would hide.
const memory = await memoryPerRecord()
const cost = await insertCost()
const stringify = cost['JSON.stringify of the 10-property object']
console.log('JS-thread time per call           ns     x JSON.stringify')
for (const [name, ns] of Object.entries(cost)) console.log(`  ${name.padEnd(44)} ${fmt(ns, 0).padStart(6)}   ${fmt(ns / stringify, 2)}`)

const delay = await eventLoopDelay()
console.log(`\nevent-loop delay p99: idle ${fmt(delay.idle, 2)} ms, inserting ${fmt(delay.rate)} records/s ${fmt(delay.loaded, 2)} ms (x${fmt(delay.loaded / delay.idle, 2)})`)

console.log(`\nmemory per queued record: ${fmt(memory.rssPerRecord)} B of RSS (${fmt(memory.accountedPerRecord)} B counted against the budget), ${fmt(memory.queued)} records queued`)

const throughput = await fileQueueThroughput()
console.log(`\nfile queue: ${fmt(throughput)} records/s from insert to committed, 10-feature records`)
