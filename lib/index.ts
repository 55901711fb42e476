/**
 * scouter-queue: publish monitoring records from a Node.js server without slowing it down.
 * @packageDocumentation
 */
export { ScouterQueueError } from './errors'
export type { ErrorCode } from './errors'
export { Feature, Features, Metric, Metrics } from './items'
export type { FeatureKind } from './items'
export { ScouterQueue, AliasQueue, BoundQueue } from './queue'
export type { AliasReport, QueueReport, QueueOptions, ShutdownOptions, ShutdownHookOptions, BoundFieldKind } from './queue'
export { FileQueueConfig, HttpConfig } from './transports'
export type { FileQueueOptions, HttpOptions, TransportConfig } from './transports'
export { FileQueue } from './filequeue'
export type { BatchInfo, FileQueueLocation, DequeueOptions } from './filequeue'
export { configureRuntime } from './runtime'
