import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { Feature, Features, FileQueueConfig, Metrics, ScouterQueue, ScouterQueueError } from '../lib'
import { CREDIT, QUALITY, recordsOnDisk, sleep, tempDir } from './helpers'

/** Psi: `age` numeric bins (-inf, 30], (30, 50], (50, inf) written with null outer edges; `state` categories CA=0, NY=1, missing=2. */
const LOANS = join(__dirname, 'fixtures', 'loans.json')
/** Spc: `age` and `income`, samples of 4. */
const VITALS = join(__dirname, 'fixtures', 'vitals.json')

const TIMESTAMP = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/

/** The records of every message on disk, as `[kind, record]`, each checked for what every record carries. */
function drift(dir: string, alias: string): [string, Record<string, any>][][] {
  return recordsOnDisk(dir, alias).map((message) =>
    (message.records as Record<string, any>[]).map((tagged) => {
      const [[kind, record]] = Object.entries(tagged)
      if (!TIMESTAMP.test(record.created_at) || record.entity_id !== 0) throw new Error(`bad record ${JSON.stringify(record)}`)
      return [kind, record]
    }),
  )
}

const bins = (message: [string, Record<string, any>][]) => message.map(([, r]) => [r.feature, r.bin_id, r.bin_count])
const means = (message: [string, Record<string, any>][]) => message.map(([, r]) => [r.feature ?? r.metric, r.value])

test('Psi: edges go to the lower bin, unknown categories to "missing"; a NaN or a code without a bin is skipped, not the item', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ loans: LOANS }, new FileQueueConfig({ dir }))
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  const loans = queue.get('loans')
  loans.insert(Features.from({ age: 30, state: 'CA' })) // 30 is (-inf, 30]: bin 1
  loans.insert(Features.from({ age: 30.5, state: 'TX' })) // bin 2; TX is not in the map: missing, code 2
  loans.insert(Features.from({ age: 50, state: 1 })) // 50 is (30, 50]: bin 2; an int is its own code
  loans.insert(Features.from({ age: 51, state: 'NY', other: 3 })) // bin 3; features not monitored are ignored
  loans.insert(new Features([Feature.float('age', NaN), Feature.string('state', 'CA')])) // NaN skipped, CA counted
  loans.insert(Features.from({ age: 20, state: 7 })) // bin 1; code 7 has no bin: skipped
  loans.insert(Features.from({ income: 1 })) // nothing monitored: the item fails
  const report = await queue.shutdown()
  await sleep(50)

  t.like(report.loans, { inserted: 7, published: 6, failed: 1, skippedValues: 2 })
  const messages = drift(dir, 'loans')
  t.is(messages.length, 1, 'one aggregate, published at shutdown')
  t.true(messages[0].every(([kind, r]) => kind === 'Psi' && r.uid === '0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d31'))
  t.deepEqual(bins(messages[0]), [
    ['age', 1, 2],
    ['age', 2, 2],
    ['age', 3, 1],
    ['state', 0, 2],
    ['state', 1, 2],
    ['state', 2, 1],
  ])
  const skipped = errors.find((e) => e.code === 'ERR_VALUE_SKIPPED')
  t.like(skipped, { alias: 'loans', items: 0 })
  t.regex(skipped!.message, /2 value\(s\).*'age': NaN is not a finite number/)
  t.like(errors.find((e) => e.code === 'ERR_INVALID_ITEM'), { items: 1 })
  t.regex(errors.find((e) => e.code === 'ERR_INVALID_ITEM')!.message, /none of its features is monitored by the profile \(age, state\)/)
})

test('Psi publishes every 1000 items, zero counts included, and the rest at shutdown', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }))
  for (let i = 0; i < 2500; i++) queue.get('credit').insert(Features.from({ age: i % 100 }))
  t.like((await queue.shutdown()).credit, { inserted: 2500, published: 2500, failed: 0 })
  // Of every 100 ages 0..99, 31 are <= 30, 20 in (30, 50] and 49 above; income has no count, so no records.
  t.deepEqual(drift(dir, 'credit').map(bins), [
    [['age', 1, 310], ['age', 2, 200], ['age', 3, 490]],
    [['age', 1, 310], ['age', 2, 200], ['age', 3, 490]],
    [['age', 1, 155], ['age', 2, 100], ['age', 3, 245]],
  ])
})

test('Spc publishes the mean of each sample, and the partial sample at shutdown', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ vitals: VITALS }, new FileQueueConfig({ dir }))
  for (let i = 1; i <= 10; i++) queue.get('vitals').insert(Features.from({ age: i, income: 100 * i }))
  t.like((await queue.shutdown()).vitals, { inserted: 10, published: 10 })
  t.deepEqual(drift(dir, 'vitals').map(means), [
    [['age', 2.5], ['income', 250]],
    [['age', 6.5], ['income', 650]],
    [['age', 9.5], ['income', 950]], // 2 of 4: published rather than lost
  ])
})

