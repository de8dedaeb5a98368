import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { SEARCH_ATTRIBUTES } from './contract';

/** The one module that knows how to reach Temporal. */

export interface TemporalSettings {
  address: string;
  namespace: string;
}

export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  return NativeConnection.connect({ address: settings.address });
}

/**
 * Connects on first use, so a process can start while Temporal is down and wait it out in its own retries.
 * `interceptors`: the tracing's, which carry a trace into the workflows it starts.
 */
export function lazyClient(settings: TemporalSettings, interceptors: WorkflowClientInterceptor[] = []): Client {
  return new Client({
    connection: Connection.lazy({ address: settings.address }),
    namespace: settings.namespace,
    interceptors: { workflow: interceptors },
  });
}

/**
 * Registers the product's search attributes on a namespace (`npm run search-attributes`, and the demo).
 * Those already there are left alone, so it can run on every start.
 */
export async function registerSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
  if (missing.length > 0) {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  }
  return missing.map((key) => key.name);
}
