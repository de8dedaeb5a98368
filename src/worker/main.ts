import 'dotenv/config';
import { loadWorkerConfig } from '../config';
import { runEntryPoint } from '../entry-point';
import { createLogger } from '../logger';
import { installTemporalRuntime, runWorker } from './worker';

/** `npm run start:worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits. */
runEntryPoint(async () => {
  const config = loadWorkerConfig();
  const log = createLogger(config.logLevel, 'worker');
  installTemporalRuntime(log, config.metricsBindAddress);
  await runWorker(config, log);
});
