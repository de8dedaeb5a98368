import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { jobStartOptions, workflowIdForJob } from '../src/contract';
import { imageJob } from '../src/workflows';
import { createWorkers, runWorkers } from '../src/worker/worker';
import { attachmentsUnder, jobState } from '../dev/seed';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { uniqueTaskQueue, workflowBundle } from '../dev/workers';
import { TemporalCluster } from '../dev/temporal-cluster';
import { eventually } from './support/eventually';

/**
 * The product on a real Temporal cluster instead of the dev server: PostgreSQL persistence and visibility,
 * 16 history shards, frontend, history, matching and worker as separate processes; the product's own workers
 * and activities against the usual Postgres and HTTP doubles. Then the history process dies and comes back, between
 * jobs and in the middle of one.
 */

let stack: Stack;
let cluster: TemporalCluster;
let connection: Connection;
let client: Client;
let workerConnection: NativeConnection;
let workers: Worker[] = [];
let running: Promise<void> | undefined;
const taskQueue = uniqueTaskQueue('cluster');

beforeAll(async () => {
  // Both settled before going on, so that afterAll stops whichever started even when the other failed.
  const started = await Promise.allSettled([
    startStack().then((started) => (stack = started)),
    TemporalCluster.start().then((started) => (cluster = started)),
  ]);
  for (const result of started) if (result.status === 'rejected') throw result.reason;
  connection = await Connection.connect({ address: cluster.address });
  client = new Client({ connection, namespace: cluster.namespace });
  workerConnection = await NativeConnection.connect({ address: cluster.address });
  workers = await createWorkers({
    connection: workerConnection,
    namespace: cluster.namespace,
    taskQueue,
    activities: stack.activities,
    maxConcurrentGeminiCalls: 4,
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  running = runWorkers(workers);
}, 240_000);

afterAll(async () => {
  for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  await running;
  await workerConnection?.close();
  await connection?.close();
  await Promise.all([cluster?.drop(), stack?.stop()]);
}, 60_000);

/** Runs one job to its end and checks its rows: completed, every image made, one attachment row per image. */
async function runJobAndCheckRows(quantity: number) {
  const job = await seedJob(stack, { quantity });
  const handle = await client.workflow.start(imageJob, {
    taskQueue,
    ...jobStartOptions(job.jobId),
    args: [{ jobId: job.jobId }],
  });
  const result = await handle.result();
  const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
  const ids = rows.map((row) => row.attach_id);
  expect(result).toEqual({
    jobId: job.jobId,
    status: 'completed',
    totalImages: quantity,
    completedImages: quantity,
    failedImages: 0,
    attachIds: expect.any(Array),
  });
  expect([...result.attachIds].sort((a, b) => a - b)).toEqual(ids);
  expect(rows).toHaveLength(quantity);
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'completed',
    total_images: quantity,
    completed_images: quantity,
    failed_images: 0,
  });
  return job;
}

test('an image job end to end on the cluster, found by JobId through PostgreSQL visibility', async () => {
  const job = await runJobAndCheckRows(3);
  // Visibility is written after the fact: poll until the closed run is listed.
  const found = await eventually(async () => {
    const runs: string[] = [];
    for await (const execution of client.workflow.list({ query: `JobId = '${job.jobId}'` })) {
      runs.push(`${execution.workflowId} ${execution.status.name}`);
    }
    return runs.length > 0 && runs.every((run) => run.endsWith('COMPLETED')) && runs;
  }, `the completed run listed under JobId ${job.jobId}`);
  expect(found).toEqual([`${workflowIdForJob(job.jobId)} COMPLETED`]);
});

test('history killed with SIGKILL and restarted: the next job still completes', async () => {
  await cluster.kill('history', 'SIGKILL');
  await cluster.restart('history');
  await runJobAndCheckRows(2);
});

test('history killed with SIGKILL while a job runs: the job still ends with exact rows', async () => {
  stack.gemini.latencyMs = 500;
  try {
    const job = await seedJob(stack, { quantity: 4 });
    const handle = await client.workflow.start(imageJob, {
      taskQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId, imageConcurrency: 1 }],
    });
    await eventually(async () => (await jobState(stack.db.pool, job.jobId)).completed_images >= 1, 'one image made');
    await cluster.kill('history', 'SIGKILL');
    // Mid-job: images left to make while history is down and while it takes its shards back.
    expect((await jobState(stack.db.pool, job.jobId)).completed_images).toBeLessThan(4);
    await cluster.restart('history');
    const result = await handle.result();
    const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
    expect(result).toMatchObject({ status: 'completed', completedImages: 4, failedImages: 0 });
    expect(rows).toHaveLength(4);
    expect([...result.attachIds].sort((a, b) => a - b)).toEqual(rows.map((row) => row.attach_id));
    expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({ job_status: 'completed', completed_images: 4 });
  } finally {
    stack.gemini.latencyMs = 0;
  }
});
