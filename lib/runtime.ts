import { callNative } from './errors'
import * as native from './native'

/**
 * Sets how many threads the shared Rust runtime uses (default 2, or `SCOUTER_QUEUE_WORKER_THREADS`).
 * Call it before the first queue starts; afterwards it throws `ERR_INVALID_CONFIG`.
 */
export function configureRuntime(options: { workerThreads: number }): void {
  callNative(() => native.configureRuntime(options.workerThreads))
}
