import { join } from 'node:path'

import test from 'ava'

import { Collector, CollectorEvent, CollectorMetrics, CollectorQueue, CollectorResult, FileQueueConfig, Payload, ScouterQueueError } from '../lib'
import { recordsOnDisk, runNode, sleep, tempDir } from './helpers'

/** A collector that returns `<key>:<value>`. */
function echo(key: string, topics: string[] = []): Collector {
  return new Collector(key, async (payload) => `${key}:${payload.value}`, { topics })
}

/** The results of one event as `collector=value` or `collector!CODE`. */
function summary(results: readonly CollectorResult[]): string[] {
  return results.map((r) => (r.ok ? `${r.collector}=${r.value}` : `${r.collector}!${r.error.code}`))
}

/** A promise with its resolve function, to hold a handler until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

test('each delivery mode reaches its collectors, with one result per collector reached', async (t) => {
  await using cq = await CollectorQueue.start({ collectors: [echo('audit', ['payments']), echo('fraud', ['payments', 'risk']), echo('mail')] })
  const send = (payload: Payload) => cq.publisher().send(payload).wait().then(summary)

  t.deepEqual(await send(new Payload(1)), ['audit=audit:1', 'fraud=fraud:1', 'mail=mail:1'])
  t.deepEqual(await send(new Payload(2, { keys: ['mail'] })), ['mail=mail:2'])
  t.deepEqual(await send(new Payload(3, { delivery: 'key', keys: ['mail', 'audit', 'mail'] })), ['mail=mail:3', 'audit=audit:3'])
  t.deepEqual(await send(new Payload(4, { topics: ['payments'] })), ['audit=audit:4', 'fraud=fraud:4'])
  t.deepEqual(await send(new Payload(5, { topics: ['risk', 'payments'] })), ['audit=audit:5', 'fraud=fraud:5'])
  t.deepEqual(await send(new Payload(6, { topics: ['nobody'] })), [], 'a topic nobody listens to reaches no collector')
  t.deepEqual(await cq.publisher().send('plain').wait().then(summary), ['audit=audit:plain', 'fraud=fraud:plain', 'mail=mail:plain'])

  const error = t.throws(() => cq.publisher().send(new Payload(7, { keys: ['mial'] })), { instanceOf: ScouterQueueError })
  t.is(error?.code, 'ERR_UNKNOWN_COLLECTOR')
  t.regex(error!.message, /'mial'.*audit, fraud, mail/)
})

test('many events sent in one tick all settle, each with its own value', async (t) => {
  await using cq = await CollectorQueue.start({ collectors: [new Collector('double', (p) => (p.value as number) * 2)] })
  const events = Array.from({ length: 5000 }, (_, i) => cq.publisher().send(i))
  const values = await Promise.all(events.map((e) => e.wait().then((r) => (r[0].ok ? r[0].value : r[0].error.code))))
  t.deepEqual(values, Array.from({ length: 5000 }, (_, i) => i * 2))
  t.true(events.every((e) => e.done && e.serviceTime! >= 0 && e.waitTime! >= 0))
  t.like(cq.report(), { published: 5000, processed: 5000 })
})

/** Starts a one-consumer queue whose first event holds the consumer until `release`, then sends `rest`. */
async function orderOf(queueType: 'lifo' | 'priority', rest: Payload[]): Promise<unknown[]> {
  const handled: unknown[] = []
  const held = gate()
  const reached = gate()
  const collector = new Collector('c', async (payload) => {
    if (payload.value === 'first') {
      reached.open()
      await held.promise
    }
    handled.push(payload.value)
  })
  await using cq = await CollectorQueue.start({ collectors: [collector], queueType, autoscale: false, maxConsumers: 1 })
  const first = cq.publisher().send('first')
  await reached.promise
  const events = rest.map((p) => cq.publisher().send(p))
  await sleep(20) // they cross at the end of the tick and wait behind the held consumer
  held.open()
  await Promise.all([first, ...events].map((e: CollectorEvent) => e.wait()))
  return handled
}

test('a priority queue takes the lowest number first, ties in arrival order, unset at defaultPriority', async (t) => {
  const order = await orderOf('priority', [
    new Payload('p5a', { priority: 5 }),
    new Payload('default'),
    new Payload('p-1', { priority: -1 }),
    new Payload('p5b', { priority: 5 }),
    new Payload('p1000', { priority: 1000 }),
  ])
  t.deepEqual(order, ['first', 'p-1', 'p5a', 'p5b', 'default', 'p1000'])
})

test('a LIFO queue takes the newest first', async (t) => {
  const order = await orderOf('lifo', ['a', 'b', 'c'].map((v) => new Payload(v)))
  t.deepEqual(order, ['first', 'c', 'b', 'a'])
})

