import { randomUUID } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type Redis from 'ioredis';
import { createBridge } from '../src/bridge/bridge';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue, DEAD_LETTER_LIMIT, queueKeys, type DeadLetter } from '../src/bridge/queue';
import { Secret } from '../src/process/secret';
import { workflowIdForJob } from '../src/contract';
import { eventually } from './support/eventually';
import { capturedLogger, type LogLine } from './support/log-capture';
import { RedisServer } from '../dev/redis-server';
import { startTemporal } from '../dev/temporal-dev-server';
import { uniqueTaskQueue } from '../dev/workers';

/**
 * The bridge against real Redis and the real Temporal dev server. No worker serves these task queues, so a
 * started workflow stays running: exactly what "already running" needs.
 */

let env: TestWorkflowEnvironment;
let redis: RedisServer;
let client: Redis;
beforeAll(async () => {
  [env, redis] = await Promise.all([startTemporal(), RedisServer.start()]);
  client = redis.client();
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
  await env?.teardown();
});

const bridges: RunningBridge[] = [];
afterEach(async () => {
  await Promise.all(bridges.splice(0).map((bridge) => bridge.stop()));
});

interface RunningBridge {
  key: string;
  taskQueue: string;
  lines: LogLine[];
  stop(): Promise<void>;
}

async function startBridge(
  options: { key?: string; bridgeId?: string; rerunFailed?: boolean; redisUrl?: string } = {},
): Promise<RunningBridge> {
  const key = options.key ?? `jobs-${randomUUID()}`;
  const taskQueue = uniqueTaskQueue('bridge');
  const { log, lines } = capturedLogger('bridge');
  const queue = createJobQueue({
    redisUrl: new Secret(options.redisUrl ?? redis.url),
    key,
    pushSide: 'left',
    bridgeId: options.bridgeId ?? 'b1',
  });
  const bridge = createBridge({
    queue,
    startJob: createJobStarter(env.client, { taskQueue, rerunFailed: options.rerunFailed ?? false }),
    log,
    jobIdFormat: 'uuid',
    concurrency: 8,
    stopGraceMs: 5_000,
  });
  const running = bridge.run();
  let stopped: Promise<void> | undefined;
  const handle: RunningBridge = {
    key,
    taskQueue,
    lines,
    stop() {
      stopped ??= (async () => {
        bridge.stop();
        await running;
        queue.close();
      })();
      return stopped;
    },
  };
  bridges.push(handle);
  return handle;
}

async function runsOf(jobId: string): Promise<string[]> {
  const runs: string[] = [];
  for await (const execution of env.client.workflow.list({ query: `WorkflowId = '${workflowIdForJob(jobId)}'` })) {
    runs.push(execution.runId);
  }
  return runs;
}

async function drained(bridge: RunningBridge): Promise<boolean> {
  const keys = queueKeys({ key: bridge.key, bridgeId: 'b1' });
  return (await client.llen(keys.pending)) === 0 && (await client.llen(keys.processing)) === 0;
}

const messages = (bridge: RunningBridge, jobId: string) =>
  bridge.lines.filter((l) => l.jobId === jobId).map((l) => l.msg);

test('a pushed id starts one workflow, and leaves Redis once Temporal has it', async () => {
  const bridge = await startBridge();
  const jobId = randomUUID();
  await client.lpush(bridge.key, jobId);
  await eventually(() => drained(bridge), 'the queue to drain');
  const description = await env.client.workflow.getHandle(workflowIdForJob(jobId)).describe();
  expect(description).toMatchObject({ type: 'imageJob', taskQueue: bridge.taskQueue, status: { name: 'RUNNING' } });
  // The backstop no run outlives (JOB_RUN_TIMEOUT).
  expect(Number(description.raw.executionConfig?.workflowRunTimeout?.seconds)).toBe(24 * 60 * 60);
  expect(messages(bridge, jobId)).toEqual(['job workflow started']);
  await bridge.stop();
});

