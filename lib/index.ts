/**
 * scouter-queue: publish monitoring records from a Node.js server without slowing it down.
 * @packageDocumentation
 */
export { ScouterQueueError } from './errors'
export type { ErrorCode } from './errors'
export { Feature, Features, Metric, Metrics } from './items'
export type { FeatureKind } from './items'
export type { AliasReport, ShutdownOptions, BackpressureEvent } from './base'
export { ScouterQueue, AliasQueue, BoundQueue } from './queue'
export type { QueueReport, QueueOptions, ShutdownHookOptions, BoundFieldKind } from './queue'
export { FileQueueConfig, RabbitMQConfig, HttpConfig, KafkaConfig } from './transports'
export type { FileQueueOptions, RabbitMQOptions, HttpOptions, KafkaOptions, TransportConfig } from './transports'
export { FileQueue, FileQueueWriter } from './filequeue'
export type { BatchInfo, FileQueueLocation, EnqueueOptions, DequeueOptions, RecoveryReport } from './filequeue'
export { CollectorQueue, Collector, CollectorEvent, EventPublisher, Payload } from './collector'
export type {
  CollectorContext,
  CollectorInfo,
  CollectorMetrics,
  CollectorOptions,
  CollectorQueueOptions,
  CollectorReport,
  CollectorResult,
  CollectorShutdownOptions,
  Delivery,
  Handler,
  PayloadOptions,
  Router,
  RouterClass,
  RouterFunction,
} from './collector'
export { configureRuntime } from './runtime'
