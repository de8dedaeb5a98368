import { createHash } from 'node:crypto';
import { workflowIdForJob } from '../src/contract';
import { imageJob } from '../src/workflows';
import { attachmentsUnder, jobState, productionState } from '../dev/seed';
import {
  BUCKET,
  FAKE_GEMINI_KEY,
  FAKE_SERVICE_KEY,
  seedJob,
  startStack,
  workerEnvironment,
  type Stack,
} from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { spawnService, type ServiceProcess } from '../dev/processes';

/**
 * A worker process killed with SIGKILL in the middle of a job, and a new one started: the job finishes with
 * exact counts, no duplicate object, row or id, and Gemini is never asked again for an image already stored.
 */

const QUANTITY = 6;
let stack: Stack;
const workers: ServiceProcess[] = [];

beforeAll(async () => {
  stack = await startStack({ temporal: true });
});
afterAll(async () => {
  for (const worker of workers) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await stack?.stop();
});

test('SIGKILL mid-job: a new worker finishes it exactly once', async () => {
  const taskQueue = uniqueTaskQueue('crash');
  const env = {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...workerEnvironment(stack),
    LOG_LEVEL: 'info',
  };
  const job = await seedJob(stack, { quantity: QUANTITY });
  const folder = `generated-images/user-${job.userId}`;
  stack.gemini.latencyMs = 800;

  const first = spawnService('worker', env);
  workers.push(first);
  await first.started;
  const handle = await stack.temporal!.client.workflow.start(imageJob, {
    taskQueue,
    workflowId: workflowIdForJob(job.jobId),
    args: [{ jobId: job.jobId, imageConcurrency: 2 }],
  });

  // Kill once some images are stored and recorded and others are on their way.
  while ((await jobState(stack.db.pool, job.jobId)).completed_images < 2) await sleep(50);
  first.child.kill('SIGKILL');
  const killedAt = Date.now();
  await first.exited;
  await sleep(300); // requests the dead process had already sent finish landing
  const storedBeforeKill = stack.storage.list(BUCKET, folder).length;
  expect(storedBeforeKill).toBeGreaterThanOrEqual(2);
  expect(storedBeforeKill).toBeLessThan(QUANTITY);

  const second = spawnService('worker', env);
  workers.push(second);
  const result = await handle.result();

  const rows = await attachmentsUnder(stack.db.pool, folder);
  const ids = rows.map((row) => row.attach_id);
  const objects = stack.storage.list(BUCKET, folder);
  expect(result).toMatchObject({ status: 'completed', completedImages: QUANTITY, failedImages: 0 });
  expect([...result.attachIds].sort((a, b) => a - b)).toEqual(ids);
  expect(rows).toHaveLength(QUANTITY);
  expect(objects).toEqual(rows.map((row) => row.attach_file_path).sort());
  expect(new Set(rows.map((row) => row.attach_file_path)).size).toBe(QUANTITY);
  const state = await jobState(stack.db.pool, job.jobId);
  expect(state).toMatchObject({
    job_status: 'completed',
    total_images: QUANTITY,
    completed_images: QUANTITY,
    failed_images: 0,
  });
  expect([...state.generated_attach_ids].sort((a, b) => a - b)).toEqual(ids);
  expect(await productionState(stack.db.pool, job.productionId)).toMatchObject({
    production_status: 'completed',
    generated_image_count: QUANTITY,
  });

  // Gemini after the kill: exactly one call per image not yet stored, none for an image already stored.
  const callsAfterKill = stack.gemini.requests.filter((r) => r.at > killedAt);
  expect(callsAfterKill).toHaveLength(QUANTITY - storedBeforeKill);
  // Every stored object is one answer of the double, each answer stored at most once.
  const answers = new Map(stack.gemini.requests.map((r) => [r.answerSha256, r]));
  const storedAnswers = objects.map((path) =>
    createHash('sha256').update(stack.storage.get(BUCKET, path)!.bytes).digest('hex'),
  );
  for (const sha of storedAnswers) expect(answers.has(sha)).toBe(true);
  expect(new Set(storedAnswers).size).toBe(QUANTITY);

  // Neither worker's log carries a credential, nor any signed source URL's token (the source went by URL).
  const tokens = stack.gemini.requests.flatMap((r) =>
    r.fileUri ? [new URL(r.fileUri).searchParams.get('token')!] : [],
  );
  expect(tokens.length).toBeGreaterThanOrEqual(QUANTITY);
  for (const worker of workers) {
    expect(worker.output()).not.toContain(FAKE_GEMINI_KEY);
    expect(worker.output()).not.toContain(FAKE_SERVICE_KEY);
    for (const token of tokens) expect(worker.output()).not.toContain(token);
  }
}, 180_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
