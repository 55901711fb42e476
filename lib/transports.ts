/** Options of the embedded file queue transport. */
export interface FileQueueOptions {
  /** Root folder of the queues; each alias writes `<dir>/<alias>/`. Default `./scouter-queue-data`. */
  dir?: string
  /** A batch file becomes ready for readers at this many records. Default 10000. */
  maxEventsPerFile?: number
  /** ...or when its first record is this old (an empty batch never rolls). Default 10000. */
  maxBatchAgeMs?: number
  /** Records are committed at least every this many rows... Default 1000. */
  commitEveryRows?: number
  /** ...and every this many milliseconds, so a killed process loses at most this window. Default 200. */
  commitEveryMs?: number
  /** While this many batches wait for readers, records are held in memory (within the budget). Default: no limit. */
  maxReadyFiles?: number
}

/**
 * The embedded default transport: records go to a queue of SQLite batch files on disk,
 * in Turbo Queue's format, read back with `FileQueue.dequeue` or the `scouter-queue` command.
 */
export class FileQueueConfig {
  /** The transport's kind. */
  readonly kind = 'file' as const
  /** The options given. */
  readonly options: Readonly<FileQueueOptions>

  constructor(options: FileQueueOptions = {}) {
    this.options = { ...options }
  }

  /** @internal The JSON the core reads. */
  toJSON(): object {
    return { kind: this.kind, ...this.options }
  }
}

/** Where a queue's records go. */
export type TransportConfig = FileQueueConfig
