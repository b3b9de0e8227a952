// The example controller as a program: one shard of the ring `configmap-digest` (or --ring).
//   node --conditions=controller-rings-source examples/configmap-digest/main.ts --name shard-0 --namespace default [--kubeconfig file]
import { appendFileSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import {
  ApiError,
  createLogger,
  MonitoringServer,
  Probes,
  Shard,
  type ReconcileObserver,
} from 'controller-rings/shard';
import { configMapDigestController } from './controller.ts';
import { FlagError, parseFlags, usage, type Flags } from './flags.ts';

let flags: Flags;
try {
  flags = parseFlags(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof FlagError)) throw error;
  console.error(`configmap-digest: ${error.message}\n${usage}`);
  process.exit(2);
}

const logger = createLogger({ level: flags.logLevel, format: flags.logFormat, name: 'configmap-digest' });
const kubeConfig = new KubeConfig();
if (flags.kubeconfig === undefined) kubeConfig.loadFromDefault();
else kubeConfig.loadFromFile(flags.kubeconfig);

// For the end-to-end checks: one line when a reconcile starts and one when it ends, written synchronously so
// that a killed process leaves every start it made on disk.
const { recordFile, name: shardName } = flags;
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
  ring: flags.ring,
  name: shardName,
  namespace: flags.namespace,
  kubeConfig,
  logger,
  leaseDurationSeconds: flags.leaseDurationSeconds,
  leaseLabels: flags.leaseLabels,
  ...(flags.clientRateLimit === undefined ? {} : { clientRateLimit: flags.clientRateLimit }),
});
shard.addController(
  configMapDigestController({ workers: flags.workers, serviceAccounts: flags.serviceAccounts, observer }),
);
shard.onLost(() => {
  logger.error('lost the shard lease; exiting so that the shard restarts fresh');
  process.exit(1);
});

const probes = new Probes();
let ready = false;
probes.addHealthCheck('ping', () => true);
probes.addReadinessCheck('shard', () => ready);
const monitoring =
  flags.metricsPort === undefined
    ? undefined
    : new MonitoringServer({
        port: flags.metricsPort,
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