test('Custom publishes the mean of each metric every sample_size sets, skipping metrics not in the profile', async (t) => {
  const dir = tempDir(t)
  const profile = JSON.parse(readFileSync(QUALITY, 'utf8'))
  profile.config.sample_size = 3
  const queue = await ScouterQueue.fromProfiles({ quality: profile }, new FileQueueConfig({ dir }))
  const quality = queue.get('quality')
  quality.insert(Metrics.from({ mae: 1, mape: 0.5, rmse: 100 }))
  quality.insert(Metrics.from({ MAE: 2 }))
  quality.insert(Metrics.from({ mae: 3, mape: 1.5 }))
  quality.insert(Metrics.from({ mae: 10 }))
  t.like((await queue.shutdown()).quality, { inserted: 4, published: 4 })
  const messages = drift(dir, 'quality')
  t.true(messages.flat().every(([kind, r]) => kind === 'Custom' && r.uid === profile.config.uid))
  t.deepEqual(messages.map(means), [
    [['mae', 2], ['mape', 1]],
    [['mae', 10]],
  ])
})

test('the timed flush publishes a partial aggregate while the queue runs', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, commitEveryMs: 50 }), { publishIntervalMs: 300 })
  for (const age of [10, 40, 60]) queue.get('credit').insert(Features.from({ age, income: 5000 }))
  await sleep(100)
  t.deepEqual(drift(dir, 'credit'), [], 'not yet due')
  await sleep(700)
  t.like(queue.report().credit, { published: 3 })
  t.deepEqual(drift(dir, 'credit').map(bins), [[['age', 1, 1], ['age', 2, 1], ['age', 3, 1], ['income', 1, 0], ['income', 2, 3]]])
  queue.get('credit').insert(Features.from({ age: 1 }))
  await queue.shutdown()
  t.is(drift(dir, 'credit').length, 2)
})

test('SCOUTER_QUEUE_PUBLISH_INTERVAL_SECS sets the timed flush', async (t) => {
  const dir = tempDir(t)
  const script = `
    const { ScouterQueue, Features, FileQueueConfig } = require(${JSON.stringify(join(__dirname, '..', 'dist', 'index.js'))})
    ScouterQueue.fromPath({ credit: process.argv[1] }, new FileQueueConfig({ dir: process.argv[2], commitEveryMs: 50 })).then(async (queue) => {
      queue.get('credit').insert(Features.from({ age: 1 }))
      await new Promise((r) => setTimeout(r, 900))
      console.log(JSON.stringify(queue.report().credit))
      await queue.shutdown()
    })`
  const child = spawn(process.execPath, ['-e', script, CREDIT, dir], {
    env: { ...process.env, SCOUTER_QUEUE_PUBLISH_INTERVAL_SECS: '0.3' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let stdout = ''
  child.stdout.on('data', (d) => (stdout += d))
  await new Promise((resolve) => child.on('exit', resolve))
  t.like(JSON.parse(stdout), { inserted: 1, published: 1 }, 'published by the timed flush, before shutdown')
})

test('past the memory budget items are aggregated on the spill side too, and every item is in a count', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), { memoryBudgetBytes: 2048 })
  const credit = queue.get('credit')
  for (let i = 0; i < 5000; i++) {
    credit.insert(Features.from({ age: i % 100, income: 1.5 }))
    if (i % 100 === 99) credit.flush()
  }
  const report = (await queue.shutdown()).credit
  t.true(report.spilled > 0, `spilled ${report.spilled}`)
  t.is(report.published + report.spilled, 5000)
  const counted = drift(dir, 'credit')
    .flat()
    .filter(([, r]) => r.feature === 'income')
    .reduce((sum, [, r]) => sum + r.bin_count, 0)
  t.is(counted, 5000)
})

test('aggregation needs config.uid; with aggregate: false a profile without one still publishes raw records', async (t) => {
  const dir = tempDir(t)
  const profile = JSON.parse(readFileSync(CREDIT, 'utf8'))
  delete profile.config.uid
  const error = await t.throwsAsync(ScouterQueue.fromProfiles({ credit: profile }, new FileQueueConfig({ dir })), { instanceOf: ScouterQueueError })
  t.is(error!.code, 'ERR_PROFILE_INVALID')
  t.regex(error!.message, /config\.uid/)

  const queue = await ScouterQueue.fromProfiles({ credit: profile }, new FileQueueConfig({ dir }), { aggregate: false })
  queue.get('credit').insert(Features.from({ age: 1 }))
  await queue.shutdown()
  t.like(recordsOnDisk(dir, 'credit')[0], { name: 'credit', entity_type: 'Feature', features: [{ Int: { name: 'age', value: 1 } }] })
})
