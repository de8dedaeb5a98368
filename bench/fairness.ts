import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { createBridge } from '../src/bridge/bridge';
import { createJobStartPriority } from '../src/bridge/job-start-priority';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue } from '../src/bridge/queue';
import { createJobStore } from '../src/activities/database';
import { createLogger } from '../src/process/logger';
import { Secret } from '../src/process/secret';
import { runFlood, userSeconds, type FloodJob, type FloodUser } from '../dev/flood';
import { RedisServer } from '../dev/redis-server';
import { attachmentsUnder, jobState } from '../dev/seed';
import { DATA_DIR } from '../dev/setup-scripts';
import { noisePng } from '../dev/stand-ins/images';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { TemporalCluster } from '../dev/temporal-cluster';
import { startDevServerProcess, type DevServerProcess } from '../dev/temporal-dev-server';
import { uniqueTaskQueue } from '../dev/workers';
import { startBenchWorker, stopBenchWorker } from './bench-worker';
import { median, round } from './stats';

/**
 * `npm run bench -- --fairness [--engine dev|cluster] [--quick] [--runs N] [--json FILE]`: many users on one fleet.
 * User A pushes 30 jobs of 4 images; 1 s later user B pushes one job of 4, and 5 s after A, user C one more. One
 * worker with 16 Gemini slots, Gemini answering in L = 1 s, 64 px images, the source by URL; every id goes through
 * Redis and the bridge as the front end's would, and each job's time runs from its push to its row's `completed_at`.
 *
 * The same flood runs with fairness on (the project's Temporal) and off (first in, first out, as Temporal ships it),
 * alternating, N times (3 by default) in the same run: on the dev server, two dev servers; on the cluster, one cluster
 * whose `fifo` namespace has fairness switched off. A light user's ratio is its time under the flood over its time
 * alone. Where a light user lands in the heavy user's round of calls moves its ratio from flood to flood (see
 * docs/performance.md); more runs give a steadier median.
 */

const SLOTS = 16;
const LATENCY_MS = 1_000;
const IMAGE_PX = 64;
const TARGETS = { fair_light_user_ratio: 1.5, fair_light_user_ratio_max: 2.0, fair_heavy_user_ratio: 1.05 };
type Mode = 'fair' | 'fifo';
const MODES: readonly Mode[] = ['fair', 'fifo'];

/** One engine's two Temporal targets, by mode: where a worker and a bridge connect. */
interface Target {
  address: string;
  namespace: string;
  client: Client;
}

