import { callNative, fromNative } from './errors'
import * as native from './native'

/** A batch file of a file queue, as listed by `FileQueue.list`. */
export type BatchInfo = native.BatchInfo

/** Which file queue: the folder `<dir>/<name>/`. */
export interface FileQueueLocation {
  /** The root folder, e.g. `./scouter-queue-data`. */
  dir: string
  /** The queue's name: for a ScouterQueue, the alias. */
  name: string
}

/** Options of `FileQueue.dequeue`. */
export interface DequeueOptions extends FileQueueLocation {
  /** Stop when no batch is ready instead of waiting for more. Default `true`. */
  stopWhenEmpty?: boolean
  /** How often to look for a ready batch while waiting. Default 200. */
  pollMs?: number
  /** Ends the iteration. */
  signal?: AbortSignal
}

/** Reads queues of batch files written by scouter-queue or by Turbo Queue. */
export const FileQueue = {
  /** The batch files of a queue, oldest first. */
  list({ dir, name }: FileQueueLocation): BatchInfo[] {
    return callNative(() => native.listBatches(dir, name))
  },

  /** The committed records of one batch file, parsed from JSON, without taking it. */
  read(batch: BatchInfo | string): unknown[] {
    const path = typeof batch === 'string' ? batch : batch.path
    return callNative(() => native.readBatch(path)).map((row) => JSON.parse(row))
  },

  /**
   * Takes ready batches, oldest first, and yields their records. A batch is taken by an atomic rename,
   * so each goes to exactly one reader, and is deleted once all its records were yielded.
   * @example
   * for await (const record of FileQueue.dequeue({ dir: './scouter-queue-data', name: 'credit' })) console.log(record)
   */
  async *dequeue(options: DequeueOptions): AsyncGenerator<unknown, void, undefined> {
    const { dir, name, stopWhenEmpty = true, pollMs = 200, signal } = options
    while (!signal?.aborted) {
      let batch: native.TakenBatch | null
      try {
        batch = await native.takeBatch(dir, name)
      } catch (error) {
        throw fromNative(error)
      }
      if (batch === null) {
        if (stopWhenEmpty) return
        await new Promise((resolve) => setTimeout(resolve, pollMs))
        continue
      }
      for (const row of batch.rows) yield JSON.parse(row)
      callNative(() => native.finishBatch(batch.path))
    }
  },
}
