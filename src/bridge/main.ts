import 'dotenv/config';
import { ConfigError, loadBridgeConfig } from '../config';
import { createLogger } from '../logger';
import { runBridge } from '.';

/** `npm run start:bridge`: takes job ids off Redis until SIGINT/SIGTERM, then finishes the starts in flight. */
async function main(): Promise<void> {
  const config = loadBridgeConfig();
  const log = createLogger(config.logLevel, 'bridge');
  const stop = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => stop.abort());
  await runBridge(config, log, stop.signal);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(1);
  },
);
