import { writeFileSync, rmSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

import test from 'ava'

import { Feature, FileQueue, FileQueueConfig, Features, Metric, Metrics, ScouterQueue, ScouterQueueError } from '../lib'
import { CREDIT, QUALITY, recordsOnDisk, sleep, tempDir } from './helpers'

/** These tests follow each item to the file queue, so they publish raw records rather than drift aggregates. */
const RAW = { aggregate: false }

test('every inserted record reaches the file queue once, with its content', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT, quality: QUALITY }, new FileQueueConfig({ dir }), RAW)
  for (let i = 0; i < 1000; i++) queue.get('credit').insert(Features.from({ id: i, income: i + 0.5, state: 'CA' }))
  queue.get('credit').insert(new Features([Feature.int('id', 1000), Feature.float('income', 1.5), Feature.string('state', 'NY')]))
  queue.get('quality').insert(new Metrics([new Metric('MAPE', 1.0), new Metric('mae', 2.0)]))
  const report = await queue.shutdown()

  t.like(report.credit, { inserted: 1001, published: 1001, spilled: 0, dropped: 0, failed: 0, queuedBytes: 0 })
  t.like(report.quality, { inserted: 1, published: 1 })
  const credit = recordsOnDisk(dir, 'credit')
  t.deepEqual(
    credit.map((r) => r.features[0].Int.value).sort((a, b) => a - b),
    Array.from({ length: 1001 }, (_, i) => i),
  )
  t.like(credit.find((r) => r.features[0].Int.value === 7), {
    space: 'lending',
    name: 'credit',
    version: '1.0.0',
    uid: '0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d2e',
    entity_type: 'Feature',
    features: [{ Int: { name: 'id', value: 7 } }, { Float: { name: 'income', value: 7.5 } }, { String: { name: 'state', value: 'CA' } }],
  })
  t.regex(credit[0].created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?Z$/)
  t.deepEqual(recordsOnDisk(dir, 'quality')[0].metrics, [
    { name: 'mape', value: 1 },
    { name: 'mae', value: 2 },
  ])
})

test('fromProfiles starts a queue from profile objects', async (t) => {
  const dir = tempDir(t)
  const profile = JSON.parse(readFileSync(QUALITY, 'utf8'))
  const queue = await ScouterQueue.fromProfiles({ quality: profile }, new FileQueueConfig({ dir }))
  queue.get('quality').insert(Metrics.from({ mae: 1 }))
  t.like((await queue.shutdown()).quality, { inserted: 1, published: 1 })
})

test('the bound fast path publishes rows of numbers under the fixed names', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
  const credit = queue.get('credit').bind({ age: 'int', income: 'float' })
  for (let i = 0; i < 2000; i++) credit.insert([i, i / 2])
  credit.insert(new Float64Array([5000, 0.25]))
  t.throws(() => credit.insert([1]), { instanceOf: ScouterQueueError, message: /bound to 2 fields/ })
  t.throws(() => credit.insert([1.5, 1]), { instanceOf: ScouterQueueError, message: /'age' needs an integer/ })
  t.like((await queue.shutdown()).credit, { inserted: 2001, published: 2001 })
  const records = recordsOnDisk(dir, 'credit')
  t.is(records.length, 2001)
  t.deepEqual(records.find((r) => r.features[0].Int.value === 5000).features, [
    { Int: { name: 'age', value: 5000 } },
    { Float: { name: 'income', value: 0.25 } },
  ])
})

async function rejection(t: any, promise: Promise<unknown>): Promise<ScouterQueueError> {
  const error = await t.throwsAsync(promise, { instanceOf: ScouterQueueError })
  return error as ScouterQueueError
}

test('a missing profile file is ERR_PROFILE_NOT_FOUND naming the alias and the file', async (t) => {
  const error = await rejection(t, ScouterQueue.fromPath({ credit: '/nonexistent/credit.json' }, new FileQueueConfig({ dir: tempDir(t) })))
  t.is(error.code, 'ERR_PROFILE_NOT_FOUND')
  t.regex(error.message, /credit/)
  t.regex(error.message, /\/nonexistent\/credit\.json/)
})

test('bad JSON and a missing field are ERR_PROFILE_INVALID naming the file and the field', async (t) => {
  const dir = tempDir(t)
  const broken = join(dir, 'broken.json')
  writeFileSync(broken, '{"config": {')
  const error = await rejection(t, ScouterQueue.fromPath({ broken }, new FileQueueConfig({ dir })))
  t.is(error.code, 'ERR_PROFILE_INVALID')
  t.regex(error.message, /broken\.json/)

  const profile = JSON.parse(readFileSync(CREDIT, 'utf8'))
  delete profile.config.version
  const missing = join(dir, 'missing.json')
  writeFileSync(missing, JSON.stringify(profile))
  const error2 = await rejection(t, ScouterQueue.fromPath({ missing }, new FileQueueConfig({ dir })))
  t.is(error2.code, 'ERR_PROFILE_INVALID')
  t.regex(error2.message, /missing\.json/)
  t.regex(error2.message, /config\.version/)

  profile.config.version = '1.0.0'
  profile.config.drift_type = 'KL'
  const error3 = await rejection(t, ScouterQueue.fromProfiles({ odd: profile }, new FileQueueConfig({ dir })))
  t.regex(error3.message, /config\.drift_type/)
})

