import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Secret } from '../src/process/secret';
import { createBridge } from '../src/bridge/bridge';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue } from '../src/bridge/queue';
import { createLogger } from '../src/process/logger';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { noisePng } from '../dev/stand-ins/images';
import { RedisServer } from '../dev/redis-server';
import { attachmentsUnder, jobState, productionState } from '../dev/seed';
import { BUCKET, seedJob, startStack, type SeededJob, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { runAnswerMemory } from './answer-memory';
import { startBenchWorker, stopBenchWorker } from './bench-worker';
import { runFleetMemory } from './fleet-memory';
import { runSourceMemory } from './source-memory';
import { FLEET_IMAGES_PER_JOB, FLEET_LATENCY_MS, runFleet } from './jobs';
import { cpuSeconds, devServerPids, postgresPids } from './cpu';
import { runFairness } from './fairness';
import { runScale } from './scale';

/**
 * `npm run bench [-- --quick] [--json FILE] [--image-px N]` (and `--scale`, `--answer-memory`, `--fleet-memory`,
 * `--source-memory`, in their own files): the real stack on this machine (Temporal dev server, PostgreSQL,
 * Redis, the worker as its own process, the Storage and Gemini doubles with a 1-2 MB image and latency L), each
 * figure a median over repeated runs with min and max, for each source mode (GEMINI_SOURCE_MODE) side by side: the
 * url mode's figures under their own names, the inline mode's with an `inline_` prefix.
 */

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    // Side of the square noise image used as source and answer: 720 gives ≈1.5 MB; a small one shows the payload's share.
    'image-px': { type: 'string', default: '720' },
    // The product on the real Temporal cluster, scaled out to 1, 2 and 4 workers (bench/scale.ts).
    scale: { type: 'boolean', default: false },
    // Many users on one fleet, fairness on and off (bench/fairness.ts), on the dev server or `--engine cluster`.
    fairness: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'dev' },
    // The answer side's memory alone (bench/answer-memory.ts); --gc-each collects garbage after every answer.
    'answer-memory': { type: 'boolean', default: false },
    'gc-each': { type: 'boolean', default: false },
    // The fleet step alone, once per variant of the worker's memory settings per run (bench/fleet-memory.ts).
    'fleet-memory': { type: 'boolean', default: false },
    // One 20 MB source with 8 Gemini slots busy, in each source mode (bench/source-memory.ts).
    'source-memory': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '12' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const PLAN = flags.quick ? { repeats: 1, startIds: 200, fleetJobs: 12 } : { repeats: 3, startIds: 1000, fleetJobs: 50 };
// Jobs of 8 images at L = 0 per run, each one sample: the first on a fresh worker also pays for its JIT warm-up.
const OVERHEAD_JOBS = 3;
const SLOTS = 16; // the global cap C: Gemini calls in flight, here one worker's slots
const START_CONCURRENCY = 32; // the bridge's default, and the bare loop's
const IMAGE = { width: Number(flags['image-px']), height: Number(flags['image-px']) };

type SourceMode = 'url' | 'inline';
const MODES: readonly SourceMode[] = ['url', 'inline'];
/** The url mode, the default, keeps the figures' plain names. */
const prefixOf = (mode: SourceMode) => (mode === 'url' ? '' : `${mode}_`);

type Sample = number[];
const samples: Record<string, Sample> = {};
/** Per mode: jobs checked, lost and duplicated; Gemini calls by how the source came (the stand-in's records). */
interface Tally {
  jobs: number;
  lost: number;
  duplicates: number;
  callsByUrl: number;
  callsInline: number;
}
const integrity = Object.fromEntries(
  MODES.map((mode) => [mode, { jobs: 0, lost: 0, duplicates: 0, callsByUrl: 0, callsInline: 0 }]),
) as Record<SourceMode, Tally>;

