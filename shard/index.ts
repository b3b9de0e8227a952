// The package's `controller-rings/shard` entry point: the shard library and the parts of the runtime a
// shard's program uses around it (its client, logger, metrics, probes and their HTTP server).
export * from './shard.ts';
export {
  ApiError,
  isAlreadyExists,
  isConflict,
  isGone,
  isNotFound,
  patchTypes,
  RestClient,
  type Query,
  type RequestSpec,
  type WatchEvent,
} from '../runtime/rest.ts';
export { createLogger, isLogLevel, logLevels, type Logger, type LoggerOptions } from '../runtime/logger.ts';
export { Metrics, type MetricsOptions } from '../runtime/metrics.ts';
export { MonitoringServer, type MonitoringServerOptions } from '../runtime/monitoring-server.ts';
export { Probes, type Check, type CheckStatus, type Probe } from '../runtime/probes.ts';
export {
  ShardAdapter,
  type ControlledObjects,
  type ObjectCache,
  type ShardAdapterOptions,
  type Verdict,
} from './adapter.ts';
