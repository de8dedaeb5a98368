import 'dotenv/config';
import { createJobQueue } from '../src/bridge/queue';
import { ConfigError, loadBridgeConfig } from '../src/config';

/** `npm run enqueue -- <jobId> [...]`: pushes job ids exactly as the front end does. */
async function main(jobIds: string[]): Promise<void> {
  if (jobIds.length === 0) throw new Error('usage: npm run enqueue -- <jobId> [<jobId> ...]');
  const config = loadBridgeConfig();
  const queue = createJobQueue(config.queue);
  try {
    for (const jobId of jobIds) await queue.push(jobId);
    console.log(`pushed ${jobIds.length} job id(s) onto ${queue.keys.pending} (${config.queue.pushSide})`);
  } finally {
    queue.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
  process.exit(1);
});
