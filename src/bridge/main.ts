import 'dotenv/config';
import { loadBridgeConfig } from '../config';
import { abortOnSignals, runEntryPoint } from '../entry-point';
import { createLogger } from '../logger';
import { startTracing } from '../tracing';
import { runBridge } from '.';

/** `npm run start:bridge`: takes job ids off Redis until SIGINT/SIGTERM, then finishes the starts in flight. */
runEntryPoint(async () => {
  const config = loadBridgeConfig();
  const tracing = startTracing(config.tracing, 'image-jobs-bridge');
  await runBridge(config, createLogger(config.logLevel, 'bridge'), abortOnSignals().signal, tracing).finally(() =>
    tracing.shutdown(),
  );
});
