// The sharder: node cmd/sharder/main.ts --help
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../../runtime/logger.ts';
import { ConfigError, parseConfig, usage } from './config.ts';
import { Sharder } from './sharder.ts';

let config;
try {
  config = parseConfig(process.argv.slice(2));
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  console.error(`sharder: ${error.message}`);
  process.exit(2);
}
if (config === 'help') {
  console.log(usage());
  process.exit(0);
}

const logger = createLogger({ ...config.log, name: 'sharder' });
const kubeConfig = new KubeConfig();
if (config.kubeconfig === undefined) kubeConfig.loadFromDefault();
else kubeConfig.loadFromFile(config.kubeconfig);

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
