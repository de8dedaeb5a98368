import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export const HISTORIES_DIR = path.join(__dirname, '..', 'histories');
/**
 * Where new recordings go: one folder per shape of the workflow's history, each kept for as long as runs of that
 * shape may be in flight (`before-local-steps`: the database steps as activities, before the `local-job-steps` patch).
 */
const CURRENT_SHAPE = 'local-steps';

/**
 * With RECORD_HISTORIES=1, keeps the finished run's history under test/histories/ for the replay test, which
 * replays every stored history against the current workflow code so a nondeterministic change fails the suite.
 */
export async function keepHistory(handle: WorkflowHandle, name: string): Promise<void> {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const folder = path.join(HISTORIES_DIR, CURRENT_SHAPE);
  await mkdir(folder, { recursive: true });
  // The same JSON form as `temporal workflow show --output json` and the Web UI's download.
  await writeFile(path.join(folder, `${name}.json`), historyToJSON(history) + '\n');
}