export async function runFairness(options: { engine: 'dev' | 'cluster'; quick: boolean; runs: number; json?: string }) {
  const runs = options.quick ? 1 : options.runs;
  const heavyJobs = options.quick ? 10 : 30;
  const stack = await startStack({ geminiImageSize: { width: IMAGE_PX, height: IMAGE_PX } });
  const redis = await RedisServer.start();
  const engine = await startEngine(options.engine);
  const samples: Record<string, number[]> = {};
  const record = (key: string, value: number) => (samples[key] ??= []).push(round(value));
  const integrity = { jobs: 0, lost: 0, duplicates: 0 };
  console.log(`bench --fairness on the ${options.engine}: ${runs} run(s), A ${heavyJobs} x 4, B and C 1 x 4`);
  try {
    for (let run = 1; run <= runs; run++) {
      for (const mode of run % 2 === 1 ? MODES : [...MODES].reverse()) {
        const users = usersOf(run, mode, heavyJobs);
        const fleet = await startFleet(stack, redis, engine.targets[mode]);
        try {
          stack.gemini.latencyMs = LATENCY_MS;
          const flood = (floodUsers: FloodUser[]) => runFlood({ ...fleet, users: floodUsers, pool: stack.db.pool });
          // A fresh worker's first job also pays for its start (the workflow sandbox, the first connections): about
          // 0.1 s more than the next, which would flatter whichever user is timed alone first.
          const warmUp = await flood([users.W]);
          const aloneJobs = [
            ...(await flood([{ ...users.B, afterMs: 0 }])),
            ...(await flood([{ ...users.C, afterMs: 0 }])),
          ];
          const alone = { b: userSeconds(aloneJobs, users.B.userId), c: userSeconds(aloneJobs, users.C.userId) };
          const callsBefore = stack.gemini.requests.length;
          const jobs = await flood([users.A, users.B, users.C]);
          const floodCalls = stack.gemini.requests.slice(callsBefore).map((request) => request.at);
          const a = userSeconds(jobs, users.A.userId);
          const flooded = { b: userSeconds(jobs, users.B.userId), c: userSeconds(jobs, users.C.userId) };
          for (const [name, user] of [
            ['b', users.B],
            ['c', users.C],
          ] as const) {
            const aloneCalls = callTimeline(stack, aloneJobs, user.userId);
            const floodedCalls = callTimeline(stack, jobs, user.userId);
            record(`${mode}_light_user_${name}_extra_to_calls_s`, floodedCalls.toCalls - aloneCalls.toCalls);
            record(`${mode}_light_user_${name}_extra_after_calls_s`, floodedCalls.afterCalls - aloneCalls.afterCalls);
            const bound = boundSeconds(aloneCalls, floodedCalls, floodCalls);
            record(`${mode}_light_user_bound_ratio_${name}`, bound / alone[name]);
            record(`${mode}_light_user_over_bound_${name}`, flooded[name] / bound);
          }
          record(`${mode}_heavy_user_s`, a);
          record(`${mode}_light_user_b_s`, flooded.b);
          record(`${mode}_light_user_c_s`, flooded.c);
          record(`alone_s_${mode}`, (alone.b + alone.c) / 2);
          record(`${mode}_light_user_ratio_b`, flooded.b / alone.b);
          record(`${mode}_light_user_ratio_c`, flooded.c / alone.c);
          await check(stack, [...warmUp, ...aloneJobs, ...jobs], integrity);
          console.log(
            `  run ${run}, fairness ${mode === 'fair' ? 'on ' : 'off'}: A ${round(a)} s, B ${round(flooded.b)} s ` +
              `(alone ${round(alone.b)}), C ${round(flooded.c)} s (alone ${round(alone.c)})`,
          );
        } finally {
          await fleet.stop();
        }
      }
      const last = (key: string) => samples[key]!.at(-1)!;
      record('fair_heavy_user_ratio', last('fair_heavy_user_s') / last('fifo_heavy_user_s'));
    }
  } finally {
    await engine.stop();
    await redis.stop();
    await stack.stop();
  }
  report(options, samples, integrity);
}

/** Per run and mode, users of their own: each user's images go to a folder of its own, checked after the run. */
function usersOf(run: number, mode: Mode, heavyJobs: number): Record<'A' | 'B' | 'C' | 'W', FloodUser> {
  const id = (name: string) => `${name}-${mode}-${run}-${randomUUID().slice(0, 8)}`;
  return {
    A: { userId: id('a'), jobs: heavyJobs, quantity: 4, afterMs: 0 },
    B: { userId: id('b'), jobs: 1, quantity: 4, afterMs: 1_000 },
    C: { userId: id('c'), jobs: 1, quantity: 4, afterMs: 5_000 },
    /** Warms the worker up before anyone is timed. */
    W: { userId: id('w'), jobs: 1, quantity: 4, afterMs: 0 },
  };
}

async function startEngine(name: 'dev' | 'cluster') {
  if (name === 'dev') {
    const servers: DevServerProcess[] = await Promise.all(
      MODES.map(async (mode) =>
        startDevServerProcess({
          cliPath: process.env.TEMPORAL_CLI_PATH!,
          port: 'free',
          logFile: path.join(DATA_DIR, `temporal-bench-${mode}.log`),
          dynamicConfig: mode === 'fifo' ? { 'matching.enableFairness': false } : {},
        }),
      ),
    );
    const connections = await Promise.all(servers.map((server) => Connection.connect({ address: server.address })));
    const target = (i: number): Target => ({
      address: servers[i]!.address,
      namespace: 'default',
      client: new Client({ connection: connections[i]!, namespace: 'default' }),
    });
    return {
      targets: { fair: target(0), fifo: target(1) },
      stop: async () => {
        await Promise.all(connections.map((connection) => connection.close()));
        await Promise.all(servers.map((server) => server.stop()));
      },
    };
  }
  const cluster = await TemporalCluster.start({
    otherNamespaces: ['fifo'],
    extraDynamicConfig: [
      'matching.enableFairness:',
      '  - value: false',
      '    constraints: { namespace: fifo }',
      '  - value: true',
      '',
    ].join('\n'),
  });
  const connection = await Connection.connect({ address: cluster.address });
  const target = (namespace: string): Target => ({
    address: cluster.address,
    namespace,
    client: new Client({ connection, namespace }),
  });
  return {
    targets: { fair: target(cluster.namespace), fifo: target('fifo') },
    stop: async () => {
      await connection.close();
      await cluster.drop();
    },
  };
}

