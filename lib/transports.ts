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

/** Options of the RabbitMQ transport; each unset option falls back to the environment variable Scouter's client reads, then its default. */
export interface RabbitMQOptions {
  /** The whole address, `amqp://user:pass@host:port/vhost` (`RABBITMQ_ADDR`). When given, the parts below are not used. */
  address?: string
  /** Host (`RABBITMQ_HOST`, `localhost`). */
  host?: string
  /** Port (`RABBITMQ_PORT`, 5672). */
  port?: number
  /** User (`RABBITMQ_USERNAME`; none: the broker's default, `guest`). */
  username?: string
  /** Password (`RABBITMQ_PASSWORD`). */
  password?: string
  /** Virtual host (`/`). */
  vhost?: string
  /** The queue, declared durable (`RABBITMQ_QUEUE`, `scouter_monitoring`). */
  queue?: string
  /** Exchange to publish to; the default exchange (`''`) routes by queue name. */
  exchange?: string
  /** Routing key; the queue name by default. */
  routingKey?: string
  /** Connection attempts at start before it fails. Default 3. */
  maxRetries?: number
  /** How long one connection attempt may take. Default 5000. */
  connectTimeoutMs?: number
  /** Unconfirmed messages beyond which records wait in memory (within the budget). Default 10000. */
  maxInFlight?: number
}

/**
 * Publishes to RabbitMQ with publisher confirms: persistent messages, many in flight, a record is
 * published once the broker confirms it (a nack counts as failed). While the broker is unreachable,
 * records wait in memory within the budget, then go to the spill file queue, and are replayed once
 * it is back. A start against a broker that is unreachable or refuses the credentials fails.
 * @example
 * new RabbitMQConfig({ address: 'amqp://guest:guest@127.0.0.1:5672/%2f', queue: 'scouter_monitoring' })
 */
export class RabbitMQConfig {
  /** The transport's kind. */
  readonly kind = 'rabbitmq' as const
  /** The options given. */
  readonly options: Readonly<RabbitMQOptions>

  constructor(options: RabbitMQOptions = {}) {
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

/** Options of the Kafka transport; each unset option falls back to the environment variable Scouter's client reads, then its default. */
export interface KafkaOptions {
  /** `bootstrap.servers`, comma-separated `host:port` (`KAFKA_BROKERS`, `localhost:9092`). */
  brokers?: string
  /** The topic (`SCOUTER_KAFKA_TOPIC`, then `KAFKA_TOPIC`, then `scouter_monitoring`). Checked at start: it must exist or be created on first use, and be writable. */
  topic?: string
  /** `none`, `gzip` (default), `snappy`, `lz4` or `zstd`; anything else is `ERR_INVALID_CONFIG`. */
  compressionType?: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  /** How long librdkafka keeps retrying a message before it reports it undelivered (then it is spilled and replayed). Default 600000. */
  messageTimeoutMs?: number
  /** librdkafka's `message.max.bytes`. Default 2097164. */
  messageMaxBytes?: number
  /** SASL user (`KAFKA_USERNAME`, then `KAFKA_KEY`). With a password, `securityProtocol` defaults to `SASL_SSL` and `saslMechanism` to `PLAIN`. */
  username?: string
  /** SASL password (`KAFKA_PASSWORD`, then `KAFKA_SECRET`). */
  password?: string
  /** `security.protocol` (`KAFKA_SECURITY_PROTOCOL`; `SASL_SSL` when credentials are given). */
  securityProtocol?: string
  /** `sasl.mechanism` (`KAFKA_SASL_MECHANISM`, `PLAIN`). */
  saslMechanism?: string
  /** Metadata requests at start, after the first, before an unreachable cluster fails the start. Default 3. */
  maxRetries?: number
  /** librdkafka settings by their own names (`'linger.ms': 20`), passed through; they win over the options above. */
  config?: Record<string, string | number | boolean>
  /**
   * The key of every message. Default: the alias's queue identity (`space/name/vVersion/psi`), so one alias's
   * messages stay in order on one partition. `null`: no key, as Scouter's client sends.
   */
  key?: string | null
  /** How long one metadata request at start waits for a broker. Default 10000. */
  connectTimeoutMs?: number
  /** Unacknowledged messages per alias beyond which records wait in memory (within the budget). Default 100000. */
  maxInFlight?: number
}

/**
 * Publishes to Kafka through librdkafka (built in, nothing to install), batching by its linger, idempotent.
 * A record is published once its delivery report says so. While the brokers are down, librdkafka keeps
 * retrying what it holds, further records wait in memory within the budget, then go to the spill file queue,
 * and are replayed once the brokers are back. A start against brokers nobody can reach, or a topic that
 * cannot be written (an invalid name, missing where the brokers do not create topics), fails.
 * @example
 * const queue = await ScouterQueue.fromPath({ credit: './profiles/credit.json' },
 *   new KafkaConfig({ brokers: 'localhost:9092', topic: 'scouter_monitoring' }))
 */
export class KafkaConfig {
  /** The transport's kind. */
  readonly kind = 'kafka' as const
  /** The options given. */
  readonly options: Readonly<KafkaOptions>

  constructor(options: KafkaOptions = {}) {
    this.options = { ...options }
  }

  /** @internal The JSON the core reads. */
  toJSON(): object {
    return { kind: this.kind, ...this.options }
  }
}

/** Where a queue's records go. */
export type TransportConfig = FileQueueConfig | RabbitMQConfig | HttpConfig | KafkaConfig
