import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Secret } from '../src/secret';
import { createBridge } from '../src/bridge/bridge';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue } from '../src/bridge/queue';
import { createLogger } from '../src/logger';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { noisePng } from '../dev/stand-ins/images';
import { RedisServer } from '../dev/redis-server';
import { attachmentsUnder, jobState, productionState } from '../dev/seed';
import { spawnService, type ServiceProcess } from '../dev/processes';
import { BUCKET, seedJob, startStack, workerEnvironment, type SeededJob, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { runScale } from './scale';

/**
 * `npm run bench [-- --quick] [--json FILE] [--image-px N]`: the real stack on this machine (Temporal dev server, PostgreSQL,
 * Redis, the worker as its own process, the Storage and Gemini doubles with a 1-2 MB image and latency L), each
 * figure a median over repeated runs with min and max.
 */

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    // Side of the square noise image used as source and answer: 720 gives ≈1.5 MB; a small one shows the payload's share.
    'image-px': { type: 'string', default: '720' },
    // The product on the real Temporal cluster, scaled out to 1, 2 and 4 workers (bench/scale.ts).
    scale: { type: 'boolean', default: false },
  },
});
const PLAN = flags.quick ? { repeats: 1, startIds: 200, fleetJobs: 12 } : { repeats: 3, startIds: 1000, fleetJobs: 50 };
// Jobs of 8 images at L = 0 per run, each one sample: the first on a fresh worker also pays for its JIT warm-up.
const OVERHEAD_JOBS = 3;
const SLOTS = 16; // the global cap C: Gemini calls in flight, here one worker's slots
const START_CONCURRENCY = 32; // the bridge's default, and the bare loop's
const IMAGE = { width: Number(flags['image-px']), height: Number(flags['image-px']) };

type Sample = number[];
const samples: Record<string, Sample> = {};
const record = (key: string, value: number) => (samples[key] ??= []).push(value);
const integrity = { jobs: 0, lost: 0, duplicates: 0 };

async function main(): Promise<void> {
  if (flags.scale) return runScale({ quick: flags.quick, json: flags.json });
  const stack = await startStack({ temporal: true, geminiImageSize: IMAGE });
  const redis = await RedisServer.start();
  const taskQueue = uniqueTaskQueue('bench');
  const source = noisePng(IMAGE.width, IMAGE.height);
  console.log(
    `bench: ${flags.quick ? 'quick' : 'full'} run, source image ${(source.length / 1e6).toFixed(2)} MB, C = ${SLOTS}`,
  );
  try {
    for (let run = 1; run <= PLAN.repeats; run++) {
      const worker = await startWorker(stack, taskQueue);
      try {
        console.log(`  one job of 4 images at L = 2 s, per-job cap 4 and 1; ${OVERHEAD_JOBS} of 8 at L = 0`);
        const n4 = await makespan(stack, taskQueue, source, 4, 2_000, 4);
        const sequential = await makespan(stack, taskQueue, source, 4, 2_000, 1);
        record('makespan_n4_s', n4);
        record('makespan_n4_sequential_s', sequential);
        record('speedup_n4', sequential / n4);
        for (let job = 0; job < OVERHEAD_JOBS; job++) {
          record('overhead_ms_per_image', ((await makespan(stack, taskQueue, source, 8, 0)) * 1000) / 8);
        }
      } finally {
        await stopWorker(worker);
      }
      console.log(`  ${PLAN.startIds} workflow starts through the bridge and by a bare loop`);
      // Alternating which goes first, so neither gains from the server warming up under the other.
      await bareStarts(stack, 100);
      const bridgeFirst = run % 2 === 1;
      const firstRate = bridgeFirst ? await bridgeStarts(stack, redis) : await bareStarts(stack);
      const secondRate = bridgeFirst ? await bareStarts(stack) : await bridgeStarts(stack, redis);
      const [bridgeRate, bareRate] = bridgeFirst ? [firstRate, secondRate] : [secondRate, firstRate];
      record('bridge_starts_per_s', bridgeRate);
      record('bare_starts_per_s', bareRate);
      record('bridge_vs_bare', bridgeRate / bareRate);
      // A fresh worker, so its peak resident memory (VmHWM) is the fleet run's.
      const fleetWorker = await startWorker(stack, taskQueue);
      try {
        console.log(`  ${PLAN.fleetJobs} jobs x 4 images at L = 1 s under C = ${SLOTS}`);
        const fleet = await fleetRun(stack, taskQueue, source, PLAN.fleetJobs, 1_000);
        const bound = (PLAN.fleetJobs * 4 * 1) / SLOTS;
        record('fleet_s', fleet);
        record('fleet_bound_s', bound);
        record('fleet_vs_bound', fleet / bound);
        record('worker_peak_rss_mb', peakRssMb(fleetWorker));
      } finally {
        await stopWorker(fleetWorker);
      }
      console.log(`  run ${run}/${PLAN.repeats} done`);
    }
  } finally {
    await redis.stop();
    await stack.stop();
  }
  report();
}

async function startWorker(stack: Stack, taskQueue: string): Promise<ServiceProcess> {
  const worker = spawnService('built-worker', {
    WORKFLOW_BUNDLE_PATH: path.join(__dirname, '..', 'dist', 'workflow-bundle.js'),
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...workerEnvironment(stack),
    DATABASE_POOL_MAX: '20',
    GEMINI_MAX_CONCURRENT_CALLS: String(SLOTS),
    GEMINI_REQUESTS_PER_MINUTE: '100000',
    LOG_LEVEL: 'info', // its 'worker started' line says when it serves
  });
  await Promise.race([worker.started, worker.exited.then(() => Promise.reject(new Error(worker.output())))]);
  return worker;
}

