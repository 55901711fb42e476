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

/** Options of the HTTP transport. Each unset option falls back to the environment variable Scouter's client reads. */
export interface HttpOptions {
  /** The Scouter server; the API is under `<serverUri>/scouter`. Default `SCOUTER_SERVER_URI`, else `http://localhost:8000`. */
  serverUri?: string
  /** Sent as the `Username` header to log in. Default `SCOUTER_USERNAME`, else `guest`. */
  username?: string
  /** Sent as the `Password` header to log in. Default `SCOUTER_PASSWORD`, else `guest`. */
  password?: string
  /** A token issued beforehand, used as the bearer token before any login. Default `SCOUTER_AUTH_TOKEN`. */
  authToken?: string
  /** Per request, connecting included. Default 60000. */
  timeoutMs?: number
  /** Retries after the first attempt when the server is busy (429), failing (5xx) or unreachable. Default 3. */
  maxRetries?: number
  /** The file queue that keeps what the server could not take (`<dir>/<alias>/`). Default `./scouter-queue-data`. */
  spill?: FileQueueOptions
}

/**
 * Scouter's HTTP transport: logs in with `GET /scouter/auth/login` and posts each message of records to
 * `POST /scouter/message` with the bearer token, keeping the renewed token the server hands back.
 * A 401 logs in again once; 429 and 5xx are retried with exponential backoff and jitter; any other 4xx
 * fails the records (counted, and reported with the server's message). Records the server cannot take
 * (unreachable, still busy after the retries) go to the spill file queue and are counted as `spilled`.
 * @example
 * const queue = await ScouterQueue.fromPath({ credit: './credit.json' }, new HttpConfig({ serverUri: 'http://scouter:8000' }))
 */
export class HttpConfig {
  /** The transport's kind. */
  readonly kind = 'http' as const
  /** The options given. */
  readonly options: Readonly<HttpOptions>

  constructor(options: HttpOptions = {}) {
    this.options = { ...options }
  }

  /** @internal The JSON the core reads. */
  toJSON(): object {
    return { kind: this.kind, ...this.options }
  }
}

/** Where a queue's records go. */
export type TransportConfig = FileQueueConfig | HttpConfig
