import { createHash, randomUUID } from 'node:crypto';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { WorkflowExecutionAlreadyStartedError, WorkflowFailedError } from '@temporalio/client';
import {
  FailureType,
  jobStartOptions,
  JobIdAttribute,
  ProductionIdAttribute,
  UserIdAttribute,
  workflowIdForJob,
  type ImageJobResult,
} from '../src/contract';
import { imageJob, progressQuery } from '../src/workflows';
import { eventually } from './support/eventually';
import { keepHistory } from './support/histories';
import { spawnService } from '../dev/processes';
import { attachmentsUnder, jobState, productionState, type JobState } from '../dev/seed';
import {
  BUCKET,
  FAKE_GEMINI_KEY,
  FAKE_SERVICE_KEY,
  seedJob,
  startStack,
  type SeededJob,
  type Stack,
} from '../dev/stack';
import { buildOf, promoteVersion } from '../src/worker/deployment';
import { uniqueTaskQueue, untilVersionPolls, withWorkers } from '../dev/workers';

/**
 * Seeded rows → the workflow on a real worker with the real activities → rows, objects and counts, exactly.
 */

let stack: Stack;
let taskQueue: string;
beforeAll(async () => {
  stack = await startStack({ temporal: true });
  taskQueue = uniqueTaskQueue('e2e');
});
afterAll(async () => {
  await stack?.stop();
});

/** Runs one job while sampling its row the way the front end polls it. */
async function runJob(job: SeededJob, historyName: string, imageConcurrency?: number) {
  const samples: JobState[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      samples.push(await jobState(stack.db.pool, job.jobId));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  try {
    return await withWorkers(stack.temporal!, taskQueue, stack.activities, async () => {
      const handle = await stack.temporal!.client.workflow.start(imageJob, {
        taskQueue,
        ...jobStartOptions(job.jobId),
        args: [{ jobId: job.jobId, imageConcurrency }],
      });
      const result: { value?: ImageJobResult; error?: unknown } = await handle.result().then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      await keepHistory(handle, historyName);
      return { ...result, samples };
    });
  } finally {
    polling = false;
    await poll;
  }
}

function geminiCallsFor(job: SeededJob): number {
  const source = createHash('sha256').update(job.sourceBytes).digest('hex');
  return stack.gemini.requests.filter((r) => r.imageSha256 === source).length;
}

test('every image made: rows, objects and counts exact, and progress visible while it runs', async () => {
  const job = await seedJob(stack, { quantity: 3 });
  stack.gemini.latencyMs = 300;
  const { value, samples } = await runJob(job, 'all-made', 1);
  stack.gemini.latencyMs = 0;

  const folder = `generated-images/user-${job.userId}`;
  const rows = await attachmentsUnder(stack.db.pool, folder);
  const ids = rows.map((row) => row.attach_id);
  expect(value).toEqual({
    jobId: job.jobId,
    status: 'completed',
    totalImages: 3,
    completedImages: 3,
    failedImages: 0,
    attachIds: ids,
  });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'completed',
    total_images: 3,
    completed_images: 3,
    failed_images: 0,
    generated_attach_ids: ids,
  });
  expect(await productionState(stack.db.pool, job.productionId)).toEqual({
    production_status: 'completed',
    attach_ids: ids,
    generated_image_count: 3,
  });
  // One object per row, with the row's size and type, and nothing else in the folder.
  expect(stack.storage.list(BUCKET, folder)).toEqual(rows.map((row) => row.attach_file_path).sort());
  for (const row of rows) {
    const object = stack.storage.get(BUCKET, row.attach_file_path)!;
    expect(Number(row.attach_file_size)).toBe(object.bytes.length);
    expect(row.attach_file_type).toBe(object.contentType);
    expect(row.attach_file_name).toMatch(/^generated_\d{13}_[0-9a-z]{6}\.png$/);
  }
  expect(geminiCallsFor(job)).toBe(3);

  // What the polling front end saw: processing with partial counts, never going backwards, then completed.
  const seen = samples.map((s) => `${s.job_status}:${s.completed_images}`);
  expect(seen).toContain('processing:1');
  expect(seen).toContain('processing:2');
  const completedCounts = samples.map((s) => s.completed_images);
  expect(completedCounts).toEqual([...completedCounts].sort((a, b) => a - b));
});

