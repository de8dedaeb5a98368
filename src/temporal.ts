import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';

/** The one module that knows how to reach Temporal. */

export interface TemporalSettings {
  address: string;
  namespace: string;
}

export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ address: settings.address });
}

/** Connects on first use, so a process can start while Temporal is down and wait it out in its own retries. */
export function lazyClient(settings: TemporalSettings): Client {
  return new Client({ connection: Connection.lazy({ address: settings.address }), namespace: settings.namespace });
}
