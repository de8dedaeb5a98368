import path from 'node:path';
import { DATA_DIR, setupValues } from '../dev/setup-scripts';
import { startDevServerProcess, type DevServerProcess } from '../dev/temporal-dev-server';

/**
 * Starts (or finds running) the servers the tests use and hands their addresses to every test file through the
 * environment. Idempotent, so `npm run jest -- some.test.ts` works as well as `npm test`. Test files isolate by
 * task queue, so one Temporal dev server serves the whole run; global-teardown.ts stops it.
 */
export default async function globalSetup(): Promise<void> {
  Object.assign(process.env, setupValues('services.sh'));
  if (!process.env.TEST_DATABASE_URL) throw new Error('dev/setup/services.sh did not report TEST_DATABASE_URL');
  if (!process.env.TEMPORAL_CLI_PATH) return; // each test file then starts the SDK's own download
  const server = await startDevServerProcess({
    cliPath: process.env.TEMPORAL_CLI_PATH,
    port: 'free',
    logFile: path.join(DATA_DIR, 'temporal-tests.log'),
  });
  process.env.TEMPORAL_TEST_ADDRESS = server.address;
  (globalThis as { sharedTemporal?: DevServerProcess }).sharedTemporal = server;
}