test('a transport that cannot start rejects naming the alias', async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'credit'), 'a file where the queue folder should be')
  const error = await rejection(t, ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir })))
  t.is(error.code, 'ERR_START_FAILED')
  t.regex(error.message, /'credit'/)
})

test('bad options are ERR_INVALID_CONFIG', async (t) => {
  const error = await rejection(t, ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir: tempDir(t), maxEventsPerFile: 0 })))
  t.is(error.code, 'ERR_START_FAILED')
  const error2 = await rejection(t, ScouterQueue.fromPath({ credit: CREDIT }, undefined, { overflow: 'sometimes' as any }))
  t.is(error2.code, 'ERR_INVALID_CONFIG')
})

test('an unknown alias, a wrong item and an insert after shutdown are typed errors', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT, quality: QUALITY }, new FileQueueConfig({ dir }), RAW)
  const unknown = t.throws(() => queue.get('debit'), { instanceOf: ScouterQueueError })
  t.is(unknown!.code, 'ERR_UNKNOWN_ALIAS')
  t.regex(unknown!.message, /credit, quality/)
  t.is(t.throws(() => queue.get('credit').insert(Metrics.from({ mae: 1 })))!.code as string, 'ERR_INVALID_ITEM')
  t.is(t.throws(() => queue.get('quality').insert(Features.from({ a: 1 })))!.code as string, 'ERR_INVALID_ITEM')
  t.is(t.throws(() => queue.get('credit').insert({ age: 1 } as any))!.code as string, 'ERR_INVALID_ITEM')
  t.is(t.throws(() => queue.get('quality').bind(['a']))!.code as string, 'ERR_INVALID_ITEM')
  queue.get('credit').insert(Features.from({ age: 1 }))
  const report = await queue.shutdown()
  t.like(report.credit, { inserted: 1, published: 1, failed: 0 })
  const closed = t.throws(() => queue.get('credit').insert(Features.from({ age: 2 })), { instanceOf: ScouterQueueError })
  t.is(closed!.code, 'ERR_QUEUE_CLOSED')
  t.deepEqual(await queue.shutdown(), report, 'a second shutdown returns the same report')
})

test('shutdown with records in flight settles every one of them', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
  const credit = queue.get('credit')
  for (let i = 0; i < 50_000; i++) credit.insert(Features.from({ id: i, income: 1.5 }))
  const report = await queue.shutdown({ timeoutMs: 10_000 })
  t.like(report.credit, { inserted: 50_000, published: 50_000, failed: 0 })
  t.is(new Set(recordsOnDisk(dir, 'credit').map((r) => r.features[0].Int.value)).size, 50_000)
})

test('beyond the memory budget records spill to the file queue, and nothing is lost', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), { ...RAW, memoryBudgetBytes: 4096 })
  const credit = queue.get('credit')
  for (let i = 0; i < 20_000; i++) {
    credit.insert(Features.from({ id: i, income: 1.5 }))
    if (i % 100 === 99) credit.flush()
  }
  const report = await queue.shutdown()
  t.true(report.credit.spilled > 0, `spilled ${report.credit.spilled}`)
  t.is(report.credit.published + report.credit.spilled, 20_000)
  t.is(report.credit.inserted, 20_000)
  t.is(new Set(recordsOnDisk(dir, 'credit').map((r) => r.features[0].Int.value)).size, 20_000)
})

test("with the 'drop' policy records beyond the budget are dropped and counted", async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), { ...RAW, memoryBudgetBytes: 4096, overflow: 'drop' })
  const credit = queue.get('credit')
  for (let i = 0; i < 20_000; i++) {
    credit.insert(Features.from({ id: i }))
    if (i % 100 === 99) credit.flush()
  }
  const report = await queue.shutdown()
  t.true(report.credit.dropped > 0)
  t.is(report.credit.published + report.credit.dropped, 20_000)
  t.is(recordsOnDisk(dir, 'credit').length, report.credit.published)
})

test('batches roll by count', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, maxEventsPerFile: 100 }), RAW)
  for (let i = 0; i < 250; i++) queue.get('credit').insert(Features.from({ id: i }))
  await queue.shutdown()
  const batches = FileQueue.list({ dir, name: 'credit' })
  t.deepEqual(batches.map((b) => b.state), ['ready', 'ready', 'ready'])
  t.deepEqual(batches.map((b) => FileQueue.read(b).length).sort((a, b) => a - b), [50, 100, 100])
})

