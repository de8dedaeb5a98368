import { Client, Connection } from '@temporalio/client';
import { TemporalCluster } from './temporal-cluster';
import { startTemporal } from './temporal-dev-server';

/** The Temporal a whole-system run (chaos, soak) is on: where processes connect, a client for the run's own reads. */
export interface TemporalEngine {
  kind: 'dev' | 'cluster';
  address: string;
  client: Client;
  /** The real cluster, whose processes the run may kill or measure; none on the dev server. */
  cluster?: TemporalCluster;
  stop(): Promise<void>;
}

/**
 * The CLI's dev server (in memory, or in `dbFilename`), or the real cluster, its databases on `clusterDatabaseUrl`
 * (by default the project's PostgreSQL).
 */
export async function startTemporalEngine(
  kind: TemporalEngine['kind'],
  options: { dbFilename?: string; clusterDatabaseUrl?: string } = {},
): Promise<TemporalEngine> {
  if (kind === 'dev') {
    const env = await startTemporal({ dbFilename: options.dbFilename });
    return { kind, address: env.address, client: env.client, stop: () => env.teardown() };
  }
  const cluster = await TemporalCluster.start({ databaseUrl: options.clusterDatabaseUrl });
  const connection = await Connection.connect({ address: cluster.address });
  return {
    kind,
    address: cluster.address,
    client: new Client({ connection, namespace: cluster.namespace }),
    cluster,
    stop: async () => {
      await connection.close();
      await cluster.drop();
    },
  };
}
