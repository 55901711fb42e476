import { AliasReport, NativeQueueOwner, ShutdownOptions } from './base'
import { callNative, fromNative } from './errors'
import { LineBuffer, invalidItem } from './lines'
import * as native from './native'
import { FileQueueOptions } from './transports'

/** A batch file of a file queue, as listed by `FileQueue.list`. */
export type BatchInfo = native.BatchInfo

/** What a recovery pass did. */
export type RecoveryReport = native.RecoveryReport

/** Which file queue: the folder `<dir>/<name>/`. */
export interface FileQueueLocation {
  /** The root folder, e.g. `./scouter-queue-data`. */
  dir: string
  /** The queue's name: for a ScouterQueue, the alias. */
  name: string
}

/** Options of `FileQueue.enqueue`. */
export interface EnqueueOptions extends FileQueueLocation, Omit<FileQueueOptions, 'dir'> {
  /** Bytes that may wait in memory (while readers are behind, say) before rows go to disk anyway. Default 64 MiB. */
  memoryBudgetBytes?: number
  /** How long the automatic settling at process exit may take. Default 5000. */
  exitTimeoutMs?: number
}

/** Options of `FileQueue.dequeue`. */
export interface DequeueOptions extends FileQueueLocation {
  /** Stop when no batch is ready instead of waiting for more. Default `true`. */
  stopWhenEmpty?: boolean
  /** How often to look for a ready batch while waiting. Default 200. */
  pollMs?: number
  /** Checkpoint every this many records handled: a reader that dies delivers at most this many again. Default 100. */
  checkpointEvery?: number
  /**
   * Run recovery before reading and whenever nothing is ready (safe beside live scouter-queue workers). Default `true`.
   * It takes over a file no process holds a lock on only once it is `recoverIdleMs` old (30000), since Turbo
   * Queue's own writers and readers hold none.
   */
  recover?: boolean
  /** See `recover`. Default 30000. */
  recoverIdleMs?: number
  /** Ends the iteration; the batch being read goes back to other readers after its last checkpoint. */
  signal?: AbortSignal
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function recover(dir: string, name: string, minIdleMs: number): Promise<RecoveryReport> {
  try {
    const report = await native.recoverQueue(dir, name, Math.max(0, Math.min(minIdleMs, 0xffff_ffff)))
    for (const { path, reason } of report.setAside) process.emitWarning(`scouter-queue: set aside ${path}: ${reason}`, { code: 'ERR_FILE_QUEUE' })
    return report
  } catch (error) {
    throw fromNative(error)
  }
}

/**
 * Writes JSON values into a file queue. Many processes may write the same queue at once: each fills
 * its own batch files. `add` never waits on I/O: rows cross to a Rust worker once per tick.
 *
 * Events: `'backpressure'` with `{ alias, active }` when `maxReadyFiles` batches wait for readers
 * (rows then wait in memory, within the budget) and when readers catch up; `'error'` for write failures.
 */
export class FileQueueWriter extends NativeQueueOwner {
  readonly #lines: LineBuffer
  /** The queue's name. */
  readonly name: string

  private constructor(nativeQueue: native.NativeQueue, name: string, exitTimeoutMs?: number) {
    super(nativeQueue, exitTimeoutMs)
    this.name = name
    this.#lines = new LineBuffer(this.shared, 0)
  }

  /** @internal */
  static async open(options: EnqueueOptions): Promise<FileQueueWriter> {
    const { dir, name, memoryBudgetBytes, exitTimeoutMs, ...fileOptions } = options
    const config = { aliases: [{ alias: name, json: true }], transport: { kind: 'file', dir, ...fileOptions }, memoryBudgetBytes }
    let writer: FileQueueWriter | undefined
    writer = new FileQueueWriter(await NativeQueueOwner.startNative(config, () => writer), name, exitTimeoutMs)
    return writer
  }

  /** Queues one JSON value. Throws `ERR_INVALID_ITEM` for what JSON cannot hold, `ERR_QUEUE_CLOSED` after `close`. */
  add(value: unknown): void {
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (error) {
      throw invalidItem(this.name, `add(): ${(error as Error).message}`)
    }
    if (text === undefined) throw invalidItem(this.name, `add(): ${typeof value} is not a JSON value`)
    this.#lines.push(text)
  }

