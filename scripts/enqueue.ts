import 'dotenv/config';
import { createJobQueue } from '../src/bridge/queue';
import { loadBridgeConfig } from '../src/process/config';
import { ConfigError } from '../src/process/errors';

/** `npm run enqueue -- <jobId> [...]`: pushes job ids exactly as the front end does. */
async function main([first, ...more]: string[]): Promise<void> {
  if (!first) throw new Error('usage: npm run enqueue -- <jobId> [<jobId> ...]');
  const config = loadBridgeConfig();
  const queue = createJobQueue(config.queue);
  try {
    await queue.push(first, ...more);
    console.log(`pushed ${more.length + 1} job id(s) onto ${queue.keys.pending} (${config.queue.pushSide})`);
  } finally {
    queue.close();
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(error instanceof ConfigError || error instanceof Error ? error.message : error);
  process.exit(1);
});
