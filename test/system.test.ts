import { jobState, productionState } from '../dev/seed';
import { eventually } from './support/eventually';
import { freePort } from '../dev/ports';
import { RedisServer } from '../dev/redis-server';
import { spawnService } from '../dev/processes';
import { FAKE_GEMINI_KEY, FAKE_SERVICE_KEY, seedJob, startStack, workerEnvironment, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';

/**
 * The whole product as deployed small: `npm start` (worker and bridge in one process) and the front end's
 * push (`npm run enqueue`), against real Postgres, Redis, Temporal and the HTTP doubles.
 */

let stack: Stack;
let redis: RedisServer;
beforeAll(async () => {
  [stack, redis] = await Promise.all([startStack({ temporal: true }), RedisServer.start()]);
});
afterAll(async () => {
  await redis?.stop();
  await stack?.stop();
});

test('a job pushed to Redis is processed to completion, with metrics; SIGTERM stops the process cleanly', async () => {
  const metricsPort = await freePort();
  const env = {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('system'),
    ...workerEnvironment(stack),
    REDIS_URL: redis.url,
    QUEUE_KEY: 'front-end-jobs',
    METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
  };
  const job = await seedJob(stack, { quantity: 2 });
  const app = spawnService('all', env);
  await app.started;

  const enqueue = spawnService('enqueue', env, [job.jobId]);
  expect(await enqueue.exited).toBe(0);
  expect(enqueue.output()).toContain('pushed 1 job id(s) onto front-end-jobs (left)');

  const done = await eventually(
    async () => {
      const state = await jobState(stack.db.pool, job.jobId);
      return state.job_status === 'completed' && state;
    },
    'the job to complete',
    60_000,
  );
  expect(done).toMatchObject({ total_images: 2, completed_images: 2, failed_images: 0 });
  expect((await productionState(stack.db.pool, job.productionId)).generated_image_count).toBe(2);

  // The product's counters and Gemini latency, next to the Temporal runtime's own metrics. The row ends in the
  // finishing activity, a moment before the workflow's last task counts the job, and the runtime counts the
  // workflow's completion only once the server has taken that task, so the scrape waits for both.
  const metrics = await eventually(async () => {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    return /^image_jobs_completed\{/m.test(text) && /^\S*workflow_completed\S*\{/m.test(text) && text;
  }, 'the completed job and workflow to be counted');
  expect(metrics).toMatch(/^images_made\{[^}]*\} 2$/m);
  expect(metrics).toMatch(/^image_jobs_started\{[^}]*\} 1$/m);
  expect(metrics).toMatch(/^image_jobs_completed\{[^}]*\} 1$/m);
  expect(metrics).toMatch(/^gemini_request_latency_count\{[^}]*outcome="image"[^}]*\} 2$/m);

  app.child.kill('SIGTERM');
  expect(await app.exited).toBe(0);
  for (const line of ['"msg":"job workflow started"', '"msg":"bridge stopped"', '"msg":"worker stopped"']) {
    expect(app.output()).toContain(line);
  }
  expect(app.output()).not.toContain(FAKE_GEMINI_KEY);
  expect(app.output()).not.toContain(FAKE_SERVICE_KEY);
}, 120_000);
