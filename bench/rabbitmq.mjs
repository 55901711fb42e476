// npm run bench:rabbitmq: the same records through scouter-queue and through amqplib on a confirm
// channel, against one local RabbitMQ (scripts/rabbitmq.sh), each client in its own process, runs
// alternating, medians reported.
import { execFile, execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import amqplib from 'amqplib'

import { median } from './lib/measure.mjs'

const RECORDS = Number(process.env.BENCH_RECORDS ?? 200_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const CLIENT = fileURLToPath(new URL('./rabbitmq-client.mjs', import.meta.url))
const address = execFileSync(fileURLToPath(new URL('../scripts/rabbitmq.sh', import.meta.url)), ['start'], { encoding: 'utf8' }).trim().split('\n').pop()

async function run(client) {
  const queue = `bench-${client}-${Date.now()}`
  const { stdout } = await promisify(execFile)(process.execPath, [CLIENT, client, address, queue, String(RECORDS)], { maxBuffer: 1 << 20 })
  const connection = await amqplib.connect(address)
  const channel = await connection.createChannel()
  const { messageCount } = await channel.checkQueue(queue)
  const sample = await channel.get(queue, { noAck: true })
  await channel.deleteQueue(queue)
  await connection.close()
  if (messageCount !== RECORDS) throw new Error(`${client}: ${messageCount} of ${RECORDS} messages in the queue`)
  const measured = JSON.parse(stdout.trim().split('\n').pop())
  // The bytes a client sent, from the size of one message as the broker holds it.
  return { ...measured, mbPerSecond: (measured.recordsPerSecond * sample.content.length) / 1e6, bytesPerRecord: sample.content.length }
}

const results = { 'scouter-queue': [], amqplib: [] }
for (let r = 0; r < RUNS; r++) for (const client of Object.keys(results)) results[client].push(await run(client))

const fields = ['recordsPerSecond', 'mbPerSecond', 'jsCpuUsPerRecord', 'p99DelayMs', 'peakRssMb', 'bytesPerRecord']
const row = (client) => Object.fromEntries(fields.map((f) => [f, median(results[client].map((x) => x[f]))]))
const table = { 'scouter-queue': row('scouter-queue'), amqplib: row('amqplib') }
console.log(`RabbitMQ: ${RECORDS.toLocaleString('en-US')} persistent records of ~256 B until all confirmed, median of ${RUNS} runs (node ${process.version})\n`)
console.log('client           records/s     MB/s   JS-thread CPU us/record   p99 loop delay ms   peak RSS MB   B/record')
for (const [client, m] of Object.entries(table)) {
  console.log(`${client.padEnd(15)} ${m.recordsPerSecond.toFixed(0).padStart(10)} ${m.mbPerSecond.toFixed(2).padStart(8)} ${m.jsCpuUsPerRecord.toFixed(2).padStart(25)} ${m.p99DelayMs.toFixed(1).padStart(19)} ${m.peakRssMb.toFixed(0).padStart(13)} ${m.bytesPerRecord.toFixed(0).padStart(10)}`)
}
const ours = table['scouter-queue'], theirs = table.amqplib
console.log(`\nscouter-queue / amqplib: x${(ours.recordsPerSecond / theirs.recordsPerSecond).toFixed(2)} records/s, x${(ours.jsCpuUsPerRecord / theirs.jsCpuUsPerRecord).toFixed(2)} JS CPU per record, x${(ours.p99DelayMs / theirs.p99DelayMs).toFixed(2)} p99 delay`)