test('some made: completed, the blocked image counted as failed and not retried', async () => {
  const job = await seedJob(stack, { quantity: 3 });
  stack.gemini.enqueue({ kind: 'image' }, { kind: 'output-blocked' }, { kind: 'image', mimeType: 'image/webp' });
  const { value } = await runJob(job, 'some-made', 1);
  expect(value).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 1 });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'completed',
    completed_images: 2,
    failed_images: 1,
  });
  const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
  expect(rows.map((row) => row.attach_file_type)).toEqual(['image/png', 'image/webp']);
  expect(geminiCallsFor(job)).toBe(3);
  // The full history, failures included, holds no credential.
  const history = JSON.stringify(
    await stack.temporal!.client.workflow.getHandle(workflowIdForJob(job.jobId)).fetchHistory(),
  );
  expect(history).toContain('Gemini blocked the image');
  expect(history).not.toContain(FAKE_GEMINI_KEY);
  expect(history).not.toContain(FAKE_SERVICE_KEY);
});

test('a source URL Gemini cannot fetch: that image goes inline in the same attempt, and no URL reaches the history', async () => {
  const job = await seedJob(stack, { quantity: 2 });
  let fetches = 0;
  stack.gemini.failUrlFetches(() => fetches++ === 0);
  const before = stack.gemini.requests.length;
  try {
    const { value } = await runJob(job, 'url-fallback', 1);
    expect(value).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 0 });
  } finally {
    stack.gemini.failUrlFetches(undefined);
  }
  const calls = stack.gemini.requests.slice(before);
  expect(calls.map((c) => [c.sourceVia, c.status])).toEqual([
    ['url', 400],
    ['inline', 200],
    ['url', 200],
  ]);
  expect(calls[0]!.imageKey).toBe(calls[1]!.imageKey);
  const history = await stack.temporal!.client.workflow.getHandle(workflowIdForJob(job.jobId)).fetchHistory();
  // The fallback cost no retry: every activity of the job ran once.
  const attempts = history.events!.flatMap((e) =>
    e.activityTaskStartedEventAttributes ? [e.activityTaskStartedEventAttributes.attempt] : [],
  );
  expect(attempts.length).toBeGreaterThan(0);
  expect(new Set(attempts)).toEqual(new Set([1]));
  const text = JSON.stringify(history);
  for (const call of calls.filter((c) => c.fileUri)) {
    expect(text).not.toContain(new URL(call.fileUri!).searchParams.get('token'));
    expect(text).not.toContain(call.fileUri);
  }
  expect(text).not.toContain('/object/sign/');
});

test('none made: job and production failed, the workflow fails with NoImagesGenerated', async () => {
  const job = await seedJob(stack, { quantity: 2 });
  stack.gemini.enqueue({ kind: 'text-only' }, { kind: 'prompt-blocked' });
  const { error } = await runJob(job, 'none-made');
  expect(error).toBeInstanceOf(WorkflowFailedError);
  expect((error as WorkflowFailedError).cause).toMatchObject({ type: FailureType.noImagesGenerated });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'failed',
    completed_images: 0,
    failed_images: 2,
  });
  expect(await productionState(stack.db.pool, job.productionId)).toMatchObject({
    production_status: 'failed',
    generated_image_count: 0,
  });
  expect(stack.storage.list(BUCKET, `generated-images/user-${job.userId}`)).toEqual([]);
});

test('invalid job data: the row is failed at once with the reason on the workflow', async () => {
  const job = await seedJob(stack, { quantity: 2.5 });
  const before = stack.gemini.requests.length;
  const { error } = await runJob(job, 'invalid-data');
  const cause = (error as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause).toMatchObject({
    type: FailureType.invalidJobData,
    message: `job ${job.jobId}: quantity must be a whole number`,
  });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'failed',
    completed_at: expect.any(Date),
  });
  expect(stack.gemini.requests.length).toBe(before);
});

test('one workflow per job: a second start while it runs is refused, a run after it finished does nothing', async () => {
  const job = await seedJob(stack, { quantity: 1 });
  const workflowId = workflowIdForJob(job.jobId);
  const start = () =>
    stack.temporal!.client.workflow.start(imageJob, { taskQueue, workflowId, args: [{ jobId: job.jobId }] });
  stack.gemini.latencyMs = 500;
  await withWorkers(stack.temporal!, taskQueue, stack.activities, async () => {
    const first = await start();
    await expect(start()).rejects.toThrow(WorkflowExecutionAlreadyStartedError);
    await first.result();
    stack.gemini.latencyMs = 0;
    expect(await (await start()).result()).toMatchObject({ status: 'completed', alreadyFinished: true });
  });
  expect(geminiCallsFor(job)).toBe(1);
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({ job_status: 'completed', completed_images: 1 });
});

