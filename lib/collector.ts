import { EventEmitter } from 'node:events'

import { callNative, fromNative, ScouterQueueError } from './errors'
import * as native from './native'
import { TransportConfig } from './transports'

/** How a payload picks its collectors: by key, by topic (exact match), or all of them. */
export type Delivery = 'broadcast' | 'key' | 'topic'

/** Options of a `Payload`. */
export interface PayloadOptions {
  /** Default: `'key'` when `keys` are given, `'topic'` when `topics` are, else `'broadcast'`. */
  delivery?: Delivery
  /** The collector keys to reach (`'key'` delivery). */
  keys?: readonly string[]
  /** The topics to reach (`'topic'` delivery): collectors listening to any of them. */
  topics?: readonly string[]
  /** For a `'priority'` queue: lower runs first. Default: the queue's `defaultPriority`. */
  priority?: number
}

const NO_OPTIONS: PayloadOptions = Object.freeze({})
/** Shared by every payload without keys or topics, so a plain send allocates no arrays. */
const NONE: readonly string[] = Object.freeze([])

function invalidPayload(message: string): ScouterQueueError {
  return new ScouterQueueError('ERR_INVALID_PAYLOAD', message)
}

/**
 * A value to send through a `CollectorQueue`, with where it goes.
 * @example
 * new Payload({ id: 7 }, { topics: ['payments'], priority: 5 })
 */
export class Payload<T = unknown> {
  /** The value handed to each collector. */
  readonly value: T
  /** How the payload picks its collectors. */
  readonly delivery: Delivery
  /** The collector keys, for `'key'` delivery. */
  readonly keys: readonly string[]
  /** The topics, for `'topic'` delivery. */
  readonly topics: readonly string[]
  /** The priority, if one was given. */
  readonly priority: number | undefined

  /** Throws `ERR_INVALID_PAYLOAD` for options that cannot go together. */
  constructor(value: T, options: PayloadOptions = NO_OPTIONS) {
    const keys = options.keys === undefined ? NONE : Array.from(options.keys, String)
    const topics = options.topics === undefined ? NONE : Array.from(options.topics, String)
    if (options.delivery === undefined && keys.length > 0 && topics.length > 0) {
      throw invalidPayload('a payload with both keys and topics needs an explicit delivery')
    }
    const delivery = options.delivery ?? (keys.length > 0 ? 'key' : topics.length > 0 ? 'topic' : 'broadcast')
    if (delivery !== 'broadcast' && delivery !== 'key' && delivery !== 'topic') {
      throw invalidPayload(`delivery must be 'broadcast', 'key' or 'topic', got ${String(delivery)}`)
    }
    if (delivery === 'key' && keys.length === 0) throw invalidPayload("'key' delivery needs at least one key")
    if (delivery === 'topic' && topics.length === 0) throw invalidPayload("'topic' delivery needs at least one topic")
    if (options.priority !== undefined && !Number.isFinite(options.priority)) {
      throw invalidPayload(`priority must be a finite number, got ${String(options.priority)}`)
    }
    this.value = value
    this.delivery = delivery
    this.keys = keys
    this.topics = topics
    this.priority = options.priority
  }
}

/** What a collector's handler, setup and teardown receive: one context per collector. */
export interface CollectorContext<S = any> {
  /** The collector's key. */
  readonly key: string
  /** The topics the collector listens to. */
  readonly topics: readonly string[]
  /** Aborted when the queue has shut down: a handler still running past the deadline should stop. */
  readonly signal: AbortSignal
  /** The collector's own state: what `setup` returned, or an empty object. */
  state: S
}

/** Handles one payload; its return value (or what its promise resolves to) is the collector's result. */
export type Handler<T = any, R = unknown> = (payload: Payload<T>, ctx: CollectorContext) => R | PromiseLike<R>

