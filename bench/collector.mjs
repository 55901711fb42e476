// npm run bench (second part): events through a CollectorQueue with a trivial
// async JavaScript collector, against a plain JavaScript array-and-promise
// queue with competing consumers doing the same, in the same run. Every
// figure is the median of several runs.
import { performance } from 'node:perf_hooks'

import { Collector, CollectorQueue } from '../dist/index.mjs'

const RUNS = Number(process.env.BENCH_RUNS ?? 5)
const N = 100_000
/** Events sent per turn of the event loop, as a busy server would. */
const PER_TURN = 1000
const LATENCY_EVENTS = 2000
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const turn = () => new Promise((resolve) => setImmediate(resolve))
const handler = async (payload) => payload.value ?? payload

/**
 * The baseline: an array with a read index, a promise per event, and `consumers`
 * async loops competing for the events; each result list is built as ours is.
 */
class PlainQueue {
  #items = []
  #head = 0
  #idle = []
  #closed = false

  constructor(consumers) {
    for (let i = 0; i < consumers; i++) this.#consume()
  }

  send(value) {
    let resolve
    const promise = new Promise((r) => (resolve = r))
    this.#items.push({ value, resolve })
    this.#idle.pop()?.()
    return { wait: () => promise }
  }

  close() {
    this.#closed = true
    for (const wake of this.#idle.splice(0)) wake()
  }

  async #consume() {
    for (;;) {
      if (this.#head === this.#items.length) {
        if (this.#closed) return
        await new Promise((wake) => this.#idle.push(wake))
        continue
      }
      const event = this.#items[this.#head]
      this.#items[this.#head++] = undefined
      if (this.#head > 4096 && this.#head * 2 > this.#items.length) {
        this.#items = this.#items.slice(this.#head)
        this.#head = 0
      }
      try {
        event.resolve([{ collector: 'c', ok: true, value: await handler(event.value) }])
      } catch (error) {
        event.resolve([{ collector: 'c', ok: false, error }])
      }
    }
  }
}

/** Sends N events PER_TURN at a time, then waits for all: events/s, and ns of JS-thread time per event. */
async function throughput(send) {
  const before = performance.eventLoopUtilization()
  const start = performance.now()
  const waits = new Array(N)
  for (let i = 0; i < N; i++) {
    waits[i] = send(i).wait()
    if (i % PER_TURN === PER_TURN - 1) await turn()
  }
  await Promise.all(waits)
  const ms = performance.now() - start
  const busy = performance.eventLoopUtilization(before).active
  return { rate: (N / ms) * 1000, jsNs: (busy * 1e6) / N }
}

/** One event at a time: microseconds from send to wait() resolving. */
async function latency(send) {
  const times = []
  for (let i = 0; i < LATENCY_EVENTS; i++) {
    const start = performance.now()
    await send(i).wait()
    times.push((performance.now() - start) * 1000)
  }
  return median(times)
}

async function measure(name, open) {
  const rates = []
  const jsNs = []
  const latencies = []
  for (let r = 0; r < RUNS; r++) {
    const { send, close } = await open()
    await throughput(send) // warm-up: JIT, and the pool grown to the load
    const result = await throughput(send)
    rates.push(result.rate)
    jsNs.push(result.jsNs)
    latencies.push(await latency(send))
    await close()
  }
  return { name, rate: median(rates), jsNs: median(jsNs), latency: median(latencies) }
}

function collectorQueue(options) {
  return async () => {
    const cq = await CollectorQueue.start({ collectors: [new Collector('c', handler)], ...options })
    const publisher = cq.publisher()
    return { send: (value) => publisher.send(value), close: () => cq.shutdown() }
  }
}

function plainQueue(consumers) {
  return async () => {
    const queue = new PlainQueue(consumers)
    return { send: (value) => queue.send(value), close: () => queue.close() }
  }
}

const fmt = (x, digits = 0) => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

console.log(`\ncollector queue benchmark (node ${process.version}, median of ${RUNS} runs, ${fmt(N)} events sent ${PER_TURN} per turn, handler: async (p) => p.value)\n`)
const rows = [
  await measure('plain JS array + promise queue, 64 consumers (baseline)', plainQueue(64)),
  await measure('CollectorQueue, autoscaled (defaults)', collectorQueue({})),
  await measure('CollectorQueue, fixed pool of 64 consumers', collectorQueue({ autoscale: false, maxConsumers: 64 })),
  await measure('CollectorQueue, fixed pool of 1024 consumers', collectorQueue({ autoscale: false, maxConsumers: 1024 })),
]
const base = rows[0]
console.log('                                                          events/s   x base   ns/event wall   ns/event JS thread   round trip µs')
for (const r of rows) {
  console.log(
    `  ${r.name.padEnd(56)} ${fmt(r.rate).padStart(9)}   ${fmt(r.rate / base.rate, 2).padStart(6)}   ${fmt(1e9 / r.rate).padStart(13)}   ${fmt(r.jsNs).padStart(18)}   ${fmt(r.latency, 1).padStart(13)}`,
  )
}
