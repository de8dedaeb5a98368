import type { DevServerProcess } from '../dev/temporal-dev-server';

/** Stops the Temporal dev server the global set-up started for the run. */
export default async function globalTeardown(): Promise<void> {
  await (globalThis as { sharedTemporal?: DevServerProcess }).sharedTemporal?.stop();
}
