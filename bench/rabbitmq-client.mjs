// One client's run in its own process: publish RECORDS records of about 256 B to RabbitMQ and wait
// until every one is confirmed. Args: <client> <amqp address> <queue> <records>
import { fileURLToPath } from 'node:url'

import amqplib from 'amqplib'

import { Features, RabbitMQConfig, ScouterQueue } from '../dist/index.mjs'
import { measure } from './lib/measure.mjs'

const [client, address, queueName, count] = process.argv.slice(2)
const RECORDS = Number(count)
const PROFILE = fileURLToPath(new URL('../__test__/fixtures/credit.json', import.meta.url))
// About 256 B once published as a raw record; amqplib sends the very same JSON.
const row = (i) => ({ id: i, age: 20 + (i % 50), state: 'CA' })
const UID = '0195d4a2-7c1e-7d3a-9a51-4a7f0b0c1d2e'
const rawRecord = (i) => {
  const { id, age, state } = row(i)
  return JSON.stringify({
    created_at: new Date().toISOString(),
    space: 'lending',
    name: 'credit',
    version: '1.0.0',
    uid: UID,
    entity_type: 'Feature',
    features: [{ Int: { name: 'id', value: id } }, { Int: { name: 'age', value: age } }, { String: { name: 'state', value: state } }],
  })
}

const clients = {
  async 'scouter-queue'() {
    const queue = await ScouterQueue.fromPath({ credit: PROFILE }, new RabbitMQConfig({ address, queue: queueName }), { aggregate: false })
    const credit = queue.get('credit')
    await measure(RECORDS, async () => {
      for (let i = 0; i < RECORDS; i++) {
        credit.insert(Features.from(row(i)))
        if (i % 1000 === 999) await new Promise((r) => setImmediate(r))
      }
      const report = await queue.shutdown({ timeoutMs: 600_000 })
      if (report.credit.published !== RECORDS) throw new Error(`published ${report.credit.published} of ${RECORDS}`)
    })
  },

  // amqplib as its documentation recommends for throughput: a confirm channel, persistent messages,
  // publish until the buffer is full, wait for 'drain', then waitForConfirms() for the rest.
  async amqplib() {
    const connection = await amqplib.connect(address)
    const channel = await connection.createConfirmChannel()
    await channel.assertQueue(queueName, { durable: true })
    await measure(RECORDS, async () => {
      for (let i = 0; i < RECORDS; i++) {
        const body = Buffer.from(rawRecord(i))
        if (!channel.sendToQueue(queueName, body, { persistent: true })) await new Promise((r) => channel.once('drain', r))
      }
      await channel.waitForConfirms()
    })
    await connection.close()
  },
}

await clients[client]()