async function stopWorker(worker: ServiceProcess): Promise<void> {
  worker.child.kill('SIGTERM');
  await worker.exited;
}

function peakRssMb(worker: ServiceProcess): number {
  const status = readFileSync(`/proc/${worker.child.pid}/status`, 'utf8');
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

/** One job, from its start to its result, in seconds. */
async function makespan(
  stack: Stack,
  taskQueue: string,
  source: Buffer,
  quantity: number,
  latencyMs: number,
  cap?: number,
) {
  stack.gemini.latencyMs = latencyMs;
  const job = await seedJob(stack, { quantity, source });
  const started = performance.now();
  await stack.temporal!.client.workflow.execute(imageJob, {
    taskQueue,
    ...jobStartOptions(job.jobId),
    args: [{ jobId: job.jobId, imageConcurrency: cap }],
  });
  const seconds = (performance.now() - started) / 1000;
  await checkJob(stack, job);
  return seconds;
}

/** Many jobs at once under the global cap, in seconds. */
async function fleetRun(stack: Stack, taskQueue: string, source: Buffer, jobs: number, latencyMs: number) {
  stack.gemini.latencyMs = latencyMs;
  const seeded = await Promise.all(Array.from({ length: jobs }, () => seedJob(stack, { quantity: 4, source })));
  const started = performance.now();
  await Promise.all(
    seeded.map((job) =>
      stack.temporal!.client.workflow.execute(imageJob, {
        taskQueue,
        ...jobStartOptions(job.jobId),
        args: [{ jobId: job.jobId }],
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const job of seeded) await checkJob(stack, job);
  return seconds;
}

/** Ids pushed to Redis, then the bridge's start rate until all are handed over (no worker runs them). */
async function bridgeStarts(stack: Stack, redis: RedisServer): Promise<number> {
  const key = `bench-${randomUUID()}`;
  const queue = createJobQueue({ redisUrl: new Secret(redis.url), key, pushSide: 'left', bridgeId: 'bench' });
  const ids = Array.from({ length: PLAN.startIds }, () => randomUUID());
  for (let i = 0; i < ids.length; i += 500) await queue.push(ids[i]!, ...ids.slice(i + 1, i + 500));
  const bridge = createBridge({
    queue,
    startJob: createJobStarter(stack.temporal!.client, { taskQueue: uniqueTaskQueue('idle'), rerunFailed: false }),
    log: createLogger('warn', 'bench-bridge'),
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
  probe.disconnect();
  return ids.length / seconds;
}

/** The same number of starts by a bare loop with the same concurrency, for comparison. */
async function bareStarts(stack: Stack, count = PLAN.startIds): Promise<number> {
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

/** Lost: a job not completed with all its images. Duplicates: rows, objects or ids beyond one per image. */
async function checkJob(stack: Stack, job: SeededJob): Promise<void> {
  integrity.jobs += 1;
  const state = await jobState(stack.db.pool, job.jobId);
  const total = state.total_images;
  if (state.job_status !== 'completed' || state.completed_images !== total) integrity.lost += 1;
  const folder = `generated-images/user-${job.userId}`;
  const rows = await attachmentsUnder(stack.db.pool, folder);
  const objects = stack.storage.list(BUCKET, folder);
  const production = await productionState(stack.db.pool, job.productionId);
  integrity.duplicates += Math.max(0, rows.length - total) + Math.max(0, objects.length - total);
  integrity.duplicates += state.generated_attach_ids.length - new Set(state.generated_attach_ids).size;
  integrity.duplicates += production.attach_ids.length - new Set(production.attach_ids).size;
  integrity.duplicates += Math.max(0, production.generated_image_count - total);
}

const TARGETS: Record<string, string> = {
  speedup_n4: '≥ 3',
  overhead_ms_per_image: '≤ 40',
  bridge_vs_bare: '≥ 0.8',
  fleet_vs_bound: '≤ 1.2',
  worker_peak_rss_mb: '≤ 300',
};

function report(): void {
  const stats = Object.fromEntries(
    Object.entries(samples).map(([key, values]) => {
      const sorted = [...values].sort((a, b) => a - b);
      return [
        key,
        {
          median: sorted[Math.floor((sorted.length - 1) / 2)]!,
          min: sorted[0]!,
          max: sorted.at(-1)!,
          runs: values.length,
        },
      ];
    }),
  );
  const format = (n: number) => (Math.abs(n) >= 100 ? n.toFixed(0) : n.toFixed(2));
  console.log('\n| figure | median | min | max | target |\n| --- | ---: | ---: | ---: | --- |');
  for (const [key, s] of Object.entries(stats)) {
    const figure = s.runs === PLAN.repeats ? `\`${key}\`` : `\`${key}\` (${s.runs} samples)`;
    console.log(`| ${figure} | ${format(s.median)} | ${format(s.min)} | ${format(s.max)} | ${TARGETS[key] ?? ''} |`);
  }
  console.log(`| \`lost\` | ${integrity.lost} | | | = 0 |\n| \`duplicates\` | ${integrity.duplicates} | | | = 0 |`);
  console.log(`\n${integrity.jobs} jobs checked; ${PLAN.repeats} run(s), one sample each unless the table says.`);
  if (flags.json) {
    const medians = Object.fromEntries(Object.entries(stats).map(([key, s]) => [key, s.median]));
    const json = {
      ...medians,
      lost: integrity.lost,
      duplicates: integrity.duplicates,
      jobs_checked: integrity.jobs,
      quick: flags.quick,
      stats,
    };
    writeFileSync(flags.json, JSON.stringify(json, null, 2) + '\n');
    console.log(`wrote ${flags.json}`);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