test('the same id pushed five times quickly starts one workflow', async () => {
  const bridge = await startBridge();
  const jobId = randomUUID();
  await client.lpush(bridge.key, jobId, jobId, jobId, jobId, jobId);
  await eventually(() => drained(bridge), 'the queue to drain');
  expect(await eventually(async () => (await runsOf(jobId)).length === 1 && runsOf(jobId), 'visibility')).toHaveLength(
    1,
  );
  const outcomes = messages(bridge, jobId).sort();
  expect(outcomes).toEqual(
    ['job workflow started', ...Array(4).fill('job workflow already running; nothing started')].sort(),
  );
  await bridge.stop();
});

test('JSON elements, whitespace and upper-case uuids name the same jobs', async () => {
  const bridge = await startBridge();
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  await client.lpush(bridge.key, JSON.stringify({ job_id: a }), ` {"jobId": "${b}"}\n`, `  ${c.toUpperCase()}  `);
  await eventually(() => drained(bridge), 'the queue to drain');
  for (const jobId of [a, b, c]) expect(messages(bridge, jobId)).toEqual(['job workflow started']);
  await bridge.stop();
});

test('bad elements go to the dead-letter list with their reason and time, and the next good id still runs', async () => {
  const bridge = await startBridge();
  const good = randomUUID();
  const bad = ['', '   ', 'not an id', 'x'.repeat(10 * 1024), '{"foo": 1}', '{broken json', '{"job_id": ["a"]}'];
  await client.lpush(bridge.key, ...bad, good);
  await eventually(() => drained(bridge), 'the queue to drain');
  const letters = (await client.lrange(`${bridge.key}:dead`, 0, -1))
    .map((raw) => JSON.parse(raw) as DeadLetter)
    .reverse();
  expect(letters.map(({ element, reason }) => ({ element, reason }))).toEqual([
    { element: '', reason: 'element is empty' },
    { element: '   ', reason: 'element is empty' },
    { element: 'not an id', reason: 'job id is not a uuid' },
    { element: 'x'.repeat(10 * 1024), reason: 'element is 10240 characters, longer than 1024' },
    { element: '{"foo": 1}', reason: 'JSON element has no job_id or jobId' },
    { element: '{broken json', reason: 'element starts with "{" but is not valid JSON' },
    { element: '{"job_id": ["a"]}', reason: 'job_id/jobId is not a string' },
  ]);
  for (const letter of letters) {
    expect(letter.bridgeId).toBe('b1');
    expect(Date.now() - Date.parse(letter.at)).toBeLessThan(60_000);
  }
  expect(bridge.lines.filter((l) => l.msg === 'queue element dead-lettered')).toHaveLength(7);
  expect(messages(bridge, good)).toEqual(['job workflow started']);
  await bridge.stop();
});

test(`the dead-letter list keeps the newest ${DEAD_LETTER_LIMIT} letters`, async () => {
  const queue = createJobQueue({
    redisUrl: new Secret(redis.url),
    key: `jobs-${randomUUID()}`,
    pushSide: 'left',
    bridgeId: 'b1',
  });
  try {
    for (let i = 0; i < DEAD_LETTER_LIMIT + 5; i++) await queue.deadLetter(`bad-${i}`, 'job id is not a uuid');
    const letters = (await client.lrange(queue.keys.deadLetters, 0, -1)).map((raw) => JSON.parse(raw) as DeadLetter);
    expect(letters).toHaveLength(DEAD_LETTER_LIMIT);
    expect(letters[0]!.element).toBe(`bad-${DEAD_LETTER_LIMIT + 4}`);
    expect(letters.at(-1)!.element).toBe('bad-5');
  } finally {
    queue.close();
  }
});

test('ids left in the processing list by an earlier run are re-driven at start-up', async () => {
  const key = `jobs-${randomUUID()}`;
  const [a, b] = [randomUUID(), randomUUID()];
  await client.rpush(queueKeys({ key, bridgeId: 'b1' }).processing, a, b);
  const bridge = await startBridge({ key });
  await eventually(() => drained(bridge), 'the processing list to drain');
  for (const jobId of [a, b]) expect(messages(bridge, jobId)).toEqual(['job workflow started']);
  await bridge.stop();
});

