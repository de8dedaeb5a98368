import 'dotenv/config';
import { loadWorkerConfig } from '../process/config';
import { runEntryPoint } from '../process/entry-point';
import { createLogger } from '../process/logger';
import { startTracing } from '../process/start-tracing';
import { installTemporalRuntime, runWorker } from './worker';

/** `npm run start:worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits. */
runEntryPoint(async () => {
  const config = loadWorkerConfig();
  const log = createLogger(config.logLevel, 'worker');
  installTemporalRuntime(log, config.metricsBindAddress);
  const tracing = startTracing(config.tracing, 'image-jobs-worker');
  await runWorker(config, log, undefined, tracing).finally(() => tracing.shutdown());
});
