import { execFile, execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'

import test from 'ava'
import { Kafka, logLevel } from 'kafkajs'

import { Features, KafkaConfig, ScouterQueue, ScouterQueueError } from '../lib'
import { CREDIT, sleep, startNode, tempDir } from './helpers'

// A real Kafka broker (KRaft, one node) on 127.0.0.1, fetched from Maven Central and started by the project's script.
const BROKER = join(__dirname, '..', 'scripts', 'kafka.sh')
const broker = (command: string) => promisify(execFile)(BROKER, [command])
let brokers = ''
test.before(() => {
  brokers = execFileSync(BROKER, ['start'], { encoding: 'utf8' }).trim().split('\n').pop()!
})

const RAW = { aggregate: false }
// The credit profile's queue identity, the default message key.
const CREDIT_KEY = 'lending/credit/v1.0.0/psi'

interface Consumed {
  key: string | null
  value: any
  partition: number
}

/** Reads every message of `topic` from the start with an independent client (kafkajs), until `expected` have come and none more for `quietMs`. */
async function consumeAll(topic: string, expected: number, quietMs = 1000): Promise<Consumed[]> {
  const kafka = new Kafka({ brokers: [brokers], clientId: 'scouter-queue-test', logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({ groupId: `sq-test-${randomUUID()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const messages: Consumed[] = []
  let last = Date.now()
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      messages.push({ key: message.key?.toString() ?? null, value: JSON.parse(message.value!.toString()), partition })
      last = Date.now()
    },
  })
  const end = Date.now() + 30_000
  while ((messages.length < expected || Date.now() - last < quietMs) && Date.now() < end) await sleep(100)
  await consumer.disconnect()
  return messages
}

function ids(messages: Consumed[]): number[] {
  return messages.map((m) => m.value.features[0].Int.value as number)
}

function countOnce(values: number[], n: number) {
  const seen = new Map<number, number>()
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1)
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i))
  const duplicates = [...seen.values()].reduce((sum, k) => sum + k - 1, 0)
  return { missing, duplicates }
}

async function until(condition: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`)
    await sleep(100)
  }
}

test.serial('every record reaches Kafka once, acknowledged, keyed by its queue, with its content', async (t) => {
  const topic = `sq-test-${randomUUID()}`
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ brokers, topic }), { ...RAW, spillDir: tempDir(t) })
  for (let i = 0; i < 2000; i++) queue.get('credit').insert(Features.from({ id: i, income: i + 0.5, state: 'CA' }))
  const report = await queue.shutdown({ timeoutMs: 20_000 })
  t.like(report.credit, { inserted: 2000, published: 2000, spilled: 0, failed: 0 })

  const messages = await consumeAll(topic, 2000)
  t.deepEqual(countOnce(ids(messages), 2000), { missing: [], duplicates: 0 })
  t.deepEqual([...new Set(messages.map((m) => m.key))], [CREDIT_KEY])
  t.deepEqual(ids(messages), Array.from({ length: 2000 }, (_, i) => i), 'in insert order')
  t.like(messages.find((m) => m.value.features[0].Int.value === 7)!.value, {
    name: 'credit',
    entity_type: 'Feature',
    features: [{ Int: { name: 'id', value: 7 } }, { Float: { name: 'income', value: 7.5 } }, { String: { name: 'state', value: 'CA' } }],
  })
})

test.serial('drift records go as Scouter ServerRecords, with no key when asked', async (t) => {
  const topic = `sq-test-${randomUUID()}`
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ brokers, topic, key: null, compressionType: 'none' }), { spillDir: tempDir(t) })
  for (let i = 0; i < 1000; i++) queue.get('credit').insert(Features.from({ age: 20 + (i % 50), income: 1000 + i }))
  const report = await queue.shutdown({ timeoutMs: 20_000 })
  t.like(report.credit, { inserted: 1000, published: 1000, failed: 0, spilled: 0 })
  const [message] = await consumeAll(topic, 1)
  t.is(message.key, null)
  t.deepEqual(Object.keys(message.value.records[0]), ['Psi'])
  t.is(message.value.records.length, 5, 'one PsiRecord per bin: 3 of age, 2 of income')
})

