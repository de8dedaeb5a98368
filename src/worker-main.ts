import 'dotenv/config';
import { ConfigError, loadWorkerConfig } from './config';
import { createLogger } from './logger';
import { installTemporalRuntime, runWorker } from './worker';

/** `npm run start:worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const log = createLogger(config.logLevel, 'worker');
  installTemporalRuntime(log, config.metricsBindAddress);
  await runWorker(config, log);
}

main().catch((error: unknown) => {
  // A config error is already a complete, secret-free sentence per variable.
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
