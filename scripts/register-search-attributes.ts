import 'dotenv/config';
import { loadTemporalConfig } from '../src/process/config';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { lazyClient, registerSearchAttributes } from '../src/process/temporal-connection';

/** `npm run search-attributes`: registers JobId, ProductionId and UserId on TEMPORAL_NAMESPACE at TEMPORAL_ADDRESS. */
async function main(): Promise<void> {
  const temporal = loadTemporalConfig();
  const client = lazyClient(temporal);
  try {
    const added = await registerSearchAttributes(client, temporal.namespace);
    const names = SEARCH_ATTRIBUTES.map((key) => key.name).join(', ');
    console.log(
      added.length
        ? `registered ${added.join(', ')} on ${temporal.namespace}`
        : `${names}: already registered on ${temporal.namespace}`,
    );
  } finally {
    await client.connection.close();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