async function main(): Promise<void> {
  if (flags.scale) return runScale({ quick: flags.quick, json: flags.json });
  if (flags.fairness) {
    if (flags.engine !== 'dev' && flags.engine !== 'cluster') throw new Error('--engine must be dev or cluster');
    return runFairness({ engine: flags.engine, quick: flags.quick, json: flags.json });
  }
  if (flags['answer-memory']) return runAnswerMemory({ gcEach: flags['gc-each'] });
  if (flags['source-memory']) return runSourceMemory({ runs: Number(flags.runs) });
  if (flags['fleet-memory'])
    return runFleetMemory({
      runs: Number(flags.runs),
      jobs: Number(flags.jobs),
      variants: flags.variant,
    });
  const stack = await startStack({ temporal: true, geminiImageSize: IMAGE });
  const redis = await RedisServer.start();
  const taskQueue = uniqueTaskQueue('bench');
  const source = noisePng(IMAGE.width, IMAGE.height);
  console.log(
    `bench: ${flags.quick ? 'quick' : 'full'} run, source image ${(source.length / 1e6).toFixed(2)} MB, C = ${SLOTS}`,
  );
  try {
    for (let run = 1; run <= PLAN.repeats; run++) {
      // Alternating which mode goes first, so neither gains from the machine's state under the other.
      for (const mode of run % 2 === 1 ? MODES : [...MODES].reverse()) {
        console.log(`  run ${run}/${PLAN.repeats}, source by ${mode}`);
        await measure({ stack, redis, taskQueue, source, mode, run });
      }
    }
  } finally {
    await redis.stop();
    await stack.stop();
  }
  report();
}

/** What one mode's sample of a run measures with, and where it records. */
interface Trial {
  stack: Stack;
  redis: RedisServer;
  taskQueue: string;
  source: Buffer;
  mode: SourceMode;
  run: number;
  record: (key: string, value: number) => void;
  check: (job: SeededJob) => Promise<void>;
}

/** One sample of every figure with the worker in one source mode. */
async function measure(trial: Omit<Trial, 'record' | 'check'>): Promise<void> {
  const { stack, mode } = trial;
  const record = (key: string, value: number) => (samples[prefixOf(mode) + key] ??= []).push(value);
  const check = (job: SeededJob) => checkJob(stack, job, integrity[mode]);
  const callsBefore = stack.gemini.requests.length;
  try {
    await measureMode({ ...trial, record, check });
  } finally {
    const calls = stack.gemini.requests.slice(callsBefore);
    integrity[mode].callsByUrl += calls.filter((call) => call.sourceVia === 'url').length;
    integrity[mode].callsInline += calls.filter((call) => call.sourceVia === 'inline').length;
  }
}

async function measureMode(trial: Trial): Promise<void> {
  const { stack, redis, taskQueue, source, mode, run, record, check } = trial;
  const worker = await startBenchWorker(stack, { taskQueue, sourceMode: mode, slots: SLOTS });
  try {
    console.log(`    one job of 4 images at L = 2 s, per-job cap 4 and 1; ${OVERHEAD_JOBS} of 8 at L = 0`);
    const n4 = await makespan(stack, taskQueue, source, check, 4, 2_000, 4);
    const sequential = await makespan(stack, taskQueue, source, check, 4, 2_000, 1);
    record('makespan_n4_s', n4);
    record('makespan_n4_sequential_s', sequential);
    record('speedup_n4', sequential / n4);
    // Whose CPU those images took: on two cores the overhead is about the sum of these halved.
    const cpuGroups = {
      worker: [worker.child.pid!],
      temporal: devServerPids(stack.temporal!.address),
      stand_ins: [process.pid], // the Gemini and Storage stand-ins, and this bench's own few calls
      postgres: postgresPids(),
    };
    const cpuBefore = cpuSeconds(cpuGroups);
    for (let job = 0; job < OVERHEAD_JOBS; job++) {
      record('overhead_ms_per_image', ((await makespan(stack, taskQueue, source, check, 8, 0)) * 1000) / 8);
    }
    const cpuAfter = cpuSeconds(cpuGroups);
    let cpuTotal = 0;
    for (const [group, seconds] of Object.entries(cpuAfter)) {
      const msPerImage = ((seconds - cpuBefore[group]!) * 1000) / (OVERHEAD_JOBS * 8);
      record(`cpu_ms_per_image_${group}`, msPerImage);
      cpuTotal += msPerImage;
    }
    record('cpu_ms_per_image_total', cpuTotal);
  } finally {
    await stopBenchWorker(worker);
  }
  console.log(`    ${PLAN.startIds} workflow starts through the bridge and by a bare loop`);
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
  const fleetWorker = await startBenchWorker(stack, { taskQueue, sourceMode: mode, slots: SLOTS });
  try {
    console.log(`    ${PLAN.fleetJobs} jobs x ${FLEET_IMAGES_PER_JOB} images at L = 1 s under C = ${SLOTS}`);
    const fleet = await runFleet(stack, taskQueue, fleetWorker, { jobs: PLAN.fleetJobs, source }, check);
    const bound = (PLAN.fleetJobs * FLEET_IMAGES_PER_JOB * FLEET_LATENCY_MS) / 1000 / SLOTS;
    record('fleet_s', fleet.seconds);
    record('fleet_bound_s', bound);
    record('fleet_vs_bound', fleet.seconds / bound);
    record('worker_peak_rss_mb', fleet.peakMb);
    // Its CPU from start to the fleet's end: what the payload costs the worker, less hidden by a busy machine.
    record('worker_cpu_s', fleet.cpuSeconds);
  } finally {
    await stopBenchWorker(fleetWorker);
  }
}