// kafkajs reads gzip only, so the other codecs are checked by the broker's acknowledgements.
test.serial('snappy, lz4 and zstd batches are acknowledged by the broker', async (t) => {
  for (const compressionType of ['snappy', 'lz4', 'zstd'] as const) {
    const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ brokers, topic: `sq-test-${randomUUID()}`, compressionType }), { ...RAW, spillDir: tempDir(t) })
    for (let i = 0; i < 500; i++) queue.get('credit').insert(Features.from({ id: i, state: 'CA' }))
    t.like((await queue.shutdown({ timeoutMs: 20_000 })).credit, { inserted: 500, published: 500, failed: 0, spilled: 0 }, compressionType)
  }
})

test.serial('the broker down for over 10 s in the middle of a stream loses nothing: records wait, spill, and are replayed', async (t) => {
  const topic = `sq-test-${randomUUID()}`
  const budget = 64 * 1024
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ brokers, topic }), { ...RAW, spillDir: tempDir(t), memoryBudgetBytes: budget })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  let inserted = 0
  let streaming = true
  let mostQueued = 0
  const stream = (async () => {
    while (streaming) {
      const started = performance.now()
      for (let k = 0; k < 50; k++) queue.get('credit').insert(Features.from({ id: inserted++ }))
      if (performance.now() - started > 100) throw new Error('an insert waited')
      mostQueued = Math.max(mostQueued, queue.report().credit.queuedBytes)
      await sleep(25)
    }
  })()
  await sleep(1500)
  const down = Date.now()
  await broker('pause')
  await sleep(10_000)
  await broker('resume')
  const outage = Date.now() - down
  await sleep(1500)
  streaming = false
  await stream
  // A liveness wait, generous for a loaded machine: the assertions that matter come after it.
  await until(() => {
    const { published, spilled, replayed } = queue.report().credit
    return published + spilled === inserted && replayed >= spilled
  }, 90_000, () => `every spilled record to be replayed (${inserted} inserted; ${JSON.stringify(queue.report().credit)})`)
  const report = await queue.shutdown({ timeoutMs: 20_000 })
  t.log(`broker down ${outage} ms; ${JSON.stringify(report.credit)}; ${errors.length} background errors, first: ${errors[0]?.message}`)
  t.true(outage >= 10_000)
  t.true(report.credit.spilled > 0, 'the outage made records spill')
  t.true(errors.some((e) => e.code === 'ERR_TRANSPORT'), 'the outage was reported')
  // Held in memory (librdkafka's copy of each message in flight counted too): the budget, plus at most
  // the last batch taken, or a batch replayed from the spill queue, which rolls every second (2,000
  // records of under 2 x 200 B). Unbounded, the outage's records would take over 10 MB.
  t.log(`at most ${mostQueued} bytes held in memory, budget ${budget}`)
  t.true(mostQueued < budget + 2000 * 2 * 200)

  const { missing, duplicates } = countOnce(ids(await consumeAll(topic, inserted)), inserted)
  t.deepEqual(missing, [], 'no record lost')
  t.log(`${inserted} inserted, ${duplicates} duplicates (sent again after an unacknowledged delivery)`)
})

test.serial('shutdown while the broker is down spills everything; the next start replays it', async (t) => {
  const topic = `sq-test-${randomUUID()}`
  const spillDir = tempDir(t)
  const config = new KafkaConfig({ brokers, topic })
  const first = await ScouterQueue.fromPath({ credit: CREDIT }, config, { ...RAW, spillDir })
  const errors: ScouterQueueError[] = []
  first.on('error', (error) => errors.push(error))
  await broker('pause')
  try {
    for (let i = 0; i < 500; i++) first.get('credit').insert(Features.from({ id: i }))
    const report = await first.shutdown({ timeoutMs: 2000 })
    t.like(report.credit, { inserted: 500, published: 0, spilled: 500 })
    t.true(errors.some((e) => e.code === 'ERR_TRANSPORT'), 'the outage was reported')
  } finally {
    await broker('resume')
  }

  const second = await ScouterQueue.fromPath({ credit: CREDIT }, config, { ...RAW, spillDir })
  await until(() => second.report().credit.replayed >= 500, 20_000, 'the replay')
  t.like(await second.shutdown(), { credit: { inserted: 0, replayed: 500 } })
  const messages = await consumeAll(topic, 500)
  t.deepEqual(countOnce(ids(messages), 500), { missing: [], duplicates: 0 })
  t.deepEqual(ids(messages), Array.from({ length: 500 }, (_, i) => i), 'replayed in insert order')
})