/** Options of a `Collector`. */
export interface CollectorOptions {
  /** Topics this collector listens to, for `'topic'` delivery. */
  topics?: readonly string[]
  /** Runs once before the queue starts; what it returns (if not `undefined`) becomes `ctx.state`. */
  setup?: (ctx: CollectorContext) => unknown
  /** Runs once after the queue has shut down. */
  teardown?: (ctx: CollectorContext) => unknown
}

/**
 * A destination for payloads: a JavaScript handler, or a built-in transport running in Rust.
 * @example
 * const audit = new Collector('audit', async (payload) => { await db.write(payload.value); return 'stored' }, { topics: ['payments'] })
 * const stream = Collector.fromTransport('stream', new FileQueueConfig({ dir: './data' }))
 */
export class Collector<T = any, R = unknown> {
  /** The collector's unique key. */
  readonly key: string
  /** Topics it listens to. */
  readonly topics: readonly string[]
  /** The handler, for a JavaScript collector. */
  readonly handler: Handler<T, R> | undefined
  /** The transport, for a built-in transport collector. */
  readonly transport: TransportConfig | undefined
  /** Setup and teardown hooks. */
  readonly options: Readonly<CollectorOptions>

  constructor(key: string, handler: Handler<T, R>, options: CollectorOptions = {}) {
    if (typeof handler !== 'function' && !(handler === undefined && this instanceof TransportCollector)) {
      throw new ScouterQueueError('ERR_INVALID_CONFIG', `collector '${key}' needs a handler function`)
    }
    this.key = String(key)
    this.topics = options.topics === undefined ? [] : Array.from(options.topics, String)
    this.handler = handler
    this.transport = undefined
    this.options = { ...options }
  }

  /**
   * A collector that hands each payload, as JSON, to a transport running entirely in Rust; the
   * transport's queue or topic is named after `key`. Its result is ok once the transport has taken
   * the payload (for the file queue: written; committed within `commitEveryMs`).
   */
  static fromTransport(key: string, transport: TransportConfig, options: Pick<CollectorOptions, 'topics'> = {}): Collector {
    return new TransportCollector(key, transport, options)
  }
}

class TransportCollector extends Collector<unknown, undefined> {
  override readonly transport: TransportConfig

  constructor(key: string, transport: TransportConfig, options: Pick<CollectorOptions, 'topics'>) {
    super(key, undefined as never, { topics: options.topics })
    this.transport = transport
  }
}

/** What a collector made of an event: its value, or the error it ended with. */
export type CollectorResult<R = unknown> =
  | { readonly collector: string; readonly ok: true; readonly value: R }
  | { readonly collector: string; readonly ok: false; readonly error: ScouterQueueError }

/** A collector as a custom router sees it. */
export interface CollectorInfo {
  readonly key: string
  readonly topics: readonly string[]
}

/** A custom router: returns the keys of the collectors a payload reaches. */
export type RouterFunction = (payload: Payload, collectors: readonly CollectorInfo[]) => Iterable<string>

/** A custom router object. */
export interface Router {
  /** The keys of the collectors `payload` reaches. */
  route(payload: Payload): Iterable<string>
}

/** A custom router class, constructed once with the queue's collectors. */
export type RouterClass = new (collectors: readonly CollectorInfo[]) => Router

