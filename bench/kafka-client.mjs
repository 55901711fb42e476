// One client's run in its own process: publish RECORDS records of about 256 B to Kafka and wait until
// every one is acknowledged by the broker (acks=all, no compression, the same key for every record).
// Args: <client> <brokers> <topic> <records>. Prints one JSON line of measurements, or
// {"unavailable": reason} when the client cannot be loaded here.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { Features, KafkaConfig, ScouterQueue } from '../dist/index.mjs'
import { measure } from './lib/measure.mjs'

const [client, brokers, topic, count] = process.argv.slice(2)
const RECORDS = Number(count)
const PROFILE = fileURLToPath(new URL('../__test__/fixtures/credit.json', import.meta.url))
// The peers' own package (bench/kafka/package.json), installed by bench/kafka.mjs.
const peers = createRequire(fileURLToPath(new URL('./kafka/package.json', import.meta.url)))
// What scouter-queue's default key is for this profile: its queue identity.
const KEY = 'lending/credit/v1.0.0/psi'
const BATCH = 100
const IN_FLIGHT_SENDS = 100

// About 256 B once published as a raw record.
const row = (i) => ({ id: i, income: 1000 + i * 0.25 })
// What a user of a plain Kafka client sends for the same item: Scouter's raw record, as scouter-queue publishes it.
const record = (i) => {
  const { id, income } = row(i)
  return JSON.stringify({
    created_at: new Date().toISOString(),
    space: 'lending',
    name: 'credit',
    version: '1.0.0',
    uid: '0191d7a4-7f3e-7c2a-9b1e-3c5d2a1f4e6b',
    entity_type: 'Feature',
    features: [{ Int: { name: 'id', value: id } }, { Float: { name: 'income', value: income } }],
  })
}

/** Sends RECORDS records in batches of BATCH, at most IN_FLIGHT_SENDS batches unacknowledged, and waits for all. */
async function sendAll(sendBatch) {
  const pending = []
  for (let start = 0; start < RECORDS; start += BATCH) {
    const batch = []
    for (let i = start; i < Math.min(start + BATCH, RECORDS); i++) batch.push(i)
    pending.push(sendBatch(batch))
    if (pending.length >= IN_FLIGHT_SENDS) await pending.shift()
  }
  await Promise.all(pending)
}

const clients = {
  // The documented use: insert and forget; shutdown resolves once every record is acknowledged.
  // The budget is raised so a burst of 1M records stays in memory instead of spilling to disk.
  async 'scouter-queue'() {
    const spillDir = mkdtempSync(join(tmpdir(), 'bench-kafka-'))
    const queue = await ScouterQueue.fromPath({ credit: PROFILE }, new KafkaConfig({ brokers, topic, compressionType: 'none' }), {
      aggregate: false,
      memoryBudgetBytes: 1024 * 1024 * 1024,
      spillDir,
    })
    const credit = queue.get('credit')
    await measure(RECORDS, async () => {
      for (let i = 0; i < RECORDS; i++) {
        credit.insert(Features.from(row(i)))
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
      }
      const report = await queue.shutdown({ timeoutMs: 600_000 })
      if (report.credit.published !== RECORDS) throw new Error(`published ${report.credit.published} of ${RECORDS}: ${JSON.stringify(report.credit)}`)
    })
    rmSync(spillDir, { recursive: true, force: true })
  },

  // The KafkaJS-compatible API its documentation leads with; librdkafka batches by linger.
  async '@confluentinc/kafka-javascript'() {
    const { KafkaJS } = peers('@confluentinc/kafka-javascript')
    const kafka = new KafkaJS.Kafka({ kafkaJS: { brokers: [brokers], logLevel: KafkaJS.logLevel.NOTHING } })
    const producer = kafka.producer({ kafkaJS: { acks: -1, compression: KafkaJS.CompressionTypes.None } })
    await producer.connect()
    await measure(RECORDS, () => sendAll((batch) => producer.send({ topic, messages: batch.map((i) => ({ key: KEY, value: record(i) })) })))
    await producer.disconnect()
  },

  async kafkajs() {
    const { Kafka, logLevel, CompressionTypes } = peers('kafkajs')
    const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING })
    const producer = kafka.producer()
    await producer.connect()
    await measure(RECORDS, () =>
      sendAll((batch) => producer.send({ topic, acks: -1, compression: CompressionTypes.None, messages: batch.map((i) => ({ key: KEY, value: record(i) })) })),
    )
    await producer.disconnect()
  },

  // acks=all for a fair comparison (it defaults to the leader's ack unless idempotent).
  async '@platformatic/kafka'() {
    const { Producer, ProduceAcks, stringSerializers } = peers('@platformatic/kafka')
    const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [brokers], serializers: stringSerializers, acks: ProduceAcks.ALL, autocreateTopics: true })
    await producer.metadata({ topics: [topic], autocreateTopics: true })
    await measure(RECORDS, () => sendAll((batch) => producer.send({ messages: batch.map((i) => ({ topic, key: KEY, value: record(i) })) })))
    await producer.close()
  },

  // Its README: send several records together and bound concurrent sends.
  async 'kafka-crab-js'() {
    const { KafkaClient } = peers('kafka-crab-js')
    const kafka = new KafkaClient({ brokers, clientId: 'bench', logLevel: 'error' })
    const producer = kafka.createProducer({ configuration: { acks: 'all', 'compression.type': 'none' } })
    const key = Buffer.from(KEY)
    await measure(RECORDS, () => sendAll((batch) => producer.send({ topic, messages: batch.map((i) => ({ key, payload: Buffer.from(record(i)) })) })))
  },
}

try {
  if (client !== 'scouter-queue') peers(client)
} catch (error) {
  process.stdout.write(JSON.stringify({ unavailable: `not installed (${error.code ?? error.message})` }) + '\n')
  process.exit(0)
}
await clients[client]()
process.exit(0)
