import 'dotenv/config';
import { loadWorkerConfig } from '../config';
import { runEntryPoint } from '../entry-point';
import { createLogger } from '../logger';
import { startTracing } from '../tracing';
import { installTemporalRuntime, runWorker } from './worker';

/** `npm run start:worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits. */
runEntryPoint(async () => {
  const config = loadWorkerConfig();
  const log = createLogger(config.logLevel, 'worker');
  installTemporalRuntime(log, config.metricsBindAddress);
  const tracing = startTracing(config.tracing, 'image-jobs-worker');
  await runWorker(config, log, undefined, tracing).finally(() => tracing.shutdown());
});
