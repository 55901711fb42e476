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
  /** Where a flush at the end of a tick reports what it could not do. */
  readonly onFlushError: (error: unknown) => void
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
    this.shared = { native: nativeQueue, closed: false, onFlushError: (error) => this.reportFlushError(error) }
    this.#exitTimeoutMs = Math.max(0, Math.min(exitTimeoutMs, 0xffff_ffff))
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
    const onEvent = (event: native.NativeQueueEvent) => {
      const target = owner()
      // Events during the start (a batch set aside by recovery) come before the owner exists.
      if (target !== undefined) target.onNativeEvent(event)
      else process.emitWarning(`scouter-queue [${event.alias}] ${event.message ?? event.kind}`, { code: event.code ?? undefined })
    }
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
    }
    const settling = this.shared.native.shutdown(timeoutMs)
    // Still settled at exit until this resolves: process.exit() in between must not lose records.
    this.#settling ??= settling.finally(() => live.delete(this))
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
    const failed = (error: unknown) => process.stderr.write(`scouter-queue: settling at exit failed: ${fromNative(error)}\n`)
    try {
      this.flushPending()
    } catch (error) {
      failed(error)
    }
    this.shared.closed = true
    try {
      this.shared.native.shutdownSync(this.#exitTimeoutMs)
    } catch (error) {
      failed(error)
    }
  }

  /** @internal A flush that failed where nobody called it (the end of a tick). */
  reportFlushError(error: unknown): void {
    const converted = fromNative(error)
    if (converted instanceof ScouterQueueError) this.#emitError(converted)
    else process.emitWarning(`scouter-queue: ${String(converted)}`)
  }

  /** @internal */
  onNativeEvent(event: native.NativeQueueEvent): void {
    if (event.kind === 'backpressure') {
      this.emit('backpressure', { alias: event.alias, active: event.active === true } satisfies BackpressureEvent)
      return
    }
    this.#emitError(
      new ScouterQueueError((event.code ?? 'ERR_TRANSPORT') as ScouterQueueError['code'], event.message ?? '', {
        alias: event.alias,
        items: event.items ?? 0,
      }),
    )
  }

  #emitError(error: ScouterQueueError): void {
    // An 'error' event with no listener would throw into unrelated code.
    if (this.listenerCount('error') > 0) this.emit('error', error)
    else process.emitWarning(`scouter-queue [${error.alias ?? ''}] ${error.message}`, { code: error.code })
  }
}
