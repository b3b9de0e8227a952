// The example controller as a program: one shard of the ring `configmap-digest` (or --ring).
//   node --conditions=controller-rings-source examples/configmap-digest/main.ts --name shard-0 --namespace default [--kubeconfig file]
import { appendFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ApiError,
  createLogger,
  isLogLevel,
  MonitoringServer,
  Probes,
  Shard,
  type ReconcileObserver,
} from 'controller-rings/shard';
import { configMapDigestController } from './controller.ts';

const usage = `usage: configmap-digest [--ring configmap-digest] [--name NAME] [--namespace NAMESPACE] [--kubeconfig FILE]
  [--lease-duration SECONDS] [--metrics-port PORT] [--record-file FILE] [--log-level info]`;

function fail(message: string): never {
  console.error(`configmap-digest: ${message}\n${usage}`);
  process.exit(2);
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      ring: { type: 'string', default: 'configmap-digest' },
      name: { type: 'string', default: process.env.POD_NAME ?? hostname() },
      namespace: { type: 'string', default: process.env.POD_NAMESPACE ?? 'default' },
      kubeconfig: { type: 'string' },
      'lease-duration': { type: 'string', default: '15' },
      'metrics-port': { type: 'string' },
      'record-file': { type: 'string' },
      'log-level': { type: 'string', default: 'info' },
      'log-format': { type: 'string', default: 'auto' },
    },
    strict: true,
  }));
} catch (error) {
  fail((error as Error).message);
}
const leaseDurationSeconds = Number(values['lease-duration']);
if (!Number.isInteger(leaseDurationSeconds) || leaseDurationSeconds < 1) {
  fail(`--lease-duration: "${values['lease-duration']}" is not a positive number of seconds`);
}
const level = values['log-level'];
if (!isLogLevel(level)) fail(`--log-level: "${level}" is not a log level`);
const format = values['log-format'];
if (format !== 'json' && format !== 'pretty' && format !== 'auto')
  fail(`--log-format: "${format}" is not json, pretty or auto`);

const logger = createLogger({ level, format, name: 'configmap-digest' });
const kubeConfig = new KubeConfig();
if (values.kubeconfig === undefined) kubeConfig.loadFromDefault();
else kubeConfig.loadFromFile(values.kubeconfig);

// For the end-to-end checks: one line when a reconcile starts and one when it ends, written synchronously so
// that a killed process leaves every start it made on disk.
const recordFile = values['record-file'];
const shardName = values.name;
const observer: ReconcileObserver | undefined =
  recordFile === undefined
    ? undefined
    : {
        started: (object, resourceVersion) => {
          const line = { event: 'start', object, resourceVersion, shard: shardName, time: Date.now() };
          appendFileSync(recordFile, `${JSON.stringify(line)}\n`);
        },
        finished: (object, error) => {
          // A Kubernetes status error also names its reason (AlreadyExists, Conflict, ...).
          const reason =
            error instanceof ApiError && error.reason !== undefined ? { reason: error.reason } : {};
          const failed =
            error === undefined
              ? {}
              : { error: error instanceof Error ? error.message : 'failed', ...reason };
          appendFileSync(
            recordFile,
            `${JSON.stringify({ event: 'end', object, shard: shardName, time: Date.now(), ...failed })}\n`,
          );
        },
      };

const shard = new Shard({
  ring: values.ring,
  name: shardName,
  namespace: values.namespace,
  kubeConfig,
  logger,
  leaseDurationSeconds,
});
shard.addController(configMapDigestController(observer));
shard.onLost(() => {
  logger.error('lost the shard lease; exiting so that the shard restarts fresh');
  process.exit(1);
});

const probes = new Probes();
let ready = false;
probes.addHealthCheck('ping', () => true);
probes.addReadinessCheck('shard', () => ready);
const monitoring =
  values['metrics-port'] === undefined
    ? undefined
    : new MonitoringServer({
        port: Number(values['metrics-port']),
        probes,
        metrics: shard.metrics.registry,
        logger,
      });
await monitoring?.start();

const shutdown = { started: false };
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (shutdown.started) return;
    shutdown.started = true;
    logger.info({ signal }, 'leaving the ring');
    void shard
      .stop()
      .then(() => monitoring?.stop())
      .then(() => process.exit(0));
  });
}
try {
  await shard.start();
  ready = true;
} catch (error) {
  if (!shutdown.started) {
    logger.fatal({ err: error }, 'could not join the ring');
    process.exit(1);
  }
}
