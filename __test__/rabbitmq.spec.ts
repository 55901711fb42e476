import { execFile, execFileSync } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { promisify } from 'node:util'

import test from 'ava'
import * as amqplib from 'amqplib'

import { Features, RabbitMQConfig, ScouterQueue, ScouterQueueError } from '../lib'
import { CREDIT, sleep, tempDir } from './helpers'

// A real RabbitMQ on 127.0.0.1, installed and started by the project's script.
const BROKER = join(__dirname, '..', 'scripts', 'rabbitmq.sh')
const broker = (command: string) => promisify(execFile)(BROKER, [command])
let address = ''
test.before(() => {
  address = execFileSync(BROKER, ['start'], { encoding: 'utf8' }).trim().split('\n').pop()!
})

const RAW = { aggregate: false }

/** Reads every message of `queue` with an independent client (amqplib) until none comes for `quietMs`, then deletes the queue. */
async function consumeAll(queue: string, quietMs = 1500): Promise<any[]> {
  const connection = await amqplib.connect(address)
  const channel = await connection.createChannel()
  const messages: any[] = []
  let last = Date.now()
  await channel.consume(queue, (message) => {
    if (message === null) return
    messages.push(JSON.parse(message.content.toString()))
    channel.ack(message)
    last = Date.now()
  })
  while (Date.now() - last < quietMs) await sleep(100)
  await channel.deleteQueue(queue)
  await connection.close()
  return messages
}

function ids(records: any[]): number[] {
  return records.map((r) => r.features[0].Int.value as number)
}

function countOnce(values: number[], n: number) {
  const seen = new Map<number, number>()
  for (const v of values) seen.set(v, (seen.get(v) ?? 0) + 1)
  const missing = Array.from({ length: n }, (_, i) => i).filter((i) => !seen.has(i))
  const duplicates = [...seen.values()].reduce((sum, k) => sum + k - 1, 0)
  return { missing, duplicates }
}

async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

test.serial('every record reaches RabbitMQ once, confirmed, with its content', async (t) => {
  const queueName = `sq-test-${randomUUID()}`
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new RabbitMQConfig({ address, queue: queueName }), { ...RAW, spillDir: tempDir(t) })
  for (let i = 0; i < 2000; i++) queue.get('credit').insert(Features.from({ id: i, income: i + 0.5, state: 'CA' }))
  const report = await queue.shutdown({ timeoutMs: 20_000 })
  t.like(report.credit, { inserted: 2000, published: 2000, spilled: 0, failed: 0 })

  const records = await consumeAll(queueName)
  t.deepEqual(countOnce(ids(records), 2000), { missing: [], duplicates: 0 })
  t.like(records.find((r) => r.features[0].Int.value === 7), {
    name: 'credit',
    entity_type: 'Feature',
    features: [{ Int: { name: 'id', value: 7 } }, { Float: { name: 'income', value: 7.5 } }, { String: { name: 'state', value: 'CA' } }],
  })
})

test.serial('a broker restart in the middle of a stream loses nothing: records wait, spill, and are replayed', async (t) => {
  const queueName = `sq-test-${randomUUID()}`
  const queue = await ScouterQueue.fromPath({ credit: CREDIT }, new RabbitMQConfig({ address, queue: queueName }), {
    ...RAW,
    spillDir: tempDir(t),
    memoryBudgetBytes: 16 * 1024,
  })
  const errors: ScouterQueueError[] = []
  queue.on('error', (error) => errors.push(error))
  let inserted = 0
  const stream = (async () => {
    const end = Date.now() + 7000
    while (Date.now() < end) {
      for (let k = 0; k < 50; k++) queue.get('credit').insert(Features.from({ id: inserted++ }))
      await sleep(25)
    }
  })()
  await sleep(1500)
  await broker('pause')
  await sleep(3000)
  await broker('resume')
  await stream
  await until(() => {
    const { published, spilled, replayed } = queue.report().credit
    return published + spilled === inserted && replayed >= spilled
  }, 30_000, 'every spilled record to be replayed')
  const report = await queue.shutdown({ timeoutMs: 20_000 })
  t.log(JSON.stringify(report.credit), `${errors.length} background errors, first: ${errors[0]?.message}`)
  t.true(report.credit.spilled > 0, 'the outage made records spill')

  const { missing, duplicates } = countOnce(ids(await consumeAll(queueName)), inserted)
  t.deepEqual(missing, [], 'no record lost')
  t.log(`${inserted} inserted, ${duplicates} duplicates (sent again after a lost confirm)`)
})

test.serial('shutdown while the broker is down spills everything; the next start replays it', async (t) => {
  const queueName = `sq-test-${randomUUID()}`
  const spillDir = tempDir(t)
  const config = new RabbitMQConfig({ address, queue: queueName })
  const first = await ScouterQueue.fromPath({ credit: CREDIT }, config, { ...RAW, spillDir })
  await broker('pause')
  try {
    for (let i = 0; i < 500; i++) first.get('credit').insert(Features.from({ id: i }))
    const report = await first.shutdown({ timeoutMs: 3000 })
    t.like(report.credit, { inserted: 500, published: 0, spilled: 500 })
  } finally {
    await broker('resume')
  }

  const second = await ScouterQueue.fromPath({ credit: CREDIT }, config, { ...RAW, spillDir })
  await until(() => second.report().credit.replayed >= 500, 20_000, 'the replay')
  t.like(await second.shutdown(), { credit: { inserted: 0, replayed: 500 } })
  t.deepEqual(countOnce(ids(await consumeAll(queueName)), 500), { missing: [], duplicates: 0 })
})

test.serial('bad credentials and an unreachable address are clear errors at start', async (t) => {
  const refused = await t.throwsAsync(
    ScouterQueue.fromPath({ credit: CREDIT }, new RabbitMQConfig({ address: address.replace('guest:guest', 'guest:wrong'), queue: 'sq-test-refused' }), { spillDir: tempDir(t) }),
    { instanceOf: ScouterQueueError },
  )
  t.is(refused!.code, 'ERR_START_FAILED')
  t.regex(refused!.message, /'credit'.*(ACCESS_REFUSED|refused|403)/i)
  t.notRegex(refused!.message, /wrong/, 'the password is not in the message')

  const unreachable = await t.throwsAsync(
    ScouterQueue.fromPath({ credit: CREDIT }, new RabbitMQConfig({ address: 'amqp://127.0.0.1:1/%2f', maxRetries: 0 }), { spillDir: tempDir(t) }),
    { instanceOf: ScouterQueueError },
  )
  t.is(unreachable!.code, 'ERR_START_FAILED')
  t.regex(unreachable!.message, /127\.0\.0\.1:1/)
})