test('a finished workflow is not run again, unless re-running failed ones is allowed', async () => {
  const jobId = randomUUID();
  const strict = await startBridge();
  await client.lpush(strict.key, jobId);
  await eventually(() => drained(strict), 'the queue to drain');
  const first = env.client.workflow.getHandle(workflowIdForJob(jobId));
  await first.terminate('test: end it as a failure would');
  await client.lpush(strict.key, jobId);
  await eventually(() => drained(strict), 'the queue to drain');
  expect(messages(strict, jobId)).toEqual(['job workflow started', 'job workflow already finished; not run again']);
  await strict.stop();

  const lenient = await startBridge({ rerunFailed: true });
  await client.lpush(lenient.key, jobId);
  await eventually(() => drained(lenient), 'the queue to drain');
  expect(messages(lenient, jobId)).toEqual(['job workflow started']);
  expect(await eventually(async () => (await runsOf(jobId)).length === 2 && runsOf(jobId), 'two runs')).toHaveLength(2);
  await lenient.stop();
});

test('Redis restarted mid-run: the bridge reconnects and goes on', async () => {
  const bridge = await startBridge();
  const [before, after] = [randomUUID(), randomUUID()];
  await client.lpush(bridge.key, before);
  await eventually(async () => messages(bridge, before).length === 1, 'the first start');
  await redis.restart();
  await eventually(async () => (await client.lpush(bridge.key, after)) > 0, 'pushing after the restart');
  await eventually(async () => messages(bridge, after).length === 1, 'the start after the restart', 30_000).catch(
    (e) => {
      console.log(JSON.stringify(bridge.lines, null, 1));
      throw e;
    },
  );
  expect(messages(bridge, after)).toEqual(['job workflow started']);
  expect(bridge.lines.some((l) => l.msg === 'redis reconnected; re-driving the processing list')).toBe(true);
  await bridge.stop();
});

test('stopped just as Redis goes away (a Ctrl-C reaches both), the bridge still stops', async () => {
  const own = await RedisServer.start();
  try {
    const bridge = await startBridge({ redisUrl: own.url });
    // Taking: a BLMOVE waits on a live connection.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = bridge.stop();
    await own.stop();
    const outcome = await Promise.race([
      stopped.then(() => 'stopped'),
      new Promise((resolve) => setTimeout(() => resolve('still waiting for Redis'), 10_000)),
    ]);
    expect(outcome).toBe('stopped');
  } finally {
    await own.stop();
  }
});

test('stop() lets the starts in flight finish and leaves the rest in Redis', async () => {
  const bridge = await startBridge();
  const ids = Array.from({ length: 300 }, () => randomUUID());
  await client.lpush(bridge.key, ...ids);
  await eventually(async () => bridge.lines.filter((l) => l.msg === 'job workflow started').length >= 5, 'some starts');
  await bridge.stop();
  const keys = queueKeys({ key: bridge.key, bridgeId: 'b1' });
  const left = await client.lrange(keys.pending, 0, -1);
  const started = bridge.lines.filter((l) => l.msg === 'job workflow started').map((l) => l.jobId as string);
  expect(await client.llen(keys.processing)).toBe(0);
  expect(left.length).toBeGreaterThan(0);
  expect([...started, ...left].sort()).toEqual([...ids].sort());
});

test('the queue keeps nothing of what it handed over: 5000 takes and acknowledgements leave the heap as it was', async () => {
  const queue = createJobQueue({
    redisUrl: new Secret(redis.url),
    key: `jobs-${randomUUID()}`,
    pushSide: 'left',
    bridgeId: 'b1',
  });
  const cycle = async (count: number) => {
    for (let i = 0; i < count; i++) {
      await queue.push(`id-${i}`);
      await queue.take(1);
      await queue.acknowledge(`id-${i}`);
    }
  };
  try {
    await cycle(500); // connections, compiled code
    const before = heapAfterCollection();
    await cycle(5_000);
    // Raced against one promise living as long as the queue, each take and acknowledgement left a reaction on it
    // that no collection freed: 650 bytes a job, 3 MB here.
    expect(heapAfterCollection() - before).toBeLessThan(500_000);
  } finally {
    queue.close();
  }
});

function heapAfterCollection(): number {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}
