import 'dotenv/config';
import { runBridge } from './bridge';
import { loadBridgeConfig, loadWorkerConfig } from './process/config';
import { abortOnSignals, runEntryPoint } from './process/entry-point';
import { createLogger } from './process/logger';
import { startTracing } from './process/start-tracing';
import { installTemporalRuntime, runWorker } from './worker/worker';

/** `npm start`: worker and bridge in one process, for small deployments. SIGINT/SIGTERM drain both. */
runEntryPoint(async () => {
  const workerConfig = loadWorkerConfig();
  const bridgeConfig = loadBridgeConfig();
  const log = createLogger(workerConfig.logLevel, 'image-jobs');
  installTemporalRuntime(log.child({ component: 'worker' }), workerConfig.metricsBindAddress);
  const tracing = startTracing(workerConfig.tracing, 'image-jobs');
  const stopBridge = abortOnSignals();
  // The Runtime drains the worker on the same signals; if the worker stops for another reason, so does the bridge.
  const worker = runWorker(workerConfig, log.child({ component: 'worker' }), undefined, tracing).finally(() =>
    stopBridge.abort(),
  );
  await Promise.all([
    worker,
    runBridge(bridgeConfig, log.child({ component: 'bridge' }), stopBridge.signal, tracing),
  ]).finally(() => tracing.shutdown());
});
