/**
 * The main job, end to end: an HTTP server that inserts the features of every request into a
 * ScouterQueue on the embedded file queue, driven by a built-in load, then shut down gracefully.
 *
 *   npm run demo [-- --requests 5000 --concurrency 32 --dir ./scouter-queue-data]
 */
import { createServer, Agent, request } from 'node:http'
import { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { parseArgs } from 'node:util'

import { FileQueue, FileQueueConfig, Features, ScouterQueue } from './index'

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '5000' },
    concurrency: { type: 'string', default: '32' },
    dir: { type: 'string', default: './scouter-queue-data' },
  },
})
const requests = Number(values.requests)
const concurrency = Number(values.concurrency)
const dir = values.dir!
const profiles = join(__dirname, '..', '__test__', 'fixtures')

async function main(): Promise<void> {
  const queue = await ScouterQueue.fromPath({ credit: join(profiles, 'credit.json') }, new FileQueueConfig({ dir, maxEventsPerFile: 2000 }))
  queue.on('error', (error) => console.error(`background error [${error.code}] ${error.message}`))
  const credit = queue.get('credit')

  // The application: score a credit request, and record its features without waiting for anything.
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const age = Number(url.searchParams.get('age'))
    const income = Number(url.searchParams.get('income'))
    credit.insert(Features.from({ age, income, state: url.searchParams.get('state') ?? 'CA' }))
    res.end(JSON.stringify({ score: Math.min(1, income / 10_000) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  console.log(`server on http://127.0.0.1:${port}; sending ${requests} requests, ${concurrency} at a time`)

  const started = process.hrtime.bigint()
  await drive(port)
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  console.log(`${requests} requests in ${seconds.toFixed(2)} s (${Math.round(requests / seconds)} req/s)`)

  // Graceful shutdown, as on SIGTERM: stop taking requests, then settle the queue.
  await new Promise((resolve) => server.close(resolve))
  const report = await queue.shutdown({ timeoutMs: 10_000 })
  console.log('report:', report)
  console.log(`batch files in ${join(dir, 'credit')}:`)
  for (const batch of FileQueue.list({ dir, name: 'credit' })) {
    console.log(`  ${batch.state}  ${FileQueue.read(batch).length} records  ${batch.path}`)
  }
  console.log(`read them with: npx scouter-queue cat ${dir} credit | head`)
}

async function drive(port: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency })
  let next = 0
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const path = `/score?age=${20 + (i % 50)}&income=${1000 + ((i * 37) % 9000)}&state=${i % 3 ? 'CA' : 'NY'}`
      request({ host: '127.0.0.1', port, path, agent }, (res) => {
        res.resume().on('end', resolve)
      })
        .on('error', reject)
        .end()
    })
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < requests) await one(next++)
    }),
  )
  agent.destroy()
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