/** One job, from its start to its result, in seconds. */
async function makespan(
  stack: Stack,
  taskQueue: string,
  source: Buffer,
  check: (job: SeededJob) => Promise<void>,
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
  await check(job);
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
async function checkJob(stack: Stack, job: SeededJob, tally: Tally): Promise<void> {
  tally.jobs += 1;
  const state = await jobState(stack.db.pool, job.jobId);
  const total = state.total_images;
  if (state.job_status !== 'completed' || state.completed_images !== total) tally.lost += 1;
  const folder = `generated-images/user-${job.userId}`;
  const rows = await attachmentsUnder(stack.db.pool, folder);
  const objects = stack.storage.list(BUCKET, folder);
  const production = await productionState(stack.db.pool, job.productionId);
  tally.duplicates += Math.max(0, rows.length - total) + Math.max(0, objects.length - total);
  tally.duplicates += state.generated_attach_ids.length - new Set(state.generated_attach_ids).size;
  tally.duplicates += production.attach_ids.length - new Set(production.attach_ids).size;
  tally.duplicates += Math.max(0, production.generated_image_count - total);
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
  for (const mode of MODES) {
    const prefix = prefixOf(mode);
    const { lost, duplicates, jobs } = integrity[mode];
    console.log(`\nsource by ${mode} (GEMINI_SOURCE_MODE=${mode})`);
    console.log('| figure | median | min | max | target |\n| --- | ---: | ---: | ---: | --- |');
    for (const [key, s] of Object.entries(stats).filter(([key]) => modeOf(key) === mode)) {
      const name = key.slice(prefix.length);
      const figure = s.runs === PLAN.repeats ? `\`${name}\`` : `\`${name}\` (${s.runs} samples)`;
      console.log(`| ${figure} | ${format(s.median)} | ${format(s.min)} | ${format(s.max)} | ${TARGETS[name] ?? ''} |`);
    }
    console.log(`| \`lost\` | ${lost} | | | = 0 |\n| \`duplicates\` | ${duplicates} | | | = 0 |`);
    const { callsByUrl, callsInline } = integrity[mode];
    console.log(`${jobs} jobs checked; Gemini calls with the source by URL: ${callsByUrl}, inline: ${callsInline}`);
  }
  console.log(`\n${PLAN.repeats} run(s) of each mode, one sample each unless the table says.`);
  if (flags.json) {
    const medians = Object.fromEntries(Object.entries(stats).map(([key, s]) => [key, s.median]));
    const checks = MODES.flatMap((mode) => {
      const { lost, duplicates, jobs } = integrity[mode];
      const prefix = prefixOf(mode);
      return [
        [`${prefix}lost`, lost],
        [`${prefix}duplicates`, duplicates],
        [`${prefix}jobs_checked`, jobs],
        [`${prefix}gemini_calls_by_url`, integrity[mode].callsByUrl],
        [`${prefix}gemini_calls_inline`, integrity[mode].callsInline],
      ];
    });
    const json = { ...medians, ...Object.fromEntries(checks), quick: flags.quick, stats };
    writeFileSync(flags.json, JSON.stringify(json, null, 2) + '\n');
    console.log(`wrote ${flags.json}`);
  }
}

function modeOf(key: string): SourceMode {
  return MODES.find((mode) => mode !== 'url' && key.startsWith(prefixOf(mode))) ?? 'url';
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
