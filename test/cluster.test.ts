import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { queueKeys } from '../src/bridge/queue';
import { sweepScheduleId, ensureSweepSchedule } from '../src/bridge/sweep-schedule';
import { jobStartOptions, workflowIdForJob } from '../src/contract';
import { imageJob } from '../src/workflows';
import { createWorkers, runWorkers } from '../src/worker/worker';
import { spawnService, type ServiceProcess } from '../dev/processes';
import { RedisServer } from '../dev/redis-server';
import { attachmentsUnder, jobState } from '../dev/seed';
import { seedJob, startStack, workerEnvironment, type SeededJob, type Stack } from '../dev/stack';
import { uniqueTaskQueue, workflowBundle } from '../dev/workers';
import { TemporalCluster } from '../dev/temporal-cluster';
import { eventually } from './support/eventually';
import { floodOneWorker, HEAVY, LIGHT } from './support/flood';
import { finishedBefore } from '../dev/flood';

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

test('an image job end to end on the cluster, found by JobId, ProductionId and UserId through SQL visibility', async () => {
  const job = await runJobAndCheckRows(3);
  for (const query of [`JobId = '${job.jobId}'`, `ProductionId = '${job.productionId}'`, `UserId = '${job.userId}'`]) {
    // Visibility is written after the fact: poll until the closed run is listed.
    const found = await eventually(async () => {
      const runs: string[] = [];
      for await (const execution of client.workflow.list({ query })) {
        runs.push(`${execution.workflowId} ${execution.status.name}`);
      }
      return runs.length > 0 && runs.every((run) => run.endsWith('COMPLETED')) && runs;
    }, `the completed run listed under ${query}`);
    expect(found).toEqual([`${workflowIdForJob(job.jobId)} COMPLETED`]);
  }
});

test('npm run replay: a history fetched from the cluster replays against the current code', async () => {
  const job = await runJobAndCheckRows(1);
  const replay = spawnService('replay', { TEMPORAL_ADDRESS: cluster.address, TEMPORAL_NAMESPACE: cluster.namespace }, [
    workflowIdForJob(job.jobId),
  ]);
  expect({ code: await replay.exited, output: replay.output() }).toEqual({
    code: 0,
    output: expect.stringContaining('OK: the history replays against this code'),
  });
});

test("the sweep's Schedule runs on the cluster and starts a stale pending job once", async () => {
  const stale = await seedJob(stack, { quantity: 1 });
  await stack.db.pool.query(
    `UPDATE quel_production_jobs SET created_at = now() - interval '1 hour' WHERE job_id = $1`,
    [stale.jobId],
  );
  const scheduleId = await ensureSweepSchedule(client, { taskQueue, everySeconds: 3600, staleAfterSeconds: 600 });
  expect(scheduleId).toBe(sweepScheduleId(taskQueue));
  const schedule = client.schedule.getHandle(scheduleId);
  try {
    await schedule.trigger();
    const result = await eventually(
      () => client.workflow.getHandle(workflowIdForJob(stale.jobId)).result(),
      'the stale job started by the sweep and completed',
      60_000,
    );
    expect(result).toMatchObject({ status: 'completed', completedImages: 1 });
    expect((await schedule.describe()).info.recentActions).toHaveLength(1);
  } finally {
    await schedule.delete();
  }
});

test("fairness on the cluster: a light user's job ends before most of a heavy user's backlog", async () => {
  const jobs = await floodOneWorker(
    { client, nativeConnection: workerConnection, namespace: cluster.namespace },
    stack,
  );
  expect(jobs.filter((job) => job.status === 'completed')).toHaveLength(HEAVY.jobs + LIGHT.jobs);
  expect(finishedBefore(jobs, HEAVY.userId, LIGHT.userId)).toBeLessThanOrEqual(HEAVY.jobs / 3);
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

describe('a fleet: two worker processes and two bridge processes on one task queue and one Redis list', () => {
  let redis: RedisServer;
  const processes: ServiceProcess[] = [];
  beforeAll(async () => {
    redis = await RedisServer.start();
  });
  afterAll(async () => {
    for (const p of processes) p.child.kill('SIGTERM');
    await Promise.all(processes.map((p) => p.exited));
    await redis?.stop();
  });

  test('every pushed id is started once, both workers make images, and no image is made twice', async () => {
    const fleetQueue = uniqueTaskQueue('fleet');
    const key = `fleet-${randomUUID()}`;
    const temporal = {
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_NAMESPACE: cluster.namespace,
      TEMPORAL_TASK_QUEUE: fleetQueue,
    };
    const worker = () =>
      spawnService('worker', {
        ...temporal,
        ...workerEnvironment(stack),
        GEMINI_MAX_CONCURRENT_CALLS: '2',
      });
    const bridge = (id: string) =>
      spawnService('bridge', {
        ...temporal,
        REDIS_URL: redis.url,
        QUEUE_KEY: key,
        BRIDGE_ID: id,
        DATABASE_URL: stack.db.url,
      });
    const workers = [worker(), worker()];
    const bridges = [bridge('bridge-a'), bridge('bridge-b')];
    processes.push(...workers, ...bridges);
    await Promise.all([...workers, ...bridges].map((p) => p.started));

    stack.gemini.latencyMs = 200;
    const pusher = redis.client();
    try {
      const jobs: SeededJob[] = [];
      for (let i = 0; i < 10; i++) {
        const job = await seedJob(stack, { quantity: 2 });
        jobs.push(job);
        await pusher.lpush(key, job.jobId);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const job of jobs) {
        const done = await eventually(
          async () => {
            const state = await jobState(stack.db.pool, job.jobId);
            return state.job_status === 'completed' && state;
          },
          `job ${job.jobId} to complete`,
          60_000,
        );
        expect(done).toMatchObject({ total_images: 2, completed_images: 2, failed_images: 0 });
        expect(await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`)).toHaveLength(2);
      }
      // One Gemini call per image: no image of any job was paid for twice.
      const keys = stack.gemini.requests
        .map((request) => request.imageKey ?? '')
        .filter((imageKey) => jobs.some((job) => imageKey.startsWith(`${job.jobId}/`)));
      expect(keys).toHaveLength(20);
      expect(new Set(keys).size).toBe(20);
      // Each id started exactly once, across both bridges, and both took some.
      const started = bridges.map((b) => b.output().split('"msg":"job workflow started"').length - 1);
      expect(started[0]! + started[1]!).toBe(10);
      expect(bridges.map((b) => b.output())).not.toContainEqual(expect.stringContaining('already running'));
      expect(started.every((count) => count > 0)).toBe(true);
      // Both workers made images.
      const stored = workers.map((w) => w.output().split('"msg":"image stored"').length - 1);
      expect(stored[0]! + stored[1]!).toBe(20);
      expect(stored.every((count) => count > 0)).toBe(true);
      for (const id of ['bridge-a', 'bridge-b']) {
        expect(await pusher.llen(queueKeys({ key, bridgeId: id }).processing)).toBe(0);
      }
    } finally {
      pusher.disconnect();
      stack.gemini.latencyMs = 0;
    }
  });
});
