// npm run bench (second part): a Psi queue of 10 features with 10 bins each, against the
// raw-records queue (aggregation off) of the same profile in the same run. Both write to the
// embedded file queue. Figures are medians of several runs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

import { FileQueueConfig, Features, ScouterQueue } from '../dist/index.mjs'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const FEATURES = Array.from({ length: 10 }, (_, i) => `f${i}`)

/** Ten numeric features, each with ten bins over [0, 100): (-inf, 10], (10, 20], ... (90, inf). */
function psiProfile() {
  const bins = Array.from({ length: 10 }, (_, b) => ({
    id: b + 1,
    lower_limit: b === 0 ? '-inf' : b * 10,
    upper_limit: b === 9 ? 'inf' : (b + 1) * 10,
    proportion: 0.1,
  }))
  const timestamp = '2026-03-26T10:15:30Z'
  return {
    features: Object.fromEntries(FEATURES.map((id) => [id, { id, bins, timestamp, bin_type: 'Numeric' }])),
    config: {
      space: 'bench',
      name: 'psi',
      version: '1.0.0',
      uid: '0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d99',
      alert_config: { schedule: '0 0 0 * * *', features_to_monitor: FEATURES, dispatch_config: { Console: { enabled: true } }, threshold: { Fixed: { threshold: 0.25 } } },
      feature_map: { features: {} },
      drift_type: 'Psi',
      categorical_features: null,
      binning_strategy: { QuantileBinning: { num_bins: 10 } },
    },
    scouter_version: '0.25.0',
  }
}

const row = (i) => Object.fromEntries(FEATURES.map((name, f) => [name, ((i * 7 + f * 13) % 100) + 0.5]))

const work = mkdtempSync(join(tmpdir(), 'scouter-queue-bench-drift-'))
const PROFILE = join(work, 'psi.json')
writeFileSync(PROFILE, JSON.stringify(psiProfile(), null, 2))

const KINDS = { psi: {}, raw: { aggregate: false } }

async function withQueue(kind, use) {
  const dir = mkdtempSync(join(work, `${kind}-`))
  const queue = await ScouterQueue.fromPath({ bench: PROFILE }, new FileQueueConfig({ dir, maxEventsPerFile: 100_000 }), KINDS[kind])
  try {
    return await use(queue)
  } finally {
    await queue.shutdown({ timeoutMs: 120_000 })
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Waits until the worker has taken every inserted item (a Psi aggregate may still be open). */
async function taken(queue) {
  while (queue.report().bench.queuedBytes > 0) await sleep(10)
}

/** JS-thread ns per `insert(prebuilt 10-feature Features)`, median of RUNS runs of N inserts. */
async function insertCost(kind) {
  const N = 200_000
  const items = Array.from({ length: 1000 }, (_, i) => Features.from(row(i)))
  return withQueue(kind, async (queue) => {
    const bench = queue.get('bench')
    const runs = []
    for (let r = 0; r < RUNS; r++) {
      await taken(queue)
      const start = process.hrtime.bigint()
      for (let i = 0; i < N; i++) bench.insert(items[i % 1000])
      runs.push(Number(process.hrtime.bigint() - start) / N)
    }
    await taken(queue)
    return median(runs)
  })
}

/** Inserts/s from the first insert until shutdown has settled every item, median of runs. */
async function throughput(kind) {
  const N = 500_000
  const items = Array.from({ length: 1000 }, (_, i) => Features.from(row(i)))
  const runs = []
  for (let r = 0; r < Math.min(RUNS, 3); r++) {
    const dir = mkdtempSync(join(work, `${kind}-`))
    const queue = await ScouterQueue.fromPath({ bench: PROFILE }, new FileQueueConfig({ dir, maxEventsPerFile: 100_000 }), KINDS[kind])
    const bench = queue.get('bench')
    const start = performance.now()
    for (let i = 0; i < N; i++) {
      bench.insert(items[i % 1000])
      if (i % 10_000 === 0) await new Promise((r) => setImmediate(r))
    }
    const report = (await queue.shutdown({ timeoutMs: 120_000 })).bench
    if (report.published !== N) throw new Error(`${kind}: ${report.published} of ${N} published`)
    runs.push(N / ((performance.now() - start) / 1000))
    rmSync(dir, { recursive: true, force: true })
  }
  return median(runs)
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

console.log(`\nscouter-queue drift benchmark: Psi, 10 features x 10 bins (node ${process.version}, median of ${RUNS} runs)\n`)
const cost = { psi: await insertCost('psi'), raw: await insertCost('raw') }
const rate = { psi: await throughput('psi'), raw: await throughput('raw') }
console.log('                                              Psi queue   raw queue   Psi / raw')
console.log(`  JS-thread ns per insert(10-feature item)   ${fmt(cost.psi).padStart(9)}   ${fmt(cost.raw).padStart(9)}   ${fmt(cost.psi / cost.raw, 2).padStart(9)}`)
console.log(`  inserts/s, first insert to all settled     ${fmt(rate.psi).padStart(9)}   ${fmt(rate.raw).padStart(9)}   ${fmt(rate.psi / rate.raw, 2).padStart(9)}`)
rmSync(work, { recursive: true, force: true })
