import 'dotenv/config';
import { runBridge } from './bridge';
import { ConfigError, loadBridgeConfig, loadWorkerConfig } from './config';
import { createLogger } from './logger';
import { installTemporalRuntime, runWorker } from './worker';

/** `npm start`: worker and bridge in one process, for small deployments. SIGINT/SIGTERM drain both. */
async function main(): Promise<void> {
  const workerConfig = loadWorkerConfig();
  const bridgeConfig = loadBridgeConfig();
  const log = createLogger(workerConfig.logLevel, 'image-jobs');
  installTemporalRuntime(log.child({ component: 'worker' }), workerConfig.metricsBindAddress);
  const stopBridge = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stopBridge.abort());
  // The Runtime drains the worker on the same signals; if the worker stops for another reason, so does the bridge.
  const worker = runWorker(workerConfig, log.child({ component: 'worker' })).finally(() => stopBridge.abort());
  await Promise.all([worker, runBridge(bridgeConfig, log.child({ component: 'bridge' }), stopBridge.signal)]);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