test('a custom router picks the collectors, as a function or as a class', async (t) => {
  const collectors = [echo('even'), echo('odd'), echo('all')]
  const byParity = (payload: Payload) => [(payload.value as number) % 2 === 0 ? 'even' : 'odd', 'all']
  await using byFunction = await CollectorQueue.start({ collectors, router: byParity })
  t.deepEqual(summary(await byFunction.publisher().send(new Payload(3, { keys: ['even'] })).wait()), ['odd=odd:3', 'all=all:3'])

  class Largest {
    readonly keys: string[]
    constructor(infos: readonly { key: string }[]) {
      this.keys = infos.map((c) => c.key)
    }
    route(payload: Payload) {
      return (payload.value as number) > 10 ? this.keys : []
    }
  }
  await using byClass = await CollectorQueue.start({ collectors, router: Largest })
  t.deepEqual(summary(await byClass.publisher().send(11).wait()), ['even=even:11', 'odd=odd:11', 'all=all:11'])
  t.deepEqual(await byClass.publisher().send(1).wait(), [])

  await using broken = await CollectorQueue.start({ collectors, router: () => ['nope'] })
  t.is(t.throws(() => broken.publisher().send(1), { instanceOf: ScouterQueueError })?.code, 'ERR_UNKNOWN_COLLECTOR')
  await using throwing = await CollectorQueue.start({ collectors, router: () => { throw new TypeError('bad route') } })
  const error = t.throws(() => throwing.publisher().send(1), { instanceOf: ScouterQueueError })
  t.is(error?.code, 'ERR_ROUTER')
  t.true(error?.cause instanceof TypeError)
})

test('a handler that throws or rejects gives an error result and the consumer goes on', async (t) => {
  const thrown = new RangeError('sync boom')
  const collectors = [
    new Collector('sync', (p) => {
      if (p.value === 'bad') throw thrown
      return 'fine'
    }),
    new Collector('async', async (p) => {
      if (p.value === 'bad') throw new Error('async boom')
      return 'fine'
    }),
    new Collector('odd', (p) => (p.value === 'bad' ? Promise.reject('a string') : 'fine')),
  ]
  await using cq = await CollectorQueue.start({ collectors, autoscale: false, maxConsumers: 1 })
  const results = await cq.publisher().send('bad').wait()
  t.deepEqual(summary(results), ['sync!ERR_HANDLER', 'async!ERR_HANDLER', 'odd!ERR_HANDLER'])
  const [sync, async, odd] = results.map((r) => (r.ok ? undefined : r.error))
  t.is(sync?.message, 'sync boom')
  t.is(sync?.cause, thrown, 'the thrown error is kept as the cause')
  t.is(async?.message, 'async boom')
  t.is(odd?.message, 'a string')
  // The only consumer survived all three.
  t.deepEqual(summary(await cq.publisher().send('good').wait()), ['sync=fine', 'async=fine', 'odd=fine'])
})

test('setup gives each collector its own context state; teardown runs after shutdown', async (t) => {
  const log: string[] = []
  const counter = new Collector('counter', (_p, ctx) => ++ctx.state.count, {
    setup: (ctx) => {
      log.push(`setup ${ctx.key}`)
      return { count: 100 }
    },
    teardown: async (ctx) => {
      log.push(`teardown ${ctx.key} at ${ctx.state.count}`)
    },
  })
  const other = new Collector('other', (_p, ctx) => Object.keys(ctx.state).length)
  const cq = await CollectorQueue.start({ collectors: [counter, other] })
  const initialized = new Promise((resolve) => cq.on('initialized', resolve))
  t.is(await initialized, cq, "'initialized' reaches a listener added after start resolved")
  t.deepEqual(summary(await cq.publisher().send(0).wait()), ['counter=101', 'other=0'])
  t.deepEqual(summary(await cq.publisher().send(0).wait()), ['counter=102', 'other=0'])
  await cq.shutdown()
  t.deepEqual(log, ['setup counter', 'teardown counter at 102'])

  const failing = new Collector('failing', () => 1, { setup: () => Promise.reject(new Error('no db')) })
  const error = await t.throwsAsync(CollectorQueue.start({ collectors: [counter, failing] }), { instanceOf: ScouterQueueError })
  t.is(error?.code, 'ERR_START_FAILED')
  t.regex(error!.message, /'failing' setup failed: no db/)
  t.deepEqual(log.slice(2), ['setup counter', 'teardown counter at 100'], 'what was set up is torn down again')
})

