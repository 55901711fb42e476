import { EventEmitter } from 'node:events'

import { callNative, fromNative, ScouterQueueError } from './errors'
import * as native from './native'

/** What happened to one alias's items: `inserted = published + spilled + dropped + failed` once settled. */
export type AliasReport = native.AliasReport

/** Options of `shutdown` and `close`. */
export interface ShutdownOptions {
  /** How long to wait for every record to be published; what is left then is written to the file queue. Default 30000. */
  timeoutMs?: number
  /** Aborting it ends the wait at once: what is unpublished is written to the file queue. */
  signal?: AbortSignal
}

/** Backpressure news: the transport of `alias` started (`active`) or stopped holding records back. */
export interface BackpressureEvent {
  /** The alias (for a file queue writer, the queue's name). */
  alias: string
  /** `true` while readers are behind (`maxReadyFiles` batches wait): records wait in memory, within the budget. */
  active: boolean
}

/** State shared by a queue and the objects it hands out. @internal */
export interface Shared {
  readonly native: native.NativeQueue
  closed: boolean
}

/** Queues whose JavaScript-held items must be settled if the process exits without a shutdown. */
const live = new Set<NativeQueueOwner>()
let exitHookInstalled = false

function settleLiveQueuesAtExit(): void {
  for (const queue of live) queue.settleAtExit()
}

export function closedError(): ScouterQueueError {
  return new ScouterQueueError('ERR_QUEUE_CLOSED', 'queue is closed: shutdown has started, nothing more is accepted')
}

/**
 * What `ScouterQueue` and `FileQueueWriter` share: a started native queue, its background events,
 * shutdown, and the settling at process exit. @internal
 */
export abstract class NativeQueueOwner extends EventEmitter {
  protected readonly shared: Shared
  readonly #exitTimeoutMs: number
  #settling: Promise<AliasReport[]> | undefined

  protected constructor(nativeQueue: native.NativeQueue, exitTimeoutMs = 5000) {
    super()
    this.shared = { native: nativeQueue, closed: false }
    this.#exitTimeoutMs = exitTimeoutMs
    live.add(this)
    if (!exitHookInstalled) {
      // 'exit' rather than 'beforeExit': it also runs on process.exit(), and
      // nothing async can run there, so settling is synchronous.
      process.on('exit', settleLiveQueuesAtExit)
      exitHookInstalled = true
    }
  }

  /** Starts a native queue; `owner()` returns the object its events go to, once it exists. */
  protected static async startNative(config: object, owner: () => NativeQueueOwner | undefined): Promise<native.NativeQueue> {
    const onEvent = (event: native.NativeQueueEvent) => owner()?.onNativeEvent(event)
    try {
      return await callNative(() => native.startQueue(JSON.stringify(config), onEvent))
    } catch (error) {
      throw fromNative(error)
    }
  }

  /** Moves what JavaScript holds into the native queue. */
  protected abstract flushPending(): void

  /** Whether `shutdown` has begun. */
  get closed(): boolean {
    return this.shared.closed
  }

  /** Stops intake and settles everything; later calls return the same result, sooner if asked. @internal */
  protected async settle(options: ShutdownOptions = {}): Promise<AliasReport[]> {
    const { signal } = options
    const timeoutMs = signal?.aborted ? 0 : Math.max(0, Math.min(options.timeoutMs ?? 30_000, 0xffff_ffff))
    if (this.#settling === undefined) {
      this.flushPending()
      this.shared.closed = true
      live.delete(this)
    }
    const settling = this.shared.native.shutdown(timeoutMs)
    this.#settling ??= settling
    const abort = () => void this.shared.native.shutdown(0)
    signal?.addEventListener('abort', abort, { once: true })
    try {
      return await this.#settling
    } finally {
      signal?.removeEventListener('abort', abort)
    }
  }

  /** @internal At process exit nothing async runs: cross what JavaScript holds and settle synchronously. */
  settleAtExit(): void {
    try {
      this.flushPending()
      this.shared.closed = true
      this.shared.native.shutdownSync(this.#exitTimeoutMs)
    } catch (error) {
      process.stderr.write(`scouter-queue: settling at exit failed: ${fromNative(error)}\n`)
    }
  }

  /** @internal */
  onNativeEvent(event: native.NativeQueueEvent): void {
    if (event.kind === 'backpressure') {
      this.emit('backpressure', { alias: event.alias, active: event.active === true } satisfies BackpressureEvent)
      return
    }
    const error = new ScouterQueueError((event.code ?? 'ERR_TRANSPORT') as ScouterQueueError['code'], event.message ?? '', {
      alias: event.alias,
      items: event.items ?? 0,
    })
    // An 'error' event with no listener would throw into unrelated code.
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else process.emitWarning(`scouter-queue [${event.alias}] ${error.message}`, { code: error.code })
  }
}
