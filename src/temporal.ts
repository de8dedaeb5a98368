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

export async function connectClient(settings: TemporalSettings): Promise<Client> {
  const connection = await Connection.connect({ address: settings.address });
  return new Client({ connection, namespace: settings.namespace });
}
