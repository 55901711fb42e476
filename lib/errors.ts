/**
 * Every error scouter-queue throws or reports has a stable `code`.
 *
 * - `ERR_PROFILE_NOT_FOUND`: a profile file cannot be read.
 * - `ERR_PROFILE_INVALID`: a profile is not JSON or lacks a field; the message names the file and the field.
 * - `ERR_UNKNOWN_ALIAS`: `queue.get(alias)` for an alias the queue was not started with.
 * - `ERR_INVALID_ITEM`: an item of the wrong kind or with a bad value.
 * - `ERR_INVALID_CONFIG`: options that cannot work.
 * - `ERR_QUEUE_CLOSED`: an insert after `shutdown()` began.
 * - `ERR_START_FAILED`: an alias's transport could not start; the message names the alias.
 * - `ERR_FILE_QUEUE`: a file queue could not be read or written.
 * - `ERR_TRANSPORT`: a transport refused or failed.
 * - `ERR_VALUE_SKIPPED` (background only): values left out of drift aggregates, such as a NaN or a value outside
 *   every bin; the rest of their items was aggregated, so no item is lost (`items` is 0).
 * - `ERR_UNKNOWN_COLLECTOR`: a payload sent to a collector key the collector queue does not have.
 * - `ERR_INVALID_PAYLOAD`: a payload that cannot be sent (bad delivery, priority, or a value a transport cannot take as JSON).
 * - `ERR_ROUTER`: a custom router threw; the router's error is the `cause`.
 * - `ERR_HANDLER`: in a result: the collector's handler threw or rejected; its error is the `cause`.
 * - `ERR_SHUTDOWN_TIMEOUT`: in a result: the handler had not finished when the shutdown deadline passed.
 * - `ERR_NOT_PROCESSED`: in a result: the queue shut down before a consumer took the event.
 */
export type ErrorCode =
  | 'ERR_PROFILE_NOT_FOUND'
  | 'ERR_PROFILE_INVALID'
  | 'ERR_UNKNOWN_ALIAS'
  | 'ERR_INVALID_ITEM'
  | 'ERR_INVALID_CONFIG'
  | 'ERR_QUEUE_CLOSED'
  | 'ERR_START_FAILED'
  | 'ERR_FILE_QUEUE'
  | 'ERR_TRANSPORT'
  | 'ERR_VALUE_SKIPPED'
  | 'ERR_UNKNOWN_COLLECTOR'
  | 'ERR_INVALID_PAYLOAD'
  | 'ERR_ROUTER'
  | 'ERR_HANDLER'
  | 'ERR_SHUTDOWN_TIMEOUT'
  | 'ERR_NOT_PROCESSED'

/**
 * An error from scouter-queue. Branch on `code`, not on the message.
 * @example
 * try { queue.get('credit').insert(item) } catch (e) {
 *   if (e instanceof ScouterQueueError && e.code === 'ERR_QUEUE_CLOSED') { ... }
 * }
 */
export class ScouterQueueError extends Error {
  /** The stable code of this error. */
  readonly code: ErrorCode
  // `declare`: a class field would set them to undefined where they do not apply.
  /** The alias the error is about, when there is one (background errors always have it). */
  declare readonly alias?: string
  /** For background errors: how many items the problem affected (0 when none was lost). */
  declare readonly items?: number

  /** @internal */
  constructor(code: ErrorCode, message: string, details: { alias?: string; items?: number; cause?: unknown } = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ScouterQueueError'
    this.code = code
    if (details.alias !== undefined) this.alias = details.alias
    if (details.items !== undefined) this.items = details.items
  }
}

const NATIVE_MESSAGE = /^(ERR_[A-Z_]+): ([\s\S]*)$/

/** Turns an error thrown by the native binding into a `ScouterQueueError`; other errors pass through. @internal */
export function fromNative(error: unknown): unknown {
  if (error instanceof Error && !(error instanceof ScouterQueueError)) {
    const match = NATIVE_MESSAGE.exec(error.message)
    if (match) return new ScouterQueueError(match[1] as ErrorCode, match[2])
  }
  return error
}

/** Calls into the native binding, converting what it throws. @internal */
export function callNative<T>(call: () => T): T {
  try {
    return call()
  } catch (error) {
    throw fromNative(error)
  }
}
