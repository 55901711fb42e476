import { EventEmitter } from 'node:events'
import { resolve } from 'node:path'

import { callNative, fromNative, ScouterQueueError } from './errors'
import { Features, Metrics } from './items'
import * as native from './native'
import { FileQueueConfig, TransportConfig } from './transports'

/** What happened to one alias's items: `inserted = published + spilled + dropped + failed` once settled. */
export type AliasReport = native.AliasReport

/** The report of every alias, by alias. */
export type QueueReport = Record<string, AliasReport>

/** Options of a `ScouterQueue`, beside its transport. */
export interface QueueOptions {
  /** Bytes that may wait in memory per alias; beyond it records go to the file queue (or are dropped). Default 64 MiB. */
  memoryBudgetBytes?: number
  /** What happens beyond the budget: `'spill'` to the file queue (default, nothing lost) or `'drop'` (counted). */
  overflow?: 'spill' | 'drop'
  /** How long the automatic flush at process exit may take, for a queue never shut down. Default 5000. */
  exitTimeoutMs?: number
  /**
   * Aggregate items as Scouter's client does (default `true`): Psi bin counts, Spc sample means, Custom metric
   * means, published as Scouter's drift records. `false` publishes every item as a raw record instead.
   */
  aggregate?: boolean
  /**
   * The timed flush of Psi and Custom aggregates: one is published at the latest this long after its first item.
   * Default: `SCOUTER_QUEUE_PUBLISH_INTERVAL_SECS` (seconds), else 30000.
   */
  publishIntervalMs?: number
}

/** Options of `shutdown`. */
export interface ShutdownOptions {
  /** How long to wait for every record to be published; what is left then is written to the file queue. Default 30000. */
  timeoutMs?: number
  /** Aborting it ends the wait at once: what is unpublished is written to the file queue. */
  signal?: AbortSignal
}

/** Options of `installShutdownHooks`. */
export interface ShutdownHookOptions extends Pick<ShutdownOptions, 'timeoutMs'> {
  /** The signals to handle. Default `['SIGTERM', 'SIGINT']`. */
  signals?: NodeJS.Signals[]
}

/** A numeric field kind on the bound fast path. */
export type BoundFieldKind = 'int' | 'float'

/** Items held in JavaScript before they cross to Rust in one call. */
const MAX_PENDING_ITEMS = 1024
const MAX_PENDING_BYTES = 1 << 20
const BOUND_ROWS = 512

/** State shared by a queue and its aliases. */
interface Shared {
  readonly native: native.NativeQueue
  closed: boolean
}

/** Queues whose JavaScript-held items must be flushed if the process exits without `shutdown`. */
const live = new Set<ScouterQueue>()
let exitHookInstalled = false

function flushLiveQueuesAtExit(): void {
  for (const queue of live) queue[kExitFlush]()
}

const kExitFlush = Symbol('exitFlush')

function toReport(reports: AliasReport[]): QueueReport {
  const byAlias: QueueReport = {}
  for (const report of reports) byAlias[report.alias] = report
  return byAlias
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value)
  return value.constructor?.name ?? 'an object'
}

function closedError(): ScouterQueueError {
  return new ScouterQueueError('ERR_QUEUE_CLOSED', 'queue is closed: shutdown has started, nothing more is accepted')
}

/**
 * Publishes records for many aliases, each with its own profile, to one transport.
 * `insert` never blocks: records cross to a Rust worker per alias, which publishes them in the background.
 *
 * Emits `'error'` with a `ScouterQueueError` for problems in the background (a transport refusing,
 * a file that cannot be written); with no listener they are printed as process warnings instead.
 *
 * @example
 * const queue = await ScouterQueue.fromPath({ credit: './profiles/credit.json' })
 * queue.get('credit').insert(Features.from({ age: 42, income: 5100.5 }))
 * const report = await queue.shutdown()
 */
export class ScouterQueue extends EventEmitter {
  readonly #shared: Shared
  readonly #options: QueueOptions
  readonly #aliases = new Map<string, AliasQueue>()
  #shutdown: Promise<AliasReport[]> | undefined

  private constructor(nativeQueue: native.NativeQueue, options: QueueOptions) {
    super()
    this.#shared = { native: nativeQueue, closed: false }
    this.#options = options
  }

  /**
   * Starts a queue with one profile file per alias. Resolves when every alias's worker runs and its
   * transport is ready; rejects naming the alias and the reason when one cannot start.
   * @param paths profile file per alias, e.g. `{ credit: './profiles/credit.json' }`
   * @param transport where records go; the embedded file queue by default
   */
  static fromPath(paths: Record<string, string>, transport?: TransportConfig, options?: QueueOptions): Promise<ScouterQueue> {
    const aliases = Object.entries(paths).map(([alias, path]) => ({ alias, path: resolve(String(path)) }))
    return ScouterQueue.#start(aliases, transport, options)
  }

  /** Starts a queue from profiles given as objects (the JSON of Scouter profile files), one per alias. */
  static fromProfiles(profiles: Record<string, object>, transport?: TransportConfig, options?: QueueOptions): Promise<ScouterQueue> {
    const aliases = Object.entries(profiles).map(([alias, profile]) => ({ alias, profile }))
    return ScouterQueue.#start(aliases, transport, options)
  }