test('a transport collector writes each payload to its file queue, beside JavaScript collectors', async (t) => {
  const dir = tempDir(t)
  const collectors = [Collector.fromTransport('stream', new FileQueueConfig({ dir }), { topics: ['events'] }), echo('audit', ['events'])]
  const cq = await CollectorQueue.start({ collectors })
  const events = Array.from({ length: 300 }, (_, i) => cq.publisher().send(new Payload({ id: i, tags: ['a', 'b'] }, { topics: ['events'] })))
  const results = await Promise.all(events.map((e) => e.wait()))
  t.deepEqual(summary(results[7]), ['stream=undefined', 'audit=audit:[object Object]'])
  t.like(await cq.shutdown(), { published: 300, processed: 300 })
  const records = recordsOnDisk(dir, 'stream')
  t.deepEqual(
    records.map((r) => r.id).sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
  )
  t.deepEqual(records.find((r) => r.id === 42), { id: 42, tags: ['a', 'b'] })

  const circular: Record<string, unknown> = {}
  circular.self = circular
  await using again = await CollectorQueue.start({ collectors: [Collector.fromTransport('stream', new FileQueueConfig({ dir }))] })
  t.is(t.throws(() => again.publisher().send(circular), { instanceOf: ScouterQueueError })?.code, 'ERR_INVALID_PAYLOAD')
})

test('bad options and payloads are typed errors', async (t) => {
  const code = async (options: object) => ((await t.throwsAsync(CollectorQueue.start(options as any))) as ScouterQueueError).code
  t.is(await code({ collectors: [] }), 'ERR_INVALID_CONFIG')
  t.is(await code({ collectors: [echo('a'), echo('a')] }), 'ERR_INVALID_CONFIG')
  t.is(await code({ collectors: [echo('a')], minConsumers: 5, maxConsumers: 2 }), 'ERR_INVALID_CONFIG')
  t.is(await code({ collectors: [echo('a')], metricsWindowMs: 1000 }), 'ERR_INVALID_CONFIG')
  t.is(await code({ collectors: [echo('a')], queueType: 'stack' }), 'ERR_INVALID_CONFIG')
  t.is(await code({ collectors: [echo('a')], router: 42 }), 'ERR_INVALID_CONFIG')
  const payload = (options: object) => (t.throws(() => new Payload(1, options as any)) as ScouterQueueError).code
  t.is(payload({ delivery: 'key' }), 'ERR_INVALID_PAYLOAD')
  t.is(payload({ keys: ['a'], topics: ['b'] }), 'ERR_INVALID_PAYLOAD')
  t.is(payload({ priority: NaN }), 'ERR_INVALID_PAYLOAD')
  t.is(payload({ delivery: 'fanout' }), 'ERR_INVALID_PAYLOAD')
})

test('shutdown lets running handlers finish until the deadline, then times them out and reports the queued', async (t) => {
  const signals: AbortSignal[] = []
  const slow = new Collector('slow', async (payload, ctx) => {
    signals.push(ctx.signal)
    if (payload.value === 'quick') return sleep(50).then(() => 'done')
    await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve))
    return 'too late'
  })
  const cq = await CollectorQueue.start({ collectors: [slow], autoscale: false, maxConsumers: 2 })
  const shutdownEvent = new Promise((resolve) => cq.on('shutdown', resolve))
  const events = ['quick', 'hang1', 'hang2', 'queued1', 'queued2'].map((v) => cq.publisher().send(v))
  await sleep(20)
  const started = performance.now()
  const report = await cq.shutdown({ timeoutMs: 300 })
  t.true(performance.now() - started >= 290, 'the running handlers had until the deadline')
  t.deepEqual(report, { published: 5, processed: 1, timedOut: 2, notProcessed: 2 })
  t.is(await shutdownEvent, report)
  t.deepEqual(
    await Promise.all(events.map((e) => e.wait().then(summary))),
    [['slow=done'], ['slow!ERR_SHUTDOWN_TIMEOUT'], ['slow!ERR_SHUTDOWN_TIMEOUT'], ['slow!ERR_NOT_PROCESSED'], ['slow!ERR_NOT_PROCESSED']],
  )
  t.true(signals.every((s) => s.aborted), 'handlers still running are told through ctx.signal')
  t.is(t.throws(() => cq.publisher().send('after'), { instanceOf: ScouterQueueError })?.code, 'ERR_QUEUE_CLOSED')
  t.is(await cq.shutdown(), report, 'a second shutdown returns the same report')
})

test('shutdown without drain reports queued events at once; an aborted signal ends the wait', async (t) => {
  const held = gate()
  const cq = await CollectorQueue.start({ collectors: [new Collector('c', () => held.promise.then(() => 'ok'))], autoscale: false, maxConsumers: 1 })
  const events = [1, 2, 3, 4].map((v) => cq.publisher().send(v))
  await sleep(20)
  const report = cq.shutdown({ drain: false, timeoutMs: 5000 })
  t.deepEqual(summary(await events[3].wait()), ['c!ERR_NOT_PROCESSED'], 'queued events settle before the running one is done')
  held.open()
  t.deepEqual(await report, { published: 4, processed: 1, timedOut: 0, notProcessed: 3 })

  const never = new Collector('never', () => new Promise(() => {}))
  const stuck = await CollectorQueue.start({ collectors: [never] })
  const event = stuck.publisher().send(1)
  await sleep(20)
  const started = performance.now()
  const settled = await stuck.shutdown({ timeoutMs: 60_000, signal: AbortSignal.timeout(100) })
  t.true(performance.now() - started < 5000)
  t.like(settled, { timedOut: 1 })
  t.deepEqual(summary(await event.wait()), ['never!ERR_SHUTDOWN_TIMEOUT'])
})

