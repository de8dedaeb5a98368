import { randomUUID } from 'node:crypto';
import { createDatabasePool, createJobStore } from '../src/activities/database';
import { loadBridgeConfig } from '../src/process/config';
import { Secret } from '../src/process/secret';
import { createBridge } from '../src/bridge/bridge';
import { createJobStartPriority } from '../src/bridge/job-start-priority';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue } from '../src/bridge/queue';
import { createLogger } from '../src/process/logger';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import type { RedisServer } from '../dev/redis-server';
import type { Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';

const START_CONCURRENCY = 32; // the bridge's default, and the bare loop's

/**
 * `count` workflow starts through the bridge and by a bare loop, in a turn's order (alternating between runs, so
 * neither gains from the server warming up under the other), after a warm-up; each rate in starts a second.
 */
export async function measureStarts(
  stack: Stack,
  redis: RedisServer,
  count: number,
  bridgeFirst: boolean,
): Promise<{ bridge: number; bare: number }> {
  await bareStarts(stack, 100);
  const first = bridgeFirst ? await bridgeStarts(stack, redis, count) : await bareStarts(stack, count);
  const second = bridgeFirst ? await bareStarts(stack, count) : await bridgeStarts(stack, redis, count);
  return bridgeFirst ? { bridge: first, bare: second } : { bridge: second, bare: first };
}

/** Ids pushed to Redis, then the bridge's start rate until all are handed over (no worker runs them). */
async function bridgeStarts(stack: Stack, redis: RedisServer, count: number): Promise<number> {
  const key = `bench-${randomUUID()}`;
  const queue = createJobQueue({ redisUrl: new Secret(redis.url), key, pushSide: 'left', bridgeId: 'bench' });
  const ids = Array.from({ length: count }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 500) await queue.push(ids[i]!, ...ids.slice(i + 1, i + 500));
  // The bridge as deployed: each start first reads the job's user (here no row has one), on the bridge's own pool.
  const pool = createDatabasePool(loadBridgeConfig({ DATABASE_URL: stack.db.url }).database!);
  const log = createLogger('warn', 'bench-bridge');
  const bridge = createBridge({
    queue,
    startJob: createJobStarter(stack.temporal!.client, {
      taskQueue: uniqueTaskQueue('idle'),
      rerunFailed: false,
      priority: createJobStartPriority(createJobStore(pool), {}, log),
    }),
    log,
    jobIdFormat: 'uuid',
    concurrency: START_CONCURRENCY,
    stopGraceMs: 10_000,
  });
  const started = performance.now();
  const running = bridge.run();
  const probe = redis.client();
  while ((await probe.llen(key)) + (await probe.llen(queue.keys.processing)) > 0) await sleep(20);
  const seconds = (performance.now() - started) / 1000;
  bridge.stop();
  await running;
  queue.close();
  await pool.end();
  probe.disconnect();
  return ids.length / seconds;
}

/** The same number of starts by a bare loop with the same concurrency, for comparison. */
async function bareStarts(stack: Stack, count: number): Promise<number> {
  const ids = Array.from({ length: count }, () => randomUUID());
  const taskQueue = uniqueTaskQueue('idle');
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: START_CONCURRENCY }, async () => {
      while (next < ids.length) {
        const jobId = ids[next++]!;
        await stack.temporal!.client.workflow.start(imageJob, {
          taskQueue,
          ...jobStartOptions(jobId),
          args: [{ jobId }],
        });
      }
    }),
  );
  return ids.length / ((performance.now() - started) / 1000);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