  static async #start(aliases: object[], transport: TransportConfig = new FileQueueConfig(), options: QueueOptions = {}): Promise<ScouterQueue> {
    const config = JSON.stringify({
      aliases,
      transport,
      memoryBudgetBytes: options.memoryBudgetBytes,
      overflow: options.overflow,
      aggregate: options.aggregate,
      publishIntervalMs: options.publishIntervalMs,
    })
    // Background errors can only come once the queue exists; the callback is bound before that.
    let queue: ScouterQueue | undefined
    const onError = (error: native.NativeBackgroundError) => {
      if (queue !== undefined) queue.#backgroundError(error)
    }
    try {
      queue = new ScouterQueue(await callNative(() => native.startQueue(config, onError)), options)
    } catch (error) {
      throw fromNative(error)
    }
    live.add(queue)
    if (!exitHookInstalled) {
      process.on('exit', flushLiveQueuesAtExit)
      exitHookInstalled = true
    }
    return queue
  }

  /** The aliases this queue was started with. */
  get aliases(): string[] {
    return this.#shared.native.aliases()
  }

  /** Whether `shutdown` has begun (inserts then throw `ERR_QUEUE_CLOSED`). */
  get closed(): boolean {
    return this.#shared.closed
  }

  /** The queue of one alias. Throws `ERR_UNKNOWN_ALIAS` for an alias the queue was not started with. */
  get(alias: string): AliasQueue {
    let queue = this.#aliases.get(alias)
    if (queue === undefined) {
      const index = callNative(() => this.#shared.native.aliasIndex(alias))
      const itemClass = this.#shared.native.entityType(index) === 'Feature' ? Features : Metrics
      queue = new AliasQueue(this.#shared, alias, index, itemClass)
      this.#aliases.set(alias, queue)
    }
    return queue
  }

  /** The counters of every alias, now. */
  report(): QueueReport {
    return toReport(this.#shared.native.report())
  }

  /**
   * Stops intake, publishes everything within `timeoutMs`, writes what is left to the file queue, and
   * resolves with the report. Calling it again returns the same report (a shorter timeout or an abort
   * still shortens the wait).
   */
  async shutdown(options: ShutdownOptions = {}): Promise<QueueReport> {
    const { signal } = options
    const timeoutMs = signal?.aborted ? 0 : Math.max(0, Math.min(options.timeoutMs ?? 30_000, 0xffff_ffff))
    if (this.#shutdown === undefined) {
      this.#flushPending()
      this.#shared.closed = true
      live.delete(this)
    }
    const settling = this.#shared.native.shutdown(timeoutMs)
    this.#shutdown ??= settling
    const abort = () => void this.#shared.native.shutdown(0)
    signal?.addEventListener('abort', abort, { once: true })
    try {
      return toReport(await this.#shutdown)
    } finally {
      signal?.removeEventListener('abort', abort)
    }
  }

  /** `await using queue = await ScouterQueue.fromPath(...)` shuts the queue down at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown()
  }

  /**
   * Runs `shutdown` on SIGTERM and SIGINT, then lets the signal take its normal course
   * (the process ends as it would have). Returns a function that removes the hooks.
   */
  installShutdownHooks(options: ShutdownHookOptions = {}): () => void {
    const signals = options.signals ?? ['SIGTERM', 'SIGINT']
    const remove = () => signals.forEach((signal) => process.removeListener(signal, onSignal))
    const onSignal = (signal: NodeJS.Signals) => {
      remove()
      this.shutdown({ timeoutMs: options.timeoutMs })
        .catch((error) => process.emitWarning(`scouter-queue: shutdown on ${signal} failed: ${error}`))
        .finally(() => process.kill(process.pid, signal))
    }
    signals.forEach((signal) => process.on(signal, onSignal))
    return remove
  }

  /** @internal At process exit nothing async runs: cross what JavaScript holds and settle synchronously. */
  [kExitFlush](): void {
    try {
      this.#flushPending()
      this.#shared.closed = true
      this.#shared.native.shutdownSync(this.#options.exitTimeoutMs ?? 5000)
    } catch (error) {
      process.stderr.write(`scouter-queue: flush at exit failed: ${fromNative(error)}\n`)
    }
  }

  #flushPending(): void {
    for (const queue of this.#aliases.values()) queue.flush()
  }

  #backgroundError(error: native.NativeBackgroundError): void {
    const wrapped = new ScouterQueueError(error.code as ScouterQueueError['code'], error.message, {
      alias: error.alias,
      items: error.items,
    })
    if (this.listenerCount('error') > 0) this.emit('error', wrapped)
    else process.emitWarning(`scouter-queue [${error.alias}] ${error.message}`, { code: error.code })
  }
}

/**
 * The queue of one alias. `insert` validates the item synchronously and never waits on I/O.
 */
export class AliasQueue {
  readonly #shared: Shared
  readonly #index: number
  // One growing string rather than an array to join: V8 keeps it as a rope
  // and Node-API flattens it once when it crosses, which costs a third of a join.
  #pending = ''
  #pendingCount = 0
  #scheduled = false
  #bound: BoundQueue[] = []
  readonly #itemClass: typeof Features | typeof Metrics
  /** The alias. */
  readonly alias: string

  /** @internal */
  constructor(shared: Shared, alias: string, index: number, itemClass: typeof Features | typeof Metrics) {
    this.#shared = shared
    this.alias = alias
    this.#index = index
    this.#itemClass = itemClass
  }

  /**
   * Queues one item: `Features` for a Psi or Spc profile, `Metrics` for a Custom one. Throws
   * `ERR_INVALID_ITEM` for anything else, and `ERR_QUEUE_CLOSED` after shutdown began.
   */
  insert(item: Features | Metrics): void {
    if (this.#shared.closed) throw closedError()
    if (!(item instanceof this.#itemClass)) {
      throw new ScouterQueueError('ERR_INVALID_ITEM', `insert() into '${this.alias}' takes ${this.#itemClass.name}, got ${describe(item)}`, { alias: this.alias })
    }
    this.#pending = this.#pendingCount++ === 0 ? item.encoded : this.#pending + '\n' + item.encoded
    if (this.#pendingCount >= MAX_PENDING_ITEMS || this.#pending.length >= MAX_PENDING_BYTES) this.flush()
    else if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /**
   * The fast path: fixes the feature names once; `insert` then takes only numbers.
   * @param fields names (all `float`), or names with their kinds
   * @example
   * const credit = queue.get('credit').bind({ age: 'int', income: 'float' })
   * credit.insert([42, 5100.5])
   */
  bind(fields: readonly string[] | Record<string, BoundFieldKind>): BoundQueue {
    const list = Array.isArray(fields)
      ? fields.map((name) => ({ name: String(name), kind: 'float' as const }))
      : Object.entries(fields as Record<string, BoundFieldKind>).map(([name, kind]) => {
          if (kind !== 'int' && kind !== 'float') {
            throw new ScouterQueueError('ERR_INVALID_ITEM', `bind(): '${name}' must be 'int' or 'float', got ${String(kind)}`)
          }
          return { name, kind }
        })
    const schema = callNative(() => this.#shared.native.bind(this.#index, list as native.BoundField[]))
    const bound = new BoundQueue(this.#shared, this.alias, this.#index, schema, list)
    this.#bound.push(bound)
    return bound
  }

  /** Moves the items held in JavaScript into the queue's worker now (done automatically every tick). */
  flush(): void {
    this.#scheduled = false
    if (this.#pendingCount > 0) {
      const lines = this.#pending
      const count = this.#pendingCount
      this.#pending = ''
      this.#pendingCount = 0
      callNative(() => this.#shared.native.push(this.#index, lines, count))
    }
    for (const bound of this.#bound) bound.flush()
  }
}

/**
 * An alias with its feature names fixed: `insert` takes numbers in the order of the fields and writes
 * them into a buffer that crosses to Rust once per tick.
 */
export class BoundQueue {
  readonly #shared: Shared
  readonly #index: number
  readonly #schema: number
  readonly #width: number
  readonly #ints: boolean[]
  #values: Float64Array
  #rows = 0
  #scheduled = false
  /** The alias. */
  readonly alias: string
  /** The field names, in insert order. */
  readonly fields: readonly string[]

  /** @internal */
  constructor(shared: Shared, alias: string, index: number, schema: number, fields: { name: string; kind: BoundFieldKind }[]) {
    this.#shared = shared
    this.alias = alias
    this.#index = index
    this.#schema = schema
    this.#width = fields.length
    this.#ints = fields.map((f) => f.kind === 'int')
    this.fields = fields.map((f) => f.name)
    this.#values = new Float64Array(this.#width * BOUND_ROWS)
  }

  /** Queues one row: one number per field, in the order of `fields`. */
  insert(values: ArrayLike<number>): void {
    if (this.#shared.closed) throw closedError()
    const width = this.#width
    if (values.length !== width) {
      throw new ScouterQueueError('ERR_INVALID_ITEM', `'${this.alias}' is bound to ${width} fields, got ${values.length} values`, { alias: this.alias })
    }
    const offset = this.#rows * width
    for (let i = 0; i < width; i++) {
      const value = values[i]
      if (typeof value !== 'number' || (this.#ints[i] && !Number.isSafeInteger(value))) {
        throw new ScouterQueueError('ERR_INVALID_ITEM', `'${this.alias}' field '${this.fields[i]}' needs ${this.#ints[i] ? 'an integer' : 'a number'}, got ${String(value)}`, { alias: this.alias })
      }
      this.#values[offset + i] = value
    }
    if (++this.#rows === BOUND_ROWS) this.flush()
    else if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Moves the rows held in JavaScript into the queue's worker now (done automatically every tick). */
  flush(): void {
    this.#scheduled = false
    if (this.#rows === 0) return
    const rows = this.#rows
    this.#rows = 0
    callNative(() => this.#shared.native.pushValues(this.#index, this.#schema, this.#values.subarray(0, rows * this.#width), rows))
  }
}