test('batches roll by age while the queue runs, and an empty batch does not roll', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, maxBatchAgeMs: 200 }), RAW)
  await sleep(500)
  t.deepEqual(FileQueue.list({ dir, name: 'credit' }), [], 'nothing inserted, nothing written')
  for (let i = 0; i < 5; i++) queue.get('credit').insert(Features.from({ id: i }))
  await sleep(800)
  const batches = FileQueue.list({ dir, name: 'credit' })
  t.deepEqual(batches.map((b) => b.state), ['ready'])
  t.is(FileQueue.read(batches[0]).length, 5)
  await queue.shutdown()
})

test('records are committed while the batch is still loading', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, commitEveryMs: 50 }), RAW)
  for (let i = 0; i < 10; i++) queue.get('credit').insert(Features.from({ id: i }))
  await sleep(400)
  const batches = FileQueue.list({ dir, name: 'credit' })
  t.deepEqual(batches.map((b) => b.state), ['load'])
  t.is(FileQueue.read(batches[0]).length, 10)
  t.like(queue.report().credit, { published: 10 })
  await queue.shutdown()
})

test("a file that cannot be written is reported through 'error' and counted, not thrown", async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  rmSync(join(dir, 'credit'), { recursive: true })
  writeFileSync(join(dir, 'credit'), 'not a folder')
  for (let i = 0; i < 10; i++) queue.get('credit').insert(Features.from({ id: i }))
  const report = await queue.shutdown()
  t.like(report.credit, { inserted: 10, published: 0, failed: 10 })
  await sleep(50)
  t.true(errors.length > 0)
  t.is(errors[0].code, 'ERR_FILE_QUEUE')
  t.is(errors[0].alias, 'credit')
})

test('await using shuts the queue down at the end of the block', async (t) => {
  const dir = tempDir(t)
  {
    await using queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
    queue.get('credit').insert(Features.from({ id: 1 }))
  }
  t.is(recordsOnDisk(dir, 'credit').length, 1)
})

test('an aborted signal ends the wait at once and still settles every record', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
  for (let i = 0; i < 1000; i++) queue.get('credit').insert(Features.from({ id: i }))
  const report = await queue.shutdown({ signal: AbortSignal.abort() })
  t.is(report.credit.published + report.credit.spilled, 1000)
  t.is(recordsOnDisk(dir, 'credit').length, 1000)
})

test('FileQueue.dequeue gives each ready batch to exactly one reader and deletes it', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, maxEventsPerFile: 10 }), RAW)
  for (let i = 0; i < 95; i++) queue.get('credit').insert(Features.from({ id: i }))
  await queue.shutdown()
  const read = async () => {
    const ids: number[] = []
    for await (const record of FileQueue.dequeue({ dir, name: 'credit' })) ids.push((record as any).features[0].Int.value)
    return ids
  }
  const [a, b] = await Promise.all([read(), read()])
  t.deepEqual([...a, ...b].sort((x, y) => x - y), Array.from({ length: 95 }, (_, i) => i))
  t.deepEqual(FileQueue.list({ dir, name: 'credit' }), [])
})

test('kinds survive the crossing: integral floats, non-finite floats, bigints, strings with quotes', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir }), RAW)
  queue.get('credit').insert(new Features([Feature.float('whole', 2), Feature.float('nan', NaN), Feature.int('big', 2n ** 62n), Feature.string('s', 'a"b')]))
  await queue.shutdown()
  const [{ features }] = recordsOnDisk(dir, 'credit')
  t.deepEqual(features, [
    { Float: { name: 'whole', value: 2 } },
    { Float: { name: 'nan', value: 'NaN' } },
    { Int: { name: 'big', value: Number(2n ** 62n) } },
    { String: { name: 's', value: 'a"b' } },
  ])
  const raw = FileQueue.list({ dir, name: 'credit' }).length
  t.is(raw, 1)
})

test('with maxReadyFiles the default transport keeps records in memory while readers are behind', async (t) => {
  const dir = tempDir(t)
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new FileQueueConfig({ dir, maxEventsPerFile: 10, maxReadyFiles: 1 }), RAW)
  const events: { alias: string; active: boolean }[] = []
  queue.on('backpressure', (event) => events.push(event))
  for (let i = 0; i < 100; i++) queue.get('credit').insert(Features.from({ id: i }))
  await sleep(500)
  const held = queue.report().credit
  t.true(held.backpressured)
  t.true(held.published < 100 && held.queuedBytes > 0, JSON.stringify(held))
  t.is(held.spilled, 0)
  t.deepEqual(events[0], { alias: 'credit', active: true })

  let read = 0
  for await (const _ of FileQueue.dequeue({ dir, name: 'credit', stopWhenEmpty: false, pollMs: 20, signal: AbortSignal.timeout(5000) })) {
    if (++read === 100) break
  }
  t.is(read, 100)
  await sleep(300)
  t.like(await queue.shutdown(), { credit: { inserted: 100, published: 100, spilled: 0, backpressured: false } })
})
