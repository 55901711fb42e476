import { resolve } from 'node:path'

import { AliasReport, NativeQueueOwner, Shared, ShutdownOptions, closedError } from './base'
import { callNative } from './errors'
import { Features, Metrics } from './items'
import { EndOfTickFlush, LineBuffer, invalidItem } from './lines'
import * as native from './native'
import { FileQueueConfig, TransportConfig } from './transports'

/** The report of every alias, by alias. */
export type QueueReport = Record<string, AliasReport>

/** Options of a `ScouterQueue`, beside its transport. */
export interface QueueOptions {
  /** Bytes that may wait in memory per alias; beyond it records go to the file queue (or are dropped). Default 64 MiB. */
  memoryBudgetBytes?: number
  /** What happens beyond the budget: `'spill'` to the file queue (default, nothing lost) or `'drop'` (counted). */
  overflow?: 'spill' | 'drop'
  /** How long the automatic settling at process exit may take, for a queue never shut down. Default 5000. */
  exitTimeoutMs?: number
  /** Where a network transport spills what it cannot deliver, `<spillDir>/<alias>/`, replayed from later. Default `./scouter-queue-data/spill`. */
  spillDir?: string
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

/** Options of `installShutdownHooks`. */
export interface ShutdownHookOptions extends Pick<ShutdownOptions, 'timeoutMs'> {
  /** The signals to handle. Default `['SIGTERM', 'SIGINT']`. */
  signals?: NodeJS.Signals[]
}

/** A numeric field kind on the bound fast path. */
export type BoundFieldKind = 'int' | 'float'

const BOUND_ROWS = 512

function toReport(reports: AliasReport[]): QueueReport {
  const byAlias: QueueReport = {}
  for (const report of reports) byAlias[report.alias] = report
  return byAlias
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return String(value)
  return value.constructor?.name ?? 'an object'
}

/**
 * Publishes records for many aliases, each with its own profile, to one transport.
 * `insert` never blocks: records cross to a Rust worker per alias, which publishes them in the background.
 *
 * Events: `'error'` with a `ScouterQueueError` for problems in the background (a transport refusing,
 * a file that cannot be written; with no listener they are printed as process warnings instead), and
 * `'backpressure'` with a `BackpressureEvent` when a file queue's readers fall behind or catch up.
 *
 * @example
 * const queue = await ScouterQueue.fromPath({ credit: './profiles/credit.json' })
 * queue.get('credit').insert(Features.from({ age: 42, income: 5100.5 }))
 * const report = await queue.shutdown()
 */
export class ScouterQueue extends NativeQueueOwner {
  readonly #aliases = new Map<string, AliasQueue>()

  private constructor(nativeQueue: native.NativeQueue, options: QueueOptions) {
    super(nativeQueue, options.exitTimeoutMs)
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
    let queue: ScouterQueue | undefined
    const { memoryBudgetBytes, overflow, spillDir, aggregate, publishIntervalMs } = options
    const config = { aliases, transport, memoryBudgetBytes, overflow, spillDir, aggregate, publishIntervalMs }
    queue = new ScouterQueue(await NativeQueueOwner.startNative(config, () => queue), options)
    return queue
  }

  /** The aliases this queue was started with. */
  get aliases(): string[] {
    return this.shared.native.aliases()
  }

  /** The queue of one alias. Throws `ERR_UNKNOWN_ALIAS` for an alias the queue was not started with. */
  get(alias: string): AliasQueue {
    let queue = this.#aliases.get(alias)
    if (queue === undefined) {
      const index = callNative(() => this.shared.native.aliasIndex(alias))
      const itemClass = this.shared.native.itemKind(index) === 'Metrics' ? Metrics : Features
      queue = new AliasQueue(this.shared, alias, index, itemClass)
      this.#aliases.set(alias, queue)
    }
    return queue
  }

  /** The counters of every alias, now. */
  report(): QueueReport {
    return toReport(this.shared.native.report())
  }

  /**
   * Stops intake, publishes everything within `timeoutMs`, writes what is left to the file queue, and
   * resolves with the report. Calling it again returns the same report (a shorter timeout or an abort
   * still shortens the wait).
   */
  async shutdown(options?: ShutdownOptions): Promise<QueueReport> {
    return toReport(await this.settle(options))
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

  protected flushPending(): void {
    for (const queue of this.#aliases.values()) queue.flush()
  }
}

/**
 * The queue of one alias. `insert` validates the item synchronously and never waits on I/O.
 */
export class AliasQueue {
  readonly #shared: Shared
  readonly #index: number
  readonly #lines: LineBuffer
  readonly #bound: BoundQueue[] = []
  readonly #itemClass: typeof Features | typeof Metrics
  /** The alias. */
  readonly alias: string

  /** @internal */
  constructor(shared: Shared, alias: string, index: number, itemClass: typeof Features | typeof Metrics) {
    this.#shared = shared
    this.alias = alias
    this.#index = index
    this.#itemClass = itemClass
    this.#lines = new LineBuffer(shared, index)
  }

  /**
   * Queues one item: `Features` for a Psi or Spc profile, `Metrics` for a Custom one. Throws
   * `ERR_INVALID_ITEM` for anything else, and `ERR_QUEUE_CLOSED` after shutdown began.
   */
  insert(item: Features | Metrics): void {
    if (!(item instanceof this.#itemClass)) {
      throw invalidItem(this.alias, `insert() into '${this.alias}' takes ${this.#itemClass.name}, got ${describe(item)}`)
    }
    this.#lines.push(item.encoded)
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
          if (kind !== 'int' && kind !== 'float') throw invalidItem(this.alias, `bind(): '${name}' must be 'int' or 'float', got ${String(kind)}`)
          return { name, kind }
        })
    const schema = callNative(() => this.#shared.native.bind(this.#index, list as native.BoundField[]))
    const bound = new BoundQueue(this.#shared, this.alias, this.#index, schema, list)
    this.#bound.push(bound)
    return bound
  }

  /** Moves the items held in JavaScript into the queue's worker now (done automatically every tick). */
  flush(): void {
    this.#lines.flush()
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
  readonly #values: Float64Array
  #rows = 0
  readonly #endOfTick: EndOfTickFlush
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
    this.#endOfTick = new EndOfTickFlush(shared, () => this.flush())
  }

  /** Queues one row: one number per field, in the order of `fields`. */
  insert(values: ArrayLike<number>): void {
    if (this.#shared.closed) throw closedError()
    const width = this.#width
    if (values.length !== width) throw invalidItem(this.alias, `'${this.alias}' is bound to ${width} fields, got ${values.length} values`)
    const offset = this.#rows * width
    for (let i = 0; i < width; i++) {
      const value = values[i]
      if (typeof value !== 'number' || (this.#ints[i] && !Number.isSafeInteger(value))) {
        throw invalidItem(this.alias, `'${this.alias}' field '${this.fields[i]}' needs ${this.#ints[i] ? 'an integer' : 'a number'}, got ${String(value)}`)
      }
      this.#values[offset + i] = value
    }
    if (++this.#rows === BOUND_ROWS) this.flush()
    else this.#endOfTick.schedule()
  }

  /** Moves the rows held in JavaScript into the queue's worker now (done automatically every tick). */
  flush(): void {
    this.#endOfTick.done()
    if (this.#rows === 0) return
    const rows = this.#rows
    this.#rows = 0
    callNative(() => this.#shared.native.pushValues(this.#index, this.#schema, this.#values.subarray(0, rows * this.#width), rows))
  }
}