  /** Moves the rows held in JavaScript into the writer's worker now (done automatically every tick). */
  flush(): void {
    this.#lines.flush()
  }

  /** Whether readers are behind (`maxReadyFiles` batches wait) and rows are held in memory. */
  isBackpressured(): boolean {
    return this.report().backpressured
  }

  /** The writer's counters, now: `published` rows are committed. */
  report(): AliasReport {
    return this.shared.native.report()[0]
  }

  /** Commits and rolls everything (within `timeoutMs`) and resolves with the counters. */
  async close(options?: ShutdownOptions): Promise<AliasReport> {
    return (await this.settle(options))[0]
  }

  /** `await using writer = await FileQueue.enqueue(...)` closes it at the end of the block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  protected flushPending(): void {
    this.#lines.flush()
  }
}

/** Queues of batch files on disk, written and read by many processes; Turbo Queue reads them too. */
export const FileQueue = {
  /**
   * Opens a writer into `<dir>/<name>/`.
   * @example
   * const writer = await FileQueue.enqueue({ dir: '/data/q', name: 'events', maxEventsPerFile: 1000, maxBatchAgeMs: 10_000 })
   * writer.add({ any: 'json' })
   */
  enqueue(options: EnqueueOptions): Promise<FileQueueWriter> {
    return FileQueueWriter.open(options)
  },

  /**
   * Takes ready batches, oldest first, and yields their records. A batch is taken by a lock and an
   * atomic rename, so each goes to exactly one reader; the reader checkpoints as it goes and deletes
   * the batch when done.
   * @example
   * for await (const record of FileQueue.dequeue({ dir: '/data/q', name: 'events' })) console.log(record)
   */
  async *dequeue(options: DequeueOptions): AsyncGenerator<unknown, void, undefined> {
    const { dir, name, stopWhenEmpty = true, pollMs = 200, checkpointEvery = 100, recover: recovering = true, recoverIdleMs = 30_000, signal } = options
    if (recovering) await recover(dir, name, recoverIdleMs)
    while (!signal?.aborted) {
      let batch: native.TakenBatch | null
      try {
        batch = await native.takeBatch(dir, name)
      } catch (error) {
        throw fromNative(error)
      }
      if (batch === null) {
        if (stopWhenEmpty) return
        await sleep(pollMs)
        if (recovering) await recover(dir, name, recoverIdleMs)
        continue
      }
      const rows = callNative(() => batch.rows())
      const ids = callNative(() => batch.rowIds())
      let handled = 0
      try {
        while (handled < rows.length && !signal?.aborted) {
          // Counted before the yield: a consumer that resumes us, or breaks
          // out of its loop, is done with the row it was given.
          yield JSON.parse(rows[handled++])
          if (handled % checkpointEvery === 0) callNative(() => batch.checkpoint(ids[handled - 1]))
        }
      } finally {
        if (handled === rows.length) callNative(() => batch.finish())
        else {
          // Stopped early (break, return, abort or a throw): give the rest back to other readers.
          if (handled > 0) callNative(() => batch.checkpoint(ids[handled - 1]))
          callNative(() => batch.release())
        }
      }
    }
  },

  /** The batch files of a queue, oldest first. */
  list({ dir, name }: FileQueueLocation): BatchInfo[] {
    return callNative(() => native.listBatches(dir, name))
  },

  /** The records still to deliver in one batch file, parsed from JSON, without taking it. */
  read(batch: BatchInfo | string): unknown[] {
    const path = typeof batch === 'string' ? batch : batch.path
    return callNative(() => native.readBatch(path)).map((row) => JSON.parse(row))
  },

  /**
   * Returns the batches of dead writers and readers to `ready` (a dead reader's batch resumes after
   * its checkpoint) and sets aside, with a reason, what is corrupt or empty. Files of live scouter-queue
   * processes are never touched (they hold a lock), so it may run at any time. Turbo Queue's processes
   * hold no lock: with them beside, pass `minIdleMs` so that only files untouched that long are taken.
   */
  recover({ dir, name, minIdleMs = 0 }: FileQueueLocation & { minIdleMs?: number }): Promise<RecoveryReport> {
    return recover(dir, name, minIdleMs)
  },
}
