import { callNative, ScouterQueueError } from './errors'
import { closedError, Shared } from './base'

/** Items held in JavaScript before they cross to Rust in one call. */
const MAX_PENDING_ITEMS = 1024
const MAX_PENDING_CHARS = 1 << 20

/**
 * Encoded items of one alias, held until the end of the tick (or 1,024 items) and then moved into
 * the native queue in one call. @internal
 */
export class LineBuffer {
  readonly #shared: Shared
  readonly #index: number
  // One growing string rather than an array to join: V8 keeps it as a rope
  // and Node-API flattens it once when it crosses, which costs a third of a join.
  #pending = ''
  #count = 0
  readonly #endOfTick: EndOfTickFlush

  constructor(shared: Shared, index: number) {
    this.#shared = shared
    this.#index = index
    this.#endOfTick = new EndOfTickFlush(shared, () => this.flush())
  }

  push(line: string): void {
    if (this.#shared.closed) throw closedError()
    this.#pending = this.#count++ === 0 ? line : this.#pending + '\n' + line
    if (this.#count >= MAX_PENDING_ITEMS || this.#pending.length >= MAX_PENDING_CHARS) this.flush()
    else this.#endOfTick.schedule()
  }

  flush(): void {
    this.#endOfTick.done()
    if (this.#count === 0) return
    const lines = this.#pending
    const count = this.#count
    this.#pending = ''
    this.#count = 0
    callNative(() => this.#shared.native.push(this.#index, lines, count))
  }
}

/**
 * Calls `flush` once at the end of the current tick however often it is scheduled; there nobody is
 * there to catch, so a failure goes to the queue's owner. @internal
 */
export class EndOfTickFlush {
  #scheduled = false
  readonly #run: () => void

  constructor(shared: Shared, flush: () => void) {
    this.#run = () => {
      try {
        flush()
      } catch (error) {
        shared.onFlushError(error)
      }
    }
  }

  schedule(): void {
    if (!this.#scheduled) {
      this.#scheduled = true
      queueMicrotask(this.#run)
    }
  }

  /** The flush ran (at the end of the tick or called directly): the next item schedules again. */
  done(): void {
    this.#scheduled = false
  }
}

export function invalidItem(alias: string, message: string): ScouterQueueError {
  return new ScouterQueueError('ERR_INVALID_ITEM', message, { alias })
}
