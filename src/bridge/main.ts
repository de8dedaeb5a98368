import 'dotenv/config';
import { loadBridgeConfig } from '../process/config';
import { abortOnSignals, runEntryPoint } from '../process/entry-point';
import { createLogger } from '../process/logger';
import { startTracing } from '../process/start-tracing';
import { runBridge } from '.';

/** `npm run start:bridge`: takes job ids off Redis until SIGINT/SIGTERM, then finishes the starts in flight. */
runEntryPoint(async () => {
  const config = loadBridgeConfig();
  const tracing = startTracing(config.tracing, 'image-jobs-bridge');
  await runBridge(config, createLogger(config.logLevel, 'bridge'), abortOnSignals().signal, tracing).finally(() =>
    tracing.shutdown(),
  );
});