test('operators find a job by JobId, ProductionId or UserId, with its summary', async () => {
  const job = await seedJob(stack, { quantity: 2 });
  await runJob(job, 'searchable');
  const client = stack.temporal!.client;
  for (const query of [`JobId = '${job.jobId}'`, `ProductionId = '${job.productionId}'`, `UserId = '${job.userId}'`]) {
    const found = await eventually(async () => {
      const ids: string[] = [];
      for await (const execution of client.workflow.list({ query })) ids.push(execution.workflowId);
      return ids.length > 0 && ids;
    }, query);
    expect(found).toEqual([workflowIdForJob(job.jobId)]);
  }
  const handle = client.workflow.getHandle(workflowIdForJob(job.jobId));
  const description = await handle.describe();
  expect(description.typedSearchAttributes.get(JobIdAttribute)).toBe(job.jobId);
  expect(description.typedSearchAttributes.get(ProductionIdAttribute)).toBe(job.productionId);
  expect(description.typedSearchAttributes.get(UserIdAttribute)).toBe(job.userId);
  expect(await description.staticSummary()).toBe(`Image job ${job.jobId}`);
});

test('cancelled mid-job: images made are kept and counted, the rest is not asked of Gemini, statuses by policy', async () => {
  const job = await seedJob(stack, { quantity: 4 });
  stack.gemini.latencyMs = 700;
  await withWorkers(stack.temporal!, taskQueue, stack.activities, async () => {
    const handle = await stack.temporal!.client.workflow.start(imageJob, {
      taskQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId, imageConcurrency: 1 }],
    });
    await eventually(async () => (await jobState(stack.db.pool, job.jobId)).completed_images === 1, 'one image made');
    const progress = await handle.query(progressQuery);
    expect(progress).toMatchObject({ phase: 'generating', totalImages: 4, completedImages: 1 });
    await handle.cancel();
    const error = await handle.result().catch((e: unknown) => e);
    expect((error as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  });
  stack.gemini.latencyMs = 0;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  // The first image, and the second that was in flight when the cancel came; never the third or fourth.
  expect(geminiCallsFor(job)).toBe(2);
  const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
  expect(rows).toHaveLength(1);
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'completed',
    completed_images: 1,
    failed_images: 3,
    generated_attach_ids: [rows[0]!.attach_id],
  });
  expect(await productionState(stack.db.pool, job.productionId)).toEqual({
    production_status: 'completed',
    attach_ids: [rows[0]!.attach_id],
    generated_image_count: 1,
  });
});

test('npm run replay: a finished workflow replays against the current code, not against a reordered one', async () => {
  const job = await seedJob(stack, { quantity: 1 });
  await runJob(job, 'replayed');
  const env = { TEMPORAL_ADDRESS: stack.temporal!.address };
  const current = spawnService('replay', env, [workflowIdForJob(job.jobId)]);
  expect({ code: await current.exited, output: current.output() }).toEqual({
    code: 0,
    output: expect.stringContaining('OK: the history replays against this code'),
  });
  const changed = spawnService('replay', env, [
    workflowIdForJob(job.jobId),
    '--workflows',
    'test/fixtures/reordered-workflow.ts',
  ]);
  expect(await changed.exited).toBe(1);
  expect(changed.output()).toContain(`NONDETERMINISM: this code would break runs like ${workflowIdForJob(job.jobId)}`);
}, 60_000);

test('on versioned workers a job is pinned to their build, which its description and a visibility query show', async () => {
  const { client, namespace = 'default' } = stack.temporal!;
  const version = { deploymentName: `e2e-${randomUUID().slice(0, 8)}`, buildId: 'e2e-build-1' };
  const versionedQueue = uniqueTaskQueue('e2e-versioned');
  const job = await seedJob(stack, { quantity: 2 });
  const body = async () => {
    await untilVersionPolls(client, namespace, version, versionedQueue);
    await promoteVersion({ client, namespace, deploymentName: version.deploymentName }, version.buildId);
    const handle = await client.workflow.start(imageJob, {
      taskQueue: versionedQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId }],
    });
    const result = await handle.result();
    await keepHistory(handle, 'pinned');
    return { result, handle };
  };
  const { result, handle } = await withWorkers(stack.temporal!, versionedQueue, stack.activities, body, 16, version);
  expect(result).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 0 });
  // The workflow's versioning info, which the Web UI shows on its page.
  expect(buildOf(await handle.describe())).toEqual({ buildId: version.buildId, behavior: 'PINNED' });
  // The search attributes the server keeps, which the Web UI's list filters on.
  const query =
    `TemporalWorkerDeploymentVersion = '${version.deploymentName}:${version.buildId}' ` +
    `AND TemporalWorkflowVersioningBehavior = 'Pinned' AND JobId = '${job.jobId}'`;
  await eventually(async () => (await client.workflow.count(query)).count === 1, `the run listed by ${query}`);
});

test("the worker's Storage client (supabase-js) opened no realtime socket in all of the jobs above", () => {
  expect(stack.storage.requests.length).toBeGreaterThan(0);
  expect(stack.storage.upgradeRequests).toEqual([]);
});
