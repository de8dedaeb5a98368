import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import type { ImageRuntime, ServiceProcess } from '../dev/processes';
import type { RedisServer } from '../dev/redis-server';
import { seedJob, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { startBenchWorker, stopBenchWorker } from './bench-worker';
import { devServerPids, postgresPids } from './cpu';
import { checkFloorJob, checkJob, type Tally } from './integrity';
import { timeJobs } from './jobs';
import type { ImageJobData, ImageJobOutcome } from './peers/bullmq-image-job';
import { connectionTo, JOB_OPTIONS } from './peers/bullmq-queue';
import { floorJob } from './peers/floor-workflow';

/*
 * The ways the bench runs the same jobs: ours (the product's worker), ours with tracing on, the same pipeline on
 * BullMQ with the product's activities (bench/peers/), and Temporal's floor (a workflow of the same shape whose
 * activities only wait). Each is a worker process of its own, started fresh, so its peak memory is its run's.
 */

export const WAYS = ['ours', 'traced', 'bullmq', 'floor'] as const;
export type WayName = (typeof WAYS)[number];

export interface JobsPlan {
  jobs: number;
  quantity: number;
  /** Gemini's latency L. */
  latencyMs: number;
  source: Buffer;
  /** Images of a job at once, in place of the worker's (ours only: the 4-image job's makespan). */
  imageConcurrency?: number;
}

export interface Way {
  worker: ServiceProcess;
  /** The processes whose CPU is this way's, by name, listed now; `stand_ins` (this bench's process) is apart. */
  cpuGroups(): Record<string, number[]>;
  /** Seeds the jobs, starts them all at once and returns the seconds to the last result; then checks each. */
  runJobs(plan: JobsPlan): Promise<number>;
  stop(): Promise<void>;
}

export interface WaySetting {
  stack: Stack;
  /** The BullMQ way's. */
  redis?: RedisServer;
  /** Where the traced way's worker sends its spans. */
  otlpEndpoint?: string;
  sourceMode: 'url' | 'inline';
  /** Gemini calls in flight at most, in each way's worker. */
  slots: number;
  /** Where this way's jobs are checked into. */
  tally: Tally;
  /** The worker's Node flags and variables, when not the image's (bench/fleet-memory.ts; a profile). */
  runtime?: ImageRuntime;
}

/** Images of a job at once: the product's default (IMAGE_CONCURRENCY_PER_JOB), which the other ways read too. */
const IMAGE_CONCURRENCY = 4;
const FLOOR_BUNDLE = path.join(__dirname, '..', 'dist', 'peers', 'floor-bundle.js');

export async function startWay(name: WayName, setting: WaySetting): Promise<Way> {
  switch (name) {
    case 'ours':
      return startOurs(setting);
    case 'traced':
      return startOurs(setting, { OTEL_EXPORTER_OTLP_ENDPOINT: required(setting.otlpEndpoint, 'an OTLP receiver') });
    case 'bullmq':
      return startBullmq(setting);
    case 'floor':
      return startFloor(setting);
  }
}

async function startOurs(setting: WaySetting, env: Record<string, string> = {}): Promise<Way> {
  const { stack, tally } = setting;
  const taskQueue = uniqueTaskQueue('bench');
  const { sourceMode, slots, runtime } = setting;
  const worker = await startBenchWorker(stack, { taskQueue, sourceMode, slots, runtime, env });
  return {
    worker,
    cpuGroups: () => ({
      worker: [worker.child.pid!],
      temporal: devServerPids(stack.temporal!.address),
      postgres: postgresPids(),
    }),
    async runJobs(plan) {
      stack.gemini.latencyMs = plan.latencyMs;
      return timeJobs(stack, stack.temporal!.client, taskQueue, plan, (job) => checkJob(stack, job, tally));
    },
    stop: () => stopBenchWorker(worker),
  };
}

async function startBullmq(setting: WaySetting): Promise<Way> {
  const { stack, tally } = setting;
  const redis = required(setting.redis, 'a Redis server');
  const queueName = `bench-${randomUUID()}`;
  const worker = await startBenchWorker(stack, {
    kind: 'bullmq-worker',
    taskQueue: 'unused',
    sourceMode: setting.sourceMode,
    slots: setting.slots,
    runtime: setting.runtime,
    env: { REDIS_URL: redis.url, BULLMQ_QUEUE: queueName },
  });
  const queue = new Queue<ImageJobData, ImageJobOutcome>(queueName, {
    connection: connectionTo(redis.url),
    defaultJobOptions: JOB_OPTIONS,
  });
  const events = new QueueEvents(queueName, { connection: connectionTo(redis.url) });
  // Each job waited for listens on both, until it finishes.
  queue.setMaxListeners(0);
  events.setMaxListeners(0);
  await events.waitUntilReady();
  return {
    worker,
    cpuGroups: () => ({ worker: [worker.child.pid!], redis: [redis.pid!], postgres: postgresPids() }),
    async runJobs(plan) {
      stack.gemini.latencyMs = plan.latencyMs;
      const { jobs, quantity, source } = plan;
      const seeded = await Promise.all(Array.from({ length: jobs }, () => seedJob(stack, { quantity, source })));
      const started = performance.now();
      const added = await queue.addBulk(
        seeded.map((job) => ({ name: 'image-job', data: { jobId: job.jobId }, opts: { jobId: job.jobId } })),
      );
      await Promise.all(added.map((job) => job.waitUntilFinished(events)));
      const seconds = (performance.now() - started) / 1000;
      for (const job of seeded) await checkJob(stack, job, tally);
      return seconds;
    },
    async stop() {
      await stopBenchWorker(worker);
      await events.close();
      await queue.close();
    },
  };
}

async function startFloor(setting: WaySetting): Promise<Way> {
  const { stack, tally } = setting;
  const taskQueue = uniqueTaskQueue('floor');
  const worker = await startBenchWorker(stack, {
    kind: 'floor-worker',
    taskQueue,
    sourceMode: setting.sourceMode,
    slots: setting.slots,
    runtime: setting.runtime,
    env: { WORKFLOW_BUNDLE_PATH: FLOOR_BUNDLE },
  });
  const client = stack.temporal!.client;
  return {
    worker,
    cpuGroups: () => ({ worker: [worker.child.pid!], temporal: devServerPids(stack.temporal!.address) }),
    async runJobs({ jobs, quantity, latencyMs }) {
      const started = performance.now();
      const results = await Promise.all(
        Array.from({ length: jobs }, () =>
          client.workflow.execute(floorJob, {
            taskQueue,
            workflowId: `floor-${randomUUID()}`,
            args: [{ quantity, imageConcurrency: IMAGE_CONCURRENCY, latencyMs }],
          }),
        ),
      );
      const seconds = (performance.now() - started) / 1000;
      for (const records of results) checkFloorJob(records, quantity, tally);
      return seconds;
    },
    stop: () => stopBenchWorker(worker),
  };
}

function required<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`this way needs ${what}`);
  return value;
}
