import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type Redis from 'ioredis';
import { queueKeys } from '../src/bridge/queue';
import { workflowIdForJob } from '../src/contract';
import { eventually } from './support/eventually';
import { createTestDatabase } from '../dev/database';
import { freePort } from '../dev/ports';
import { RedisServer } from '../dev/redis-server';
import { insertJob, insertProduction } from '../dev/seed';
import { DATA_DIR } from '../dev/setup-scripts';
import { spawnService, type ServiceProcess } from '../dev/processes';
import { startTemporal } from '../dev/temporal-dev-server';
import { uniqueTaskQueue } from '../dev/workers';

/** The bridge as its own process (`npm run start:bridge`), killed and stopped the ways production does. */

let env: TestWorkflowEnvironment;
let redis: RedisServer;
let client: Redis;
const processes: ServiceProcess[] = [];
beforeAll(async () => {
  [env, redis] = await Promise.all([startTemporal(), RedisServer.start()]);
  client = redis.client();
});
afterAll(async () => {
  for (const p of processes) p.child.kill('SIGKILL');
  await Promise.all(processes.map((p) => p.exited));
  client?.disconnect();
  await redis?.stop();
  await env?.teardown();
});

function bridgeProcess(settings: {
  key: string;
  taskQueue: string;
  temporalAddress?: string;
  redisUrl?: string;
  stopGraceSeconds?: number;
  databaseUrl?: string;
  fairnessWeights?: string;
}): ServiceProcess {
  const bridge = spawnService('bridge', {
    TEMPORAL_ADDRESS: settings.temporalAddress ?? env.address,
    TEMPORAL_TASK_QUEUE: settings.taskQueue,
    REDIS_URL: settings.redisUrl ?? redis.url,
    QUEUE_KEY: settings.key,
    BRIDGE_ID: 'bridge-under-test',
    ...(settings.stopGraceSeconds && { BRIDGE_STOP_GRACE_SECONDS: String(settings.stopGraceSeconds) }),
    ...(settings.databaseUrl && { DATABASE_URL: settings.databaseUrl }),
    ...(settings.fairnessWeights && { FAIRNESS_WEIGHTS: settings.fairnessWeights }),
  });
  processes.push(bridge);
  return bridge;
}

const keysOf = (key: string) => queueKeys({ key, bridgeId: 'bridge-under-test' });

async function hasWorkflow(jobId: string): Promise<boolean> {
  return env.client.workflow
    .getHandle(workflowIdForJob(jobId))
    .describe()
    .then(() => true);
}

test('killed (SIGKILL) after taking an id and before Temporal accepted it, the bridge loses nothing', async () => {
  const key = `jobs-${randomUUID()}`;
  const taskQueue = uniqueTaskQueue('sigkill');
  const jobId = randomUUID();
  // Temporal unreachable: the id is taken into the processing list and the start keeps failing.
  const first = bridgeProcess({ key, taskQueue, temporalAddress: `127.0.0.1:${await freePort()}` });
  await first.started;
  expect(first.output()).toContain('Temporal did not answer the start-up check');
  await client.lpush(key, jobId);
  // Taken (moved into the processing list) and, with Temporal unreachable, not started: kill it right there.
  await eventually(async () => (await client.lrange(keysOf(key).processing, 0, -1))[0] === jobId, 'the id taken');
  expect(await client.llen(key)).toBe(0);
  first.child.kill('SIGKILL');
  await first.exited;

  const second = bridgeProcess({ key, taskQueue });
  await eventually(() => hasWorkflow(jobId), 'the workflow of the re-driven id');
  await eventually(async () => (await client.llen(keysOf(key).processing)) === 0, 'the processing list to empty');
  expect(await client.llen(key)).toBe(0);
  expect(second.output()).toContain('re-driving an element from the processing list');
}, 60_000);