/** Options of `CollectorQueue.start`; defaults follow Python's event_collector. */
export interface CollectorQueueOptions {
  /** The collectors; keys must be unique. */
  collectors: readonly Collector[]
  /**
   * Replaces the default routing (by key, topic or broadcast). It runs in JavaScript when
   * `send` is called, and the event crosses to the queue with the keys it returned.
   */
  router?: RouterFunction | RouterClass | Router
  /** `'fifo'` (default), `'lifo'`, or `'priority'` (a min-heap: lower numbers first). */
  queueType?: 'fifo' | 'lifo' | 'priority'
  /** The priority of payloads sent without one. Default 100. */
  defaultPriority?: number
  /** Size the pool by the load (default `true`); without it the pool stays at `maxConsumers`. */
  autoscale?: boolean
  /** Default 1. */
  minConsumers?: number
  /** Default 100000. */
  maxConsumers?: number
  /** Headroom over the work in progress, between 0 and 1. Default 0.15. */
  wipMargin?: number
  /** How often the monitor samples the load and resizes the pool. Default 10. */
  monitorIntervalMs?: number
  /** How often `'metrics'` is emitted; 0 (default) for never. */
  reportIntervalMs?: number
  /** The interval `avgLoad` averages over. Default 60000. */
  avgLoadIntervalMs?: number
  /** The window of the arrival and departure rates, at least 5000. Default 60000. */
  metricsWindowMs?: number
  /** How many recent events the service and wait times average. Default 500. */
  serviceWindowSize?: number
  /** Averages read 0 until the queue is this old. Default 3000. */
  metricsWarmupMs?: number
  /** How long `shutdown` lets running handlers finish. Default 10000. */
  consumerShutdownTimeoutMs?: number
}

/**
 * A reading of the queue. Times are in seconds and rates in events per second, so that
 * `wip = arrivalRate * serviceTime` (Little's law). Averages read 0 during the warm-up.
 */
export type CollectorMetrics = native.CollectorMetrics

/** What became of the events sent: `published = processed + timedOut + notProcessed` once shut down. */
export type CollectorReport = native.CollectorReport

/** Options of `CollectorQueue.shutdown`. */
export interface CollectorShutdownOptions {
  /** How long running handlers (and, with `drain`, queued events) may take. Default: `consumerShutdownTimeoutMs`. */
  timeoutMs?: number
  /** Keep taking queued events until the deadline (default `true`); `false` reports them at once. */
  drain?: boolean
  /** Aborting it ends the wait at once, as if the deadline had passed. */
  signal?: AbortSignal
}

const kHold = Symbol('hold')
const kHeld = Symbol('held')
const kSettle = Symbol('settle')
const kFail = Symbol('fail')

/** An event sent through a `CollectorQueue`; `wait()` for its results. */
export class CollectorEvent<R = unknown> {
  /** The event's id in its queue. */
  readonly id: number
  /** The payload sent. */
  readonly payload: Payload
  #waitTime: number | undefined
  #serviceTime: number | undefined
  #results: CollectorResult<R>[] | undefined
  #error: unknown
  #promise: Promise<CollectorResult<R>[]> | undefined
  #resolve: ((results: CollectorResult<R>[]) => void) | undefined
  #reject: ((error: unknown) => void) | undefined
  // The value of the first collector to finish, then of the others by index:
  // most events reach one collector, and then no array is needed.
  #firstHeld = -1
  #firstValue: unknown
  #held: unknown[] | undefined

  /** @internal */
  constructor(id: number, payload: Payload) {
    this.id = id
    this.payload = payload
  }

  /** Whether every collector reached has given its result. */
  get done(): boolean {
    return this.#results !== undefined || this.#error !== undefined
  }

  /** Seconds the event waited for a consumer, once done. */
  get waitTime(): number | undefined {
    return this.#waitTime
  }

  /** Seconds from a consumer taking it to its last result, once done (0 if none took it). */
  get serviceTime(): number | undefined {
    return this.#serviceTime
  }

  /** The results, once done. */
  get results(): readonly CollectorResult<R>[] | undefined {
    return this.#results
  }