/** A worker process (as deployed) and a bridge on a Redis list of their own; what the flood seeds and pushes with. */
async function startFleet(stack: Stack, redis: RedisServer, target: Target) {
  const source = noisePng(IMAGE_PX, IMAGE_PX);
  const taskQueue = uniqueTaskQueue('fairness');
  const worker = await startBenchWorker(stack, {
    taskQueue,
    sourceMode: 'url',
    slots: SLOTS,
    temporalAddress: target.address,
    namespace: target.namespace,
    // The product's default, not the throughput benches' 20: with its polls it sets how many workflow tasks the worker
    // takes at once, and so how much of a burst waits in Temporal's queue, where it is served by user.
    env: { DATABASE_POOL_MAX: '10' },
  });
  const queue = createJobQueue({
    redisUrl: new Secret(redis.url),
    key: `fairness-${randomUUID()}`,
    pushSide: 'left',
    bridgeId: 'bench',
  });
  const log = createLogger('warn', 'bench-bridge');
  const bridge = createBridge({
    queue,
    startJob: createJobStarter(target.client, {
      taskQueue,
      rerunFailed: false,
      priority: createJobStartPriority(createJobStore(stack.db.pool), {}, log),
    }),
    log,
    jobIdFormat: 'uuid',
    concurrency: 32,
    stopGraceMs: 10_000,
  });
  const bridging = bridge.run();
  return {
    seed: async (userId: string, quantity: number) => (await seedJob(stack, { userId, quantity, source })).jobId,
    // The front end pushes one id at a time, as its jobs are created.
    push: async (jobIds: string[]) => {
      for (const jobId of jobIds) await queue.push(jobId);
    },
    stop: async () => {
      bridge.stop();
      await bridging;
      queue.close();
      await stopBenchWorker(worker);
    },
  };
}

/** A light user's calls in one flood (or alone): when it pushed, when its calls arrived, and what its rows took after. */
interface CallTimeline {
  pushedAt: number;
  calls: number[];
  /** Seconds from the push until its first call arrived, and until its last. */
  toFirstCall: number;
  toCalls: number;
  /** Seconds from its last call's answer until its last row ended (recording and finishing). */
  afterCalls: number;
}

/**
 * Where a user's time goes: from its push until its last Gemini call arrives (waiting to start, then for slots), and
 * from that call's answer until its last row ends: the first is what fairness orders.
 */
function callTimeline(stack: Stack, jobs: FloodJob[], userId: string): CallTimeline {
  const own = jobs.filter((job) => job.userId === userId);
  const calls = stack.gemini.requests
    .filter((request) => own.some((job) => request.imageKey?.startsWith(`${job.jobId}/`)))
    .map((request) => request.at)
    .sort((a, b) => a - b);
  const pushedAt = Math.min(...own.map((job) => job.pushedAt));
  const lastCall = calls.at(-1)!;
  const finished = Math.max(...own.map((job) => job.finishedAt));
  return {
    pushedAt,
    calls,
    toFirstCall: (calls[0]! - pushedAt) / 1000,
    toCalls: (lastCall - pushedAt) / 1000,
    afterCalls: (finished - lastCall - LATENCY_MS) / 1000,
  };
}