test("with DATABASE_URL, each job's workflow starts with its user as fairness key and the user's weight; a job without a row, with none", async () => {
  const db = await createTestDatabase();
  try {
    const key = `jobs-${randomUUID()}`;
    const jobOf = async (userId: string) =>
      insertJob(db.pool, await insertProduction(db.pool), { prompt: 'p', quantity: 1, userId, mergedImageAttachId: 1 });
    const [known, weighted] = [await jobOf('light-user'), await jobOf('paying-user')];
    const unknown = randomUUID();
    const bridge = bridgeProcess({
      key,
      taskQueue: uniqueTaskQueue('fairness-key'),
      databaseUrl: db.url,
      fairnessWeights: 'paying-user=2.5',
    });
    await bridge.started;
    await client.lpush(key, known, weighted, unknown);
    const priorityOf = async (jobId: string) =>
      (await env.client.workflow.getHandle(workflowIdForJob(jobId)).describe()).priority;
    for (const jobId of [known, weighted, unknown]) {
      await eventually(() => hasWorkflow(jobId).catch(() => false), `job ${jobId} started`);
    }
    // 0: none set, Temporal's default weight of 1.
    expect(await priorityOf(known)).toMatchObject({ fairnessKey: 'light-user', fairnessWeight: 0 });
    expect(await priorityOf(weighted)).toMatchObject({ fairnessKey: 'paying-user', fairnessWeight: 2.5 });
    expect((await priorityOf(unknown))?.fairnessKey).toBeFalsy();
    expect(bridge.output()).not.toContain('is not set: job workflows start without their user');
  } finally {
    await db.drop();
  }
}, 60_000);

test('SIGTERM: the starts in flight finish, the rest stays in Redis, and the bridge exits 0', async () => {
  const key = `jobs-${randomUUID()}`;
  const taskQueue = uniqueTaskQueue('sigterm');
  const ids = Array.from({ length: 400 }, () => randomUUID());
  const bridge = bridgeProcess({ key, taskQueue });
  await bridge.started;
  await client.lpush(key, ...ids);
  await eventually(async () => (await client.llen(key)) < ids.length - 20, 'some ids taken');
  bridge.child.kill('SIGTERM');
  expect(await bridge.exited).toBe(0);

  const left = await client.lrange(key, 0, -1);
  expect(await client.llen(keysOf(key).processing)).toBe(0);
  expect(left.length).toBeGreaterThan(0);
  const taken = ids.filter((id) => !left.includes(id));
  const started = await Promise.all(taken.map((id) => hasWorkflow(id).catch(() => false)));
  expect(started.every(Boolean)).toBe(true);
  expect(bridge.output().match(/"msg":"job workflow started"/g)).toHaveLength(taken.length);
  expect(bridge.output()).toContain('"msg":"bridge stopped"');
}, 60_000);

describe('SIGTERM while Redis cannot answer: the bridge exits within its grace, and what it took stays taken', () => {
  const GRACE_SECONDS = 2;
  let own: RedisServer;
  let ownClient: Redis;
  let dataDir: string;
  beforeEach(async () => {
    // Persisted, so that what the processing list held can be read after the server comes back.
    dataDir = mkdtempSync(path.join(DATA_DIR, 'redis-'));
    own = await RedisServer.start({ dataDir });
    ownClient = own.client();
  });
  afterEach(async () => {
    ownClient.disconnect();
    await own.resume();
    await own.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A bridge holding one id it cannot start (Temporal is unreachable), so the id sits in its processing list. */
  async function bridgeHoldingAnId() {
    const key = `jobs-${randomUUID()}`;
    const jobId = randomUUID();
    const bridge = bridgeProcess({
      key,
      taskQueue: uniqueTaskQueue('redis-gone'),
      temporalAddress: `127.0.0.1:${await freePort()}`,
      redisUrl: own.url,
      stopGraceSeconds: GRACE_SECONDS,
    });
    await bridge.started;
    await ownClient.lpush(key, jobId);
    await eventually(async () => (await ownClient.lrange(keysOf(key).processing, 0, -1))[0] === jobId, 'the id taken');
    return { key, jobId, bridge };
  }

  async function stopWithin(bridge: ServiceProcess, seconds: number) {
    const sent = Date.now();
    bridge.child.kill('SIGTERM');
    const code = await bridge.exited;
    return { code, seconds: (Date.now() - sent) / 1000, limit: seconds };
  }

  test.each([
    ['frozen (SIGSTOP: connections open, no answers)', () => own.pause()],
    ['gone (the server stopped: connections refused)', () => own.stop(true)],
  ])(
    '%s',
    async (_, makeUnreachable) => {
      const { key, jobId, bridge } = await bridgeHoldingAnId();
      await makeUnreachable();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const stopped = await stopWithin(bridge, GRACE_SECONDS + 3);
      expect(stopped.code).toBe(0);
      expect(stopped.seconds).toBeLessThan(stopped.limit);
      expect(bridge.output()).toContain('"msg":"bridge stopped"');

      await own.resume();
      if (own.isStopped) await own.restart();
      expect(await ownClient.lrange(keysOf(key).processing, 0, -1)).toEqual([jobId]);
      expect(await ownClient.llen(key)).toBe(0);
    },
    60_000,
  );
});