  /**
   * Resolves with one result per collector reached, in the order they were reached (a payload
   * that reached none resolves with `[]`). Handler errors are results, not rejections; it rejects
   * only if the event could not be queued at all.
   */
  wait(): Promise<CollectorResult<R>[]> {
    if (this.#results !== undefined) return Promise.resolve(this.#results)
    if (this.#error !== undefined) return Promise.reject(this.#error)
    this.#promise ??= new Promise<CollectorResult<R>[]>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    return this.#promise
  }

  /** @internal */
  [kHold](collector: number, value: unknown): void {
    if (this.#firstHeld === -1) {
      this.#firstHeld = collector
      this.#firstValue = value
    } else (this.#held ??= [])[collector] = value
  }

  /** @internal */
  [kHeld](collector: number): unknown {
    return collector === this.#firstHeld ? this.#firstValue : this.#held?.[collector]
  }

  /** @internal */
  [kSettle](results: CollectorResult<R>[], waitTime: number, serviceTime: number): void {
    this.#results = results
    this.#firstValue = this.#held = undefined
    this.#waitTime = waitTime
    this.#serviceTime = serviceTime
    this.#resolve?.(results)
  }

  /** @internal The event never reached the queue. */
  [kFail](error: unknown): void {
    this.#error = error
    this.#reject?.(error)
  }
}

/** Sends payloads into a `CollectorQueue`. */
export class EventPublisher {
  readonly #send: (payload: unknown) => CollectorEvent

  /** @internal */
  constructor(send: (payload: unknown) => CollectorEvent) {
    this.#send = send
  }

  /**
   * Sends a payload (a plain value is sent as a broadcast `Payload`) and returns its event at once;
   * the payload crosses to the queue at the end of the tick, with the others sent in it. Throws
   * `ERR_QUEUE_CLOSED` after shutdown began, `ERR_UNKNOWN_COLLECTOR` for a key the queue does not
   * have, `ERR_ROUTER` if a custom router throws.
   */
  send<R = unknown>(payload: unknown): CollectorEvent<R> {
    return this.#send(payload) as CollectorEvent<R>
  }
}

/** Queues not shut down, which the exit hook settles. */
const live = new Set<CollectorQueue>()
let exitHookInstalled = false
const kExit = Symbol('exit')

/** Payloads held in JavaScript before they cross in one call. */
const MAX_PENDING = 1024
/** `publish` row: id, priority (NaN: the default), mode, number of keys or topics. */
const ROW = 4
const MODE = { broadcast: 0, key: 1, topic: 2 } as const
/** Result kinds in completions, as the binding encodes them. */
const HELD = 0
const EMPTY = 1
const JSON_VALUE = 2

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
}

function toRouter(router: CollectorQueueOptions['router'], infos: readonly CollectorInfo[]): RouterFunction | undefined {
  if (router === undefined) return undefined
  if (typeof router === 'function') {
    if (typeof router.prototype?.route === 'function') {
      const instance = new (router as RouterClass)(infos)
      return (payload) => instance.route(payload)
    }
    return router as RouterFunction
  }
  if (typeof router.route === 'function') return (payload) => router.route(payload)
  throw new ScouterQueueError('ERR_INVALID_CONFIG', 'router must be a function, a class with a route() method, or an object with one')
}

/**
 * A queue of payloads delivered to collectors by key, topic or broadcast, through a pool of
 * competing consumers in Rust that autoscales between `minConsumers` and `maxConsumers`.
 *
 * Emits `'initialized'` (the queue) on the turn after it starts, `'metrics'` every
 * `reportIntervalMs`, and `'shutdown'` (the report) once shut down.
 *
 * @example
 * await using cq = await CollectorQueue.start({ collectors: [audit], queueType: 'priority' })
 * const event = cq.publisher().send(new Payload({ id: 7 }, { topics: ['payments'], priority: 5 }))
 * const results = await event.wait()   // [{ collector: 'audit', ok: true, value: 'stored' }]
 */
export class CollectorQueue extends EventEmitter {
  readonly #native: native.NativeCollectorQueue
  readonly #options: CollectorQueueOptions
  readonly #collectors: readonly Collector[]
  readonly #contexts: CollectorContext[]
  readonly #aborts: AbortController[]
  readonly #index: Map<string, number>
  readonly #router: RouterFunction | undefined
  readonly #needsJson: boolean
  readonly #events = new Map<number, CollectorEvent>()
  readonly #publisher = new EventPublisher((payload) => this.#send(payload))
  #nextId = 1
  #rows = new Float64Array(ROW * MAX_PENDING)
  #pending = 0
  #names: string[] = []
  #bodies: string[] = []
  #publishScheduled = false
  #settled = new Float64Array(2 * MAX_PENDING)
  #settledCount = 0
  #messages: string[] = []
  #settleScheduled = false
  #closed = false
  #shutdown: Promise<CollectorReport> | undefined
  #drained: (() => void) | undefined
  /** Keeps the process alive while events are in flight, and only then. */
  readonly #keepAlive: NodeJS.Timeout
  readonly #reporter: NodeJS.Timeout | undefined

  private constructor(nativeQueue: native.NativeCollectorQueue, options: CollectorQueueOptions, contexts: CollectorContext[], aborts: AbortController[], router: RouterFunction | undefined) {
    super()
    this.#native = nativeQueue
    this.#options = options
    this.#collectors = options.collectors
    this.#contexts = contexts
    this.#aborts = aborts
    this.#router = router
    this.#index = new Map(options.collectors.map((c, i) => [c.key, i]))
    this.#needsJson = options.collectors.some((c) => c.transport !== undefined)
    this.#keepAlive = setInterval(() => {}, 1 << 30).unref()
    const every = options.reportIntervalMs ?? 0
    if (every > 0) this.#reporter = setInterval(() => this.emit('metrics', this.metrics()), every).unref()
  }

  /**
   * Runs every collector's `setup`, then starts the queue. Rejects with `ERR_INVALID_CONFIG` for
   * options that cannot work and `ERR_START_FAILED` when a setup or a transport fails (naming the
   * collector); what was set up is torn down again.
   */
  static async start(options: CollectorQueueOptions): Promise<CollectorQueue> {
    const collectors = Array.from(options.collectors ?? [])
    if (collectors.some((c) => !(c instanceof Collector))) {
      throw new ScouterQueueError('ERR_INVALID_CONFIG', 'collectors must be Collector instances')
    }
    const infos = collectors.map((c) => ({ key: c.key, topics: c.topics }))
    const router = toRouter(options.router, infos)
    const spec = JSON.stringify({
      options: {
        queueType: options.queueType,
        defaultPriority: options.defaultPriority,
        autoscale: options.autoscale,
        minConsumers: options.minConsumers,
        maxConsumers: options.maxConsumers,
        wipMargin: options.wipMargin,
        monitorIntervalMs: options.monitorIntervalMs,
        avgLoadIntervalMs: options.avgLoadIntervalMs,
        metricsWindowMs: options.metricsWindowMs,
        serviceWindowSize: options.serviceWindowSize,
        metricsWarmupMs: options.metricsWarmupMs,
        consumerShutdownTimeoutMs: options.consumerShutdownTimeoutMs,
      },
      collectors: collectors.map((c) => ({ key: c.key, topics: c.topics, transport: c.transport })),
    })
    const aborts = collectors.map(() => new AbortController())
    const contexts: CollectorContext[] = collectors.map((c, i) => ({ key: c.key, topics: c.topics, signal: aborts[i].signal, state: {} }))
    const setUp: number[] = []
    // Bound before the queue exists: the binding needs both callbacks to start it.
    let queue: CollectorQueue | undefined
    try {
      for (const [i, c] of collectors.entries()) {
        if (c.options.setup === undefined) continue
        try {
          const state = await c.options.setup(contexts[i])
          if (state !== undefined) contexts[i].state = state
        } catch (error) {
          throw new ScouterQueueError('ERR_START_FAILED', `collector '${c.key}' setup failed: ${messageOf(error)}`, { cause: error })
        }
        setUp.push(i)
      }
      const nativeQueue = await callNative(() =>
        native.startCollectorQueue(
          spec,
          (jobs) => guard(() => queue !== undefined && queue.#runJobs(jobs)),
          (numbers, texts) => guard(() => queue !== undefined && queue.#complete(numbers, texts)),
        ),
      )
      queue = new CollectorQueue(nativeQueue, { ...options, collectors }, contexts, aborts, router)
    } catch (error) {
      await tearDown(collectors, contexts, setUp)
      throw fromNative(error)
    }
    const started = queue
    live.add(started)
    if (!exitHookInstalled) {
      process.on('exit', () => live.forEach((q) => q[kExit]()))
      exitHookInstalled = true
    }
    setImmediate(() => started.emit('initialized', started))
    return started
  }

  /** The publisher of this queue. */
  publisher(): EventPublisher {
    return this.#publisher
  }

  /** A reading of the queue now. */
  metrics(): CollectorMetrics {
    return this.#native.metrics()
  }

  /** The counts so far. */
  report(): CollectorReport {
    return this.#native.report()
  }

  /** Whether `shutdown` has begun (then `send` throws `ERR_QUEUE_CLOSED`). */
  get closed(): boolean {
    return this.#closed
  }

  /**
   * Stops intake; consumers go on taking queued events (with `drain`) until the deadline, then the
   * handlers still running are given up on (their results are `ERR_SHUTDOWN_TIMEOUT`, their
   * `ctx.signal` aborted) and events still queued get `ERR_NOT_PROCESSED` results: every event sent
   * settles, none is dropped unseen. Then each collector's `teardown` runs, `'shutdown'` is emitted
   * and the report returned. Calling it again returns the same report.
   */
  shutdown(options: CollectorShutdownOptions = {}): Promise<CollectorReport> {
    const { signal } = options
    const timeoutMs = signal?.aborted ? 0 : Math.max(0, Math.min(options.timeoutMs ?? this.#options.consumerShutdownTimeoutMs ?? 10_000, 0xffff_ffff))
    const drain = options.drain ?? true
    if (this.#shutdown === undefined) {
      this.#flushPublish()
      this.#closed = true
      live.delete(this)
      this.#shutdown = this.#settleAll(this.#native.shutdown(timeoutMs, drain))
    } else {
      void this.#native.shutdown(timeoutMs, drain)
    }
    if (signal !== undefined && !signal.aborted) {
      const abort = () => void this.#native.shutdown(0, drain)
      signal.addEventListener('abort', abort, { once: true })
      const remove = () => signal.removeEventListener('abort', abort)
      this.#shutdown.then(remove, remove)
    }
    return this.#shutdown
  }

  /** `await using cq = await CollectorQueue.start(...)` shuts the queue down at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  /**
   * @internal At process exit no handler can run any more: what is queued is reported, running
   * handlers are given up on, and transports flush what they took.
   */
  [kExit](): void {
    try {
      this.#flushPublish()
      this.#closed = true
      this.#native.shutdownSync(0, false)
    } catch (error) {
      process.stderr.write(`scouter-queue: collector queue shutdown at exit failed: ${fromNative(error)}\n`)
    }
  }

  async #settleAll(shutdown: Promise<CollectorReport>): Promise<CollectorReport> {
    const report = await shutdown
    // Completions cross on their own path; the last of them may still be on its way.
    if (this.#events.size > 0) await new Promise<void>((resolve) => (this.#drained = resolve))
    for (const abort of this.#aborts) abort.abort(new ScouterQueueError('ERR_QUEUE_CLOSED', 'the collector queue has shut down'))
    clearInterval(this.#keepAlive)
    if (this.#reporter !== undefined) clearInterval(this.#reporter)
    await tearDown(this.#collectors, this.#contexts, this.#collectors.map((_, i) => i))
    this.emit('shutdown', report)
    return report
  }

  #send(value: unknown): CollectorEvent {
    if (this.#closed) throw new ScouterQueueError('ERR_QUEUE_CLOSED', 'queue is closed: shutdown has started, nothing more is accepted')
    const payload = value instanceof Payload ? value : new Payload(value)
    let mode: number = MODE[payload.delivery]
    let names: readonly string[] = payload.delivery === 'key' ? payload.keys : payload.delivery === 'topic' ? payload.topics : []
    if (this.#router !== undefined) {
      try {
        names = Array.from(this.#router(payload, this.#collectors), String)
      } catch (error) {
        throw new ScouterQueueError('ERR_ROUTER', `the router failed: ${messageOf(error)}`, { cause: error })
      }
      mode = MODE.key
    }
    if (mode === MODE.key) {
      for (const key of names) {
        if (!this.#index.has(key)) {
          throw new ScouterQueueError('ERR_UNKNOWN_COLLECTOR', `unknown collector '${key}'; this queue has: ${[...this.#index.keys()].join(', ')}`)
        }
      }
    }
    let body: string | undefined
    if (this.#needsJson) {
      try {
        body = JSON.stringify(payload.value) ?? 'null'
      } catch (error) {
        throw invalidPayload(`a transport collector takes the payload as JSON, and this one cannot be: ${messageOf(error)}`)
      }
    }
    const id = this.#nextId++
    const event = new CollectorEvent(id, payload)
    if (this.#events.size === 0) this.#keepAlive.ref()
    this.#events.set(id, event)
    const at = this.#pending * ROW
    this.#rows[at] = id
    this.#rows[at + 1] = payload.priority ?? NaN
    this.#rows[at + 2] = mode
    this.#rows[at + 3] = names.length
    for (const name of names) this.#names.push(name)
    if (body !== undefined) this.#bodies.push(body)
    if (++this.#pending === MAX_PENDING) this.#flushPublish()
    else if (!this.#publishScheduled) {
      this.#publishScheduled = true
      queueMicrotask(() => this.#flushPublish())
    }
    return event
  }

  #flushPublish(): void {
    this.#publishScheduled = false
    if (this.#pending === 0) return
    const rows = this.#rows.subarray(0, this.#pending * ROW)
    const names = this.#names
    const bodies = this.#needsJson ? this.#bodies : undefined
    const count = this.#pending
    this.#pending = 0
    this.#names = []
    this.#bodies = []
    try {
      this.#native.publish(rows, names, bodies)
    } catch (error) {
      // Checked in `send` already, so this is not expected; still, no event is left waiting.
      const refused = fromNative(error)
      for (let i = 0; i < count; i++) this.#finish(rows[i * ROW])?.[kFail](refused)
    }
  }

  /** Called by the binding with rows of [ticket, eventId, collector], once per batch. */
  #runJobs(jobs: Float64Array): void {
    for (let i = 0; i < jobs.length; i += 3) {
      const ticket = jobs[i]
      const event = this.#events.get(jobs[i + 1])
      const collector = jobs[i + 2]
      const handler = this.#collectors[collector]?.handler
      if (event === undefined || handler === undefined) {
        this.#jobFailed(ticket, undefined, collector, new Error(`no event ${jobs[i + 1]} for collector ${collector}`))
        continue
      }
      let result: unknown
      try {
        result = handler(event.payload, this.#contexts[collector])
      } catch (error) {
        this.#jobFailed(ticket, event, collector, error)
        continue
      }
      if (isThenable(result)) void this.#awaitJob(ticket, event, collector, result)
      else this.#jobDone(ticket, event, collector, result)
    }
    this.#flushSettled()
  }

  /** An async function rather than `then` with two closures: V8 awaits a native promise without allocating them. */
  async #awaitJob(ticket: number, event: CollectorEvent, collector: number, result: PromiseLike<unknown>): Promise<void> {
    let value: unknown
    try {
      value = await result
    } catch (error) {
      return this.#jobFailed(ticket, event, collector, error)
    }
    this.#jobDone(ticket, event, collector, value)
  }

  #jobDone(ticket: number, event: CollectorEvent, collector: number, value: unknown): void {
    event[kHold](collector, value)
    this.#pushSettled(ticket, 1)
  }

  #jobFailed(ticket: number, event: CollectorEvent | undefined, collector: number, error: unknown): void {
    event?.[kHold](collector, error)
    this.#messages.push(messageOf(error))
    this.#pushSettled(ticket, 0)
  }

  #pushSettled(ticket: number, ok: number): void {
    if (this.#settledCount * 2 === this.#settled.length) {
      const grown = new Float64Array(this.#settled.length * 2)
      grown.set(this.#settled)
      this.#settled = grown
    }
    this.#settled[this.#settledCount * 2] = ticket
    this.#settled[this.#settledCount * 2 + 1] = ok
    this.#settledCount++
    if (!this.#settleScheduled) {
      this.#settleScheduled = true
      queueMicrotask(() => this.#flushSettled())
    }
  }

  #flushSettled(): void {
    this.#settleScheduled = false
    if (this.#settledCount === 0) return
    const rows = this.#settled.subarray(0, this.#settledCount * 2)
    const messages = this.#messages
    this.#settledCount = 0
    if (messages.length > 0) this.#messages = []
    this.#native.settle(rows, messages)
  }

  /** Called by the binding with completed events (encoded as `encode_completions` describes). */
  #complete(numbers: Float64Array, texts: string[]): void {
    let i = 0
    let t = 0
    while (i < numbers.length) {
      const id = numbers[i]
      const waitTime = numbers[i + 1]
      const serviceTime = numbers[i + 2]
      const count = numbers[i + 3]
      i += 4
      const event = this.#finish(id)
      const results: CollectorResult[] = new Array(count)
      for (let r = 0; r < count; r++, i += 2) {
        const collector = numbers[i]
        const kind = numbers[i + 1]
        const key = this.#collectors[collector].key
        if (kind === HELD) results[r] = { collector: key, ok: true, value: event?.[kHeld](collector) }
        else if (kind === EMPTY) results[r] = { collector: key, ok: true, value: undefined }
        else if (kind === JSON_VALUE) results[r] = { collector: key, ok: true, value: JSON.parse(texts[t++]) }
        else {
          const code = texts[t++] as ScouterQueueError['code']
          const message = texts[t++]
          const cause = code === 'ERR_HANDLER' ? event?.[kHeld](collector) : undefined
          results[r] = { collector: key, ok: false, error: new ScouterQueueError(code, message, { cause }) }
        }
      }
      event?.[kSettle](results, waitTime, serviceTime)
    }
  }

  /** Forgets an event once it has settled, and lets the process go when none is left. */
  #finish(id: number): CollectorEvent | undefined {
    const event = this.#events.get(id)
    this.#events.delete(id)
    if (this.#events.size === 0) {
      this.#keepAlive.unref()
      this.#drained?.()
    }
    return event
  }
}

/** A call from the binding must not throw back into it: a bug here is reported, not fatal. */
function guard(call: () => void): void {
  try {
    call()
  } catch (error) {
    process.emitWarning(`scouter-queue: collector queue callback failed: ${messageOf(error)}`)
  }
}

/** Runs the teardown of the collectors at `indices`; a failing one is reported as a warning. */
async function tearDown(collectors: readonly Collector[], contexts: CollectorContext[], indices: number[]): Promise<void> {
  for (const i of indices) {
    const teardown = collectors[i].options.teardown
    if (teardown === undefined) continue
    try {
      await teardown(contexts[i])
    } catch (error) {
      process.emitWarning(`scouter-queue: collector '${collectors[i].key}' teardown failed: ${messageOf(error)}`)
    }
  }
}

/** The events of a `CollectorQueue` and their arguments. */
export interface CollectorQueue {
  /** Once started, on the turn after `start` resolves. */
  on(event: 'initialized', listener: (queue: CollectorQueue) => void): this
  /** Every `reportIntervalMs`. */
  on(event: 'metrics', listener: (metrics: CollectorMetrics) => void): this
  /** Once shut down, with the report. */
  on(event: 'shutdown', listener: (report: CollectorReport) => void): this
  /** Like `on`, for one emission. */
  once(event: 'initialized', listener: (queue: CollectorQueue) => void): this
  once(event: 'metrics', listener: (metrics: CollectorMetrics) => void): this
  once(event: 'shutdown', listener: (report: CollectorReport) => void): this
}