test.serial('process.exit() right after inserting still delivers every record, and the process ends', async (t) => {
  const topic = `sq-test-${randomUUID()}`
  const child = startNode(t, [join(__dirname, 'children', 'kafka-insert-and-exit.cjs'), brokers, topic, tempDir(t), '5000'])
  const exit = await Promise.race([child.exited, sleep(15_000).then(() => 'still running')])
  t.deepEqual(exit, { code: 0, signal: null }, child.stderr())
  t.deepEqual(countOnce(ids(await consumeAll(topic, 5000)), 5000), { missing: [], duplicates: 0 })
})

test.serial('SASL/PLAIN credentials log in and publish; refused ones are a clear error at start', async (t) => {
  const saslBrokers = execFileSync(BROKER, ['sasl-address'], { encoding: 'utf8' }).trim()
  const topic = `sq-test-${randomUUID()}`
  const login = { brokers: saslBrokers, topic, username: 'scouter', securityProtocol: 'SASL_PLAINTEXT' }
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ ...login, password: 'scouter-secret' }), { ...RAW, spillDir: tempDir(t) })
  for (let i = 0; i < 100; i++) queue.get('credit').insert(Features.from({ id: i }))
  t.like((await queue.shutdown({ timeoutMs: 20_000 })).credit, { inserted: 100, published: 100 })
  t.deepEqual(countOnce(ids(await consumeAll(topic, 100)), 100), { missing: [], duplicates: 0 })

  const refused = await t.throwsAsync(
    ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig({ ...login, password: 'wrong-secret', connectTimeoutMs: 3000 }), { spillDir: tempDir(t) }),
    { instanceOf: ScouterQueueError },
  )
  t.is(refused!.code, 'ERR_START_FAILED')
  t.regex(refused!.message, /credentials were refused.*[Aa]uthentication/)
  t.notRegex(refused!.message, /wrong-secret/, 'the password is not in the message')
})

test.serial('bad config is a clear error at start: compression, unreachable brokers, a topic that cannot be written', async (t) => {
  const start = (options: ConstructorParameters<typeof KafkaConfig>[0]) =>
    t.throwsAsync(ScouterQueue.fromPath({ credit: CREDIT }, new KafkaConfig(options), { spillDir: tempDir(t) }), { instanceOf: ScouterQueueError })

  const compression = await start({ brokers, compressionType: 'brotli' as any })
  t.is(compression!.code, 'ERR_INVALID_CONFIG')
  t.regex(compression!.message, /compressionType 'brotli' is not one of none, gzip, snappy, lz4, zstd/)

  const unknownSetting = await start({ brokers, config: { 'no.such.setting': 1 } })
  t.is(unknownSetting!.code, 'ERR_INVALID_CONFIG')
  t.regex(unknownSetting!.message, /no\.such\.setting/)

  const unreachable = await start({ brokers: '127.0.0.1:1', maxRetries: 0, connectTimeoutMs: 1500 })
  t.is(unreachable!.code, 'ERR_START_FAILED')
  t.regex(unreachable!.message, /'credit'.*127\.0\.0\.1:1.*no broker answered/)

  const invalid = await start({ brokers, topic: 'not a topic/name' })
  t.is(invalid!.code, 'ERR_START_FAILED')
  t.regex(invalid!.message, /topic 'not a topic\/name' is not a valid topic name/)

  // Brokers that do not create topics on first use (here the client asks them not to): a missing topic cannot be written.
  const missing = await start({ brokers, topic: `sq-missing-${randomUUID()}`, config: { 'allow.auto.create.topics': false } })
  t.is(missing!.code, 'ERR_START_FAILED')
  t.regex(missing!.message, /does not exist, and is not created on first use/)
})
