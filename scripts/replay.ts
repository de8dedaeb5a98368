import 'dotenv/config';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DeterminismViolationError } from '@temporalio/workflow';
import { Worker } from '@temporalio/worker';
import { loadTemporalConfig } from '../src/process/config';
import { lazyClient } from '../src/process/temporal-connection';

/**
 * `npm run replay -- <workflowId> [--workflows <path>]`: fetches the workflow's history from the server and
 * replays it against the current workflow code (or the given module), so a change that would break runs in
 * flight is found before it is deployed. Exit code 0: it replays; 1: nondeterminism or another failure.
 */
async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { workflows: { type: 'string' } },
    allowPositionals: true,
  });
  const [workflowId] = positionals;
  if (!workflowId) throw new Error('usage: npm run replay -- <workflowId> [--workflows <path>]');
  const workflowsPath = values.workflows ? path.resolve(values.workflows) : require.resolve('../src/workflows');

  const config = loadTemporalConfig();
  const client = lazyClient(config);
  try {
    const history = await client.workflow.getHandle(workflowId).fetchHistory();
    console.log(
      `replaying ${workflowId} (${history.events?.length ?? 0} events) against ${path.relative(process.cwd(), workflowsPath)}`,
    );
    await Worker.runReplayHistory({ workflowsPath }, history, workflowId);
    console.log('OK: the history replays against this code');
    return 0;
  } catch (error) {
    if (error instanceof DeterminismViolationError) {
      console.log(`NONDETERMINISM: this code would break runs like ${workflowId}: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    await client.connection.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`replay failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