/**
 * The least time a light user could have taken under this flood with the slots freeing when they did: its calls ready
 * as soon as alone, each taking the next slot to free up (a call arrives at Gemini the moment a slot takes it, so the
 * flood's arrivals after that moment are the slots that freed), then its steps after the calls as alone. No scheduler
 * that lets a running call finish does better; a ratio over this bound is what the order of dispatch cost.
 */
function boundSeconds(alone: CallTimeline, flooded: CallTimeline, floodCalls: readonly number[]): number {
  const ready = Math.min(flooded.pushedAt + alone.toFirstCall * 1000, flooded.calls[0]!);
  const slots = floodCalls.filter((at) => at >= ready).sort((a, b) => a - b);
  const lastCall = slots[flooded.calls.length - 1]!;
  return (lastCall - flooded.pushedAt + LATENCY_MS) / 1000 + alone.afterCalls;
}

/** Every job completed with all its images, and no user holds more images than its jobs asked for. */
async function check(stack: Stack, jobs: FloodJob[], integrity: { jobs: number; lost: number; duplicates: number }) {
  const asked = new Map<string, number>();
  for (const job of jobs) {
    integrity.jobs += 1;
    const state = await jobState(stack.db.pool, job.jobId);
    if (state.job_status !== 'completed' || state.completed_images !== state.total_images) integrity.lost += 1;
    asked.set(job.userId, (asked.get(job.userId) ?? 0) + state.total_images);
  }
  for (const [userId, total] of asked) {
    const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${userId}`);
    integrity.duplicates += Math.max(0, rows.length - total);
  }
}

function report(
  options: { engine: string; quick: boolean; json?: string },
  samples: Record<string, number[]>,
  integrity: { jobs: number; lost: number; duplicates: number },
): void {
  const figures: Record<string, number | { median: number; min: number; max: number }> = {};
  for (const [key, values] of Object.entries(samples)) {
    figures[key] = { median: median(values), min: Math.min(...values), max: Math.max(...values) };
  }
  const worst = (key: string) => Math.max(...samples[key]!);
  const headline: Record<string, number> = {
    fair_light_user_ratio: Math.max(median(samples.fair_light_user_ratio_b!), median(samples.fair_light_user_ratio_c!)),
    fair_light_user_ratio_max: Math.max(worst('fair_light_user_ratio_b'), worst('fair_light_user_ratio_c')),
    fifo_light_user_ratio: Math.max(median(samples.fifo_light_user_ratio_b!), median(samples.fifo_light_user_ratio_c!)),
    fair_heavy_user_ratio: median(samples.fair_heavy_user_ratio!),
    fair_light_user_bound_ratio: Math.max(
      median(samples.fair_light_user_bound_ratio_b!),
      median(samples.fair_light_user_bound_ratio_c!),
    ),
    fair_light_user_over_bound: Math.max(
      median(samples.fair_light_user_over_bound_b!),
      median(samples.fair_light_user_over_bound_c!),
    ),
  };
  console.log('\n| figure | median | min | max |\n| --- | ---: | ---: | ---: |');
  for (const [key, value] of Object.entries(figures)) {
    if (typeof value !== 'number') console.log(`| ${key} | ${value.median} | ${value.min} | ${value.max} |`);
  }
  console.log('\n| target | value | |\n| --- | ---: | --- |');
  for (const [key, target] of Object.entries(TARGETS)) {
    const value = headline[key]!;
    const which = key.includes('light') ? ' (B and C, the worse)' : '';
    console.log(`| ${key}${which} | ${value} | ≤ ${target} ${value <= target ? 'met' : 'MISSED'} |`);
  }
  for (const key of ['fifo_light_user_ratio', 'fair_light_user_bound_ratio', 'fair_light_user_over_bound']) {
    console.log(`| ${key} (B and C, the worse) | ${headline[key]} | |`);
  }
  console.log(`\n${integrity.jobs} jobs checked: ${integrity.lost} lost, ${integrity.duplicates} duplicates`);
  if (options.json) {
    const json = { engine: options.engine, quick: options.quick, ...headline, ...figures, ...integrity };
    writeFileSync(options.json, JSON.stringify(json, null, 2) + '\n');
    console.log(`wrote ${options.json}`);
  }
}