test('metrics are reported every reportIntervalMs and read 0 for averages during the warm-up', async (t) => {
  await using cq = await CollectorQueue.start({ collectors: [echo('a')], reportIntervalMs: 20, metricsWarmupMs: 60_000, minConsumers: 3, maxConsumers: 3 })
  await cq.publisher().send(1).wait()
  const reported = await new Promise<CollectorMetrics>((resolve) => cq.once('metrics', resolve))
  t.like(reported, { qsize: 0, busy: 0, consumers: 3, load: 0, eventCount: 1, serviceTime: 0, arrivalRate: 0, wip: 0 })
  t.true(Math.abs(reported.timestamp - Date.now()) < 5000)
})

test.serial('the autoscaler grows under a steady load of slow handlers, Little\'s law holds, and it shrinks when idle', async (t) => {
  const SERVICE_MS = 50
  const RATE = 200 // events per second: about 10 in service
  const bounds = { minConsumers: 2, maxConsumers: 40 }
  const slow = new Collector('slow', () => sleep(SERVICE_MS))
  await using cq = await CollectorQueue.start({ collectors: [slow], ...bounds, metricsWindowMs: 5000, metricsWarmupMs: 500 })
  const samples: CollectorMetrics[] = []
  const sampler = setInterval(() => samples.push(cq.metrics()), 25)
  t.teardown(() => clearInterval(sampler))

  // A steady stream, paced by elapsed time so timer jitter does not change the rate.
  const events: CollectorEvent[] = []
  const start = performance.now()
  const LOAD_MS = 3000
  while (performance.now() - start < LOAD_MS) {
    const due = Math.floor(((performance.now() - start) / 1000) * RATE)
    while (events.length < due) events.push(cq.publisher().send(events.length))
    await sleep(5)
  }
  const sentRate = events.length / ((performance.now() - start) / 1000)
  const atEnd = cq.metrics()
  const steady = samples.filter((m) => m.timestamp - samples[0].timestamp > 1500)
  await Promise.all(events.map((e) => e.wait()))

  const meanBusy = steady.reduce((sum, m) => sum + m.busy, 0) / steady.length
  const grownTo = Math.max(...steady.map((m) => m.consumers))
  t.log(`sent ${sentRate.toFixed(0)}/s; wip ${atEnd.wip.toFixed(2)}, mean busy ${meanBusy.toFixed(2)}, arrivalRate ${atEnd.arrivalRate.toFixed(0)}, serviceTime ${(atEnd.serviceTime * 1000).toFixed(1)} ms, consumers up to ${grownTo}`)
  t.true(grownTo >= 8 && grownTo <= bounds.maxConsumers, `grew to ${grownTo}`)
  t.true(Math.abs(atEnd.arrivalRate - sentRate) / sentRate < 0.2, `arrival rate ${atEnd.arrivalRate} vs ${sentRate} sent`)
  t.true(Math.abs(atEnd.wip - meanBusy) / meanBusy < 0.2, `Little's law: wip ${atEnd.wip} vs ${meanBusy} busy on average`)
  t.true(Math.abs(atEnd.wip - (sentRate * SERVICE_MS) / 1000) / atEnd.wip < 0.2, 'about rate x handler time')
  t.true(atEnd.departureRate > 0 && atEnd.avgLoad > 0 && atEnd.waitTime >= 0)

  // Idle: the rates fall over the 5 s window and the pool goes back to its minimum.
  const idleSince = performance.now()
  while (cq.metrics().consumers > bounds.minConsumers && performance.now() - idleSince < 10_000) await sleep(100)
  t.is(cq.metrics().consumers, bounds.minConsumers, 'shrank to minConsumers')
  t.true(samples.every((m) => m.consumers >= bounds.minConsumers && m.consumers <= bounds.maxConsumers), 'always within bounds')
})

test('a process stays alive while events are in flight, and exits by itself without shutdown', async (t) => {
  const dir = tempDir(t)
  const { code, stdout, stderr } = await runNode([join(__dirname, 'children', 'collect-and-leave.cjs'), dir])
  t.is(code, 0, stderr)
  t.deepEqual(JSON.parse(stdout), [{ collector: 'stream', ok: true }])
  t.is(recordsOnDisk(dir, 'stream').length, 1)
})
