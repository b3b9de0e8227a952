// The sharder: node cmd/sharder/main.ts --help
import { homedir } from 'node:os';
import { createLogger } from '../../runtime/logger.ts';
import type { ClusterAccess } from '../../runtime/rest.ts';
import { ConfigError, parseConfig, usage } from './config.ts';
import { loadKubeConfig } from '../../runtime/load-kubeconfig.ts';
import { Sharder } from './sharder.ts';
import { readWebhookCertificates } from './webhook-certificates.ts';

// Everything the flags name is checked here, before anything starts: a bad value is one line on stderr.
let config;
let kubeConfig: ClusterAccess;
try {
  config = parseConfig(process.argv.slice(2));
  if (config === 'help') {
    console.log(usage());
    process.exit(0);
  }
  kubeConfig = await loadKubeConfig({ flag: config.kubeconfig, env: process.env, home: homedir() });
  // Managed certificates are read (or created) once the sharder reaches the API server.
  const { certificates } = config.webhook;
  if ('files' in certificates) await readWebhookCertificates(certificates.files);
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`sharder: ${error.message}`);
  process.exit(2);
}

const logger = createLogger({ ...config.log, name: 'sharder' });
const sharder = new Sharder(config, kubeConfig, logger);
let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    sharder.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
try {
  await sharder.start();
} catch (error) {
  logger.fatal({ err: error }, 'sharder failed to start');
  process.exit(1);
}
