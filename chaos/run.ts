import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Pool } from 'pg';
import { queueKeys } from '../src/bridge/queue';
import { applyMigrations } from '../dev/migrate';
import { GeminiStandIn } from '../dev/stand-ins/gemini';
import { noisePng } from '../dev/stand-ins/images';
import { StorageStandIn } from '../dev/stand-ins/storage';
import { PostgresServer } from '../dev/postgres-server';
import { RedisServer } from '../dev/redis-server';
import { insertAttachment, insertJob, insertProduction } from '../dev/seed';
import { ServiceFleet, type ServiceRole } from '../dev/service-fleet';
import { BUCKET, FAKE_GEMINI_KEY, FAKE_SERVICE_KEY } from '../dev/stack';
import { startTemporalEngine, type TemporalEngine } from '../dev/temporal-engine';
import { quietLogger } from '../dev/workers';
import {
  BRIDGE_DOWN_MS,
  FaultLog,
  geminiFaults,
  urlFetchFaults,
  planProcessFaults,
  type TemporalFault,
  RATES,
  seededRandom,
  storageFaults,
  type ScheduledFault,
} from './faults';
import { checkInvariants, waitForWorkflowsToClose, type SubmittedJob, type Verdict } from './invariants';
import { exitOnSignal } from '../dev/exit-cleanup';

/**
 * `npm run chaos [-- --quick] [--seed N] [--json FILE] [--engine dev|cluster] [--workers N] [--bridges N]
 * [--source-mode url|inline]`: jobs
 * submitted through Redis to workers and bridges running as their own processes, while processes are killed,
 * servers restarted and the stand-ins misbehave; then every invariant of the pipeline is checked over what is left.
 * On `--engine cluster` Temporal is the real server on PostgreSQL, whose history and frontend are killed and which
 * is restarted whole, mid-run.
 */

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    seed: { type: 'string' },
    json: { type: 'string' },
    engine: { type: 'string', default: 'dev' },
    workers: { type: 'string' },
    bridges: { type: 'string' },
    // The workers' GEMINI_SOURCE_MODE: by URL (the default, with Gemini's fetches failing at a rate) or inline.
    'source-mode': { type: 'string', default: 'url' },
  },
});
if (flags['source-mode'] !== 'url' && flags['source-mode'] !== 'inline') {
  throw new Error(`--source-mode must be url or inline, got ${flags['source-mode']}`);
}
const SOURCE_MODE: 'url' | 'inline' = flags['source-mode'];
if (flags.engine !== 'dev' && flags.engine !== 'cluster') {
  throw new Error(`--engine must be dev or cluster, got ${flags.engine}`);
}
const ENGINE: 'dev' | 'cluster' = flags.engine;
const count = (value: string | undefined, name: string, fallback: number) => {
  const n = value === undefined ? fallback : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
};
// A real cluster is where users run several of each; the dev server's run keeps its one of each.
const WORKERS = count(flags.workers, 'workers', ENGINE === 'cluster' ? 2 : 1);
const BRIDGES = count(flags.bridges, 'bridges', ENGINE === 'cluster' ? 2 : 1);
const TEMPORAL_FAULTS: readonly TemporalFault[] =
  ENGINE === 'cluster' ? ['history_sigkill', 'frontend_sigkill', 'cluster_restart'] : [];
const seed = flags.seed === undefined ? Math.floor(Math.random() * 1e6) : Number(flags.seed);
if (!Number.isSafeInteger(seed) || seed < 0)
  throw new Error(`--seed must be a non-negative integer, got ${flags.seed}`);

// Pushes and faults overlap, so ids are in Redis, in the bridge's hands and in flight when things break.
const PLAN = flags.quick
  ? {
      jobs: 8,
      workerKills: 1,
      pushOverMs: 10_000,
      faultsWithinMs: { from: 1_500, to: 12_000 },
      bridgeKillWithinMs: { from: 1_500, to: 7_000 },
      deadlineMs: 150_000,
    }
  : {
      jobs: 30,
      workerKills: 3,
      pushOverMs: 30_000,
      faultsWithinMs: { from: 2_000, to: 32_000 },
      bridgeKillWithinMs: { from: 2_000, to: 26_000 },
      deadlineMs: 300_000,
    };
const IMAGES_PER_JOB = 3;
const QUEUE_KEY = 'chaos:queue';
// The same after a restart, so a bridge re-drives what its killed predecessor had taken.
const BRIDGE_IDS = Array.from({ length: BRIDGES }, (_, i) => `chaos-bridge-${i + 1}`);
const PROCESSING_KEYS = BRIDGE_IDS.map((bridgeId) => queueKeys({ key: QUEUE_KEY, bridgeId }).processing);
const TASK_QUEUE = 'chaos';
/** Short, so that hung calls end well inside the run; the product's default is 120 s. */
const GEMINI_TIMEOUT_MS = 4_000;
/** A restarted Redis comes back empty; the sweep then starts what was lost, after this long pending. */
const SWEEP = { staleAfterSeconds: 10, everySeconds: 5 };

const random = seededRandom(seed);
const faults = new FaultLog(TEMPORAL_FAULTS);
let temporalRestarts = 0;
let lostInRedis = 0;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

async function main(): Promise<number> {
  const logDir = path.resolve('.data', 'chaos', `seed-${seed}`);
  mkdirSync(logDir, { recursive: true });
  console.log(
    `chaos: ${flags.quick ? 'quick' : 'full'} run on the ${ENGINE === 'cluster' ? 'Temporal cluster' : 'dev server'}` +
      ` with ${WORKERS} worker(s) and ${BRIDGES} bridge(s), seed ${seed} (repeat with --seed ${seed})`,
  );

  // On the cluster, Temporal's databases live on the project's PostgreSQL, not on the run's private one: restarting
  // the product's database is a fault of its own, and the cluster's faults are the ones below.
  const [temporal, redis, postgres, gemini, storage, bundlePath] = await Promise.all([
    startTemporalEngine(ENGINE),
    RedisServer.start(),
    PostgresServer.start(),
    GeminiStandIn.start({ apiKey: FAKE_GEMINI_KEY, latencyMs: 800 }),
    StorageStandIn.start({ serviceKey: FAKE_SERVICE_KEY }),
    writeWorkflowBundle(logDir),
  ]);
  if (temporal.cluster)
    console.log(`  Temporal cluster up in ${((temporal.cluster.timings?.totalMs ?? 0) / 1000).toFixed(1)} s`);
  const pool = new Pool({ connectionString: postgres.url, max: 4 });
  pool.on('error', () => undefined); // connections die with the Postgres restart; queries are retried below
  const workerEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    DATABASE_URL: postgres.url,
    SUPABASE_URL: storage.url,
    SUPABASE_SERVICE_ROLE_KEY: FAKE_SERVICE_KEY,
    GEMINI_API_KEY: FAKE_GEMINI_KEY,
    GEMINI_BASE_URL: gemini.baseUrl,
    GEMINI_TIMEOUT_MS: String(GEMINI_TIMEOUT_MS),
    GEMINI_SOURCE_MODE: SOURCE_MODE,
    WORKFLOW_BUNDLE_PATH: bundlePath,
    LOG_LEVEL: 'info',
  };
  const bridgeEnv = (index: number): Record<string, string> => ({
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    REDIS_URL: redis.url,
    DATABASE_URL: postgres.url,
    QUEUE_KEY,
    BRIDGE_ID: BRIDGE_IDS[index]!,
    SWEEP_STALE_AFTER_SECONDS: String(SWEEP.staleAfterSeconds),
    SWEEP_EVERY_SECONDS: String(SWEEP.everySeconds),
    LOG_LEVEL: 'info',
  });
  const processes = new ServiceFleet({
    entryPoints: { worker: 'worker', bridge: 'bridge' },
    environment: (role, index) => (role === 'worker' ? workerEnv : bridgeEnv(index)),
    logDir,
  });
  try {
    await applyMigrations(pool);
    gemini.respondWith(geminiFaults(random, faults));
    // A generator of its own, so a seed's other faults stay what they were before this one existed.
    gemini.failUrlFetches(urlFetchFaults(seededRandom(seed + 1), faults));
    storage.failUploadsWhen(storageFaults(random, faults));
    const schedule = planProcessFaults(
      random,
      {
        worker_sigkill: PLAN.workerKills,
        postgres_restart: 1,
        ...Object.fromEntries(TEMPORAL_FAULTS.map((kind) => [kind, 1])),
      },
      PLAN.faultsWithinMs,
      PLAN.bridgeKillWithinMs,
    );
    console.log(`  faults planned: ${schedule.map((f) => `${f.kind} at ${(f.atMs / 1000).toFixed(1)} s`).join(', ')}`);
    for (let i = 0; i < WORKERS; i++) await processes.start('worker', i);
    for (let i = 0; i < BRIDGES; i++) await processes.start('bridge', i);

    const startedAt = Date.now();
    const injecting = injectFaults(schedule, startedAt, { processes, redis, postgres, temporal });
    const jobs = await submitJobs(pool, storage, redis);
    await injecting;
    console.log(`  ${jobs.length} jobs submitted, all faults injected; waiting for every job to end`);
    await waitForJobsToEnd(pool, jobs, startedAt + PLAN.deadlineMs);
    const elapsedS = (Date.now() - startedAt) / 1000;
    await waitForWorkflowsToClose(temporal.client, jobs, startedAt + PLAN.deadlineMs);
    await processes.stopAll();

    const verdict = await checkInvariants({
      pool,
      client: temporal.client,
      storage,
      geminiRequests: gemini.requests,
      jobs,
      logs: processes.logs(),
      secrets: [FAKE_GEMINI_KEY, FAKE_SERVICE_KEY],
    });
    const startedByBridges = processes.jobsStartedByBridges();
    const startedBySweep = jobs.filter((job) => !startedByBridges.has(job.jobId)).length;
    return report(verdict, jobs, { elapsedS, geminiCalls: gemini.requests.length, startedBySweep }, logDir);
  } finally {
    await processes.stopAll();
    await pool.end().catch(() => undefined);
    await Promise.allSettled([temporal.stop(), redis.stop(), postgres.remove(), gemini.stop(), storage.stop()]);
  }
}

/** One of a role's processes, chosen by the run's seed. */
function victim(processes: ServiceFleet, role: ServiceRole): number {
  const size = processes.size(role);
  return size > 1 ? Math.floor(random() * size) : 0;
}

/** The process faults, each at its planned moment after the start. */
async function injectFaults(
  schedule: ScheduledFault[],
  startedAt: number,
  {
    processes,
    redis,
    postgres,
    temporal,
  }: { processes: ServiceFleet; redis: RedisServer; postgres: PostgresServer; temporal: TemporalEngine },
): Promise<void> {
  const restarts: Array<Promise<void>> = [];
  for (const fault of schedule) {
    await sleep(startedAt + fault.atMs - Date.now());
    console.log(`  +${((Date.now() - startedAt) / 1000).toFixed(1)} s: ${fault.kind}`);
    faults.count(fault.kind);
    switch (fault.kind) {
      case 'worker_sigkill':
        await processes.kill('worker', victim(processes, 'worker'));
        break;
      case 'bridge_sigkill':
        // The schedule goes on while it is down.
        restarts.push(processes.kill('bridge', victim(processes, 'bridge'), BRIDGE_DOWN_MS));
        break;
      case 'redis_restart':
        lostInRedis += await idsHeldBy(redis);
        await redis.stop();
        await sleep(1_000);
        await redis.restart();
        break;
      case 'postgres_restart':
        await postgres.restart(2_000);
        break;
      case 'history_sigkill':
      case 'frontend_sigkill': {
        const service = fault.kind === 'history_sigkill' ? 'history' : 'frontend';
        await temporal.cluster!.kill(service, 'SIGKILL');
        await temporal.cluster!.restart(service);
        temporalRestarts += 1;
        break;
      }
      case 'cluster_restart':
        await temporal.cluster!.restartAll(2_000);
        temporalRestarts += 1;
        break;
    }
  }
  await Promise.all(restarts);
}

/** Ids waiting in the list or in the bridge's hands: what a Redis without persistence loses when it dies. */
async function idsHeldBy(redis: RedisServer): Promise<number> {
  const probe = redis.client();
  try {
    const lengths = await Promise.all([QUEUE_KEY, ...PROCESSING_KEYS].map((key) => probe.llen(key)));
    return lengths.reduce((sum, n) => sum + n, 0);
  } finally {
    probe.disconnect();
  }
}

/**
 * Three users with fairness on (the project's Temporal config): one pushes every other job, two share the rest, so
 * their jobs' Gemini calls wait in one backlog ordered by user, and several jobs share a user's output folder.
 */
const USERS = 3;
function userOf(job: number): string {
  const user = job % 2 === 0 ? 0 : 1 + (Math.floor(job / 2) % (USERS - 1));
  return `chaos${seed}u${user}`;
}

/** As the front end does it: the rows first, then the id onto Redis; spread over the push window. */
async function submitJobs(pool: Pool, storage: StorageStandIn, redis: RedisServer): Promise<SubmittedJob[]> {
  const pusher = redis.client();
  pusher.on('error', () => undefined); // the Redis restart; ioredis reconnects and resends
  const productions: string[] = [];
  const jobs: SubmittedJob[] = [];
  try {
    for (let i = 0; i < PLAN.jobs; i++) {
      // Some productions get two jobs, so their photo's ids come from both.
      const reuse = productions.length > 0 && i % 3 === 2;
      const productionId = reuse ? productions.at(-1)! : await persistently(() => insertProduction(pool));
      if (!reuse) productions.push(productionId);
      const userId = userOf(i);
      const sourcePath = `merged-images/user-${userId}/merged_${i}.png`;
      const source = noisePng(48, 32);
      storage.put(BUCKET, sourcePath, source, 'image/png');
      const sourceAttachId = await persistently(() => insertAttachment(pool, sourcePath, source.length));
      const input = { prompt: `chaos job ${i}`, quantity: IMAGES_PER_JOB, userId, mergedImageAttachId: sourceAttachId };
      const jobId = await persistently(() => insertJob(pool, productionId, input, { totalImages: IMAGES_PER_JOB }));
      await pusher.lpush(QUEUE_KEY, jobId);
      jobs.push({ jobId, productionId, userId, quantity: IMAGES_PER_JOB });
      await sleep(PLAN.pushOverMs / PLAN.jobs);
    }
  } finally {
    pusher.disconnect();
  }
  return jobs;
}

async function waitForJobsToEnd(pool: Pool, jobs: SubmittedJob[], deadline: number): Promise<void> {
  const ids = jobs.map((job) => job.jobId);
  let lastOpen = -1;
  while (Date.now() < deadline) {
    const { rows } = await persistently(() =>
      pool.query<{ open: string }>(
        `SELECT count(*) AS open FROM quel_production_jobs
          WHERE job_id = ANY($1::uuid[]) AND job_status NOT IN ('completed', 'failed')`,
        [ids],
      ),
    );
    const open = Number(rows[0]!.open);
    if (open === 0) return;
    if (open !== lastOpen) console.log(`  ${open} job(s) still open`);
    lastOpen = open;
    await sleep(1_000);
  }
  console.log('  deadline reached with jobs still open: they count as stuck');
}

/** The run's own database calls ride out the Postgres restart it causes. */
async function persistently<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= 30) throw error;
      await sleep(500);
    }
  }
}

/** The workflows bundled once, so each new worker process starts in a second or two. */
async function writeWorkflowBundle(dir: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    logger: quietLogger,
  });
  const file = path.join(dir, 'workflow-bundle.js');
  writeFileSync(file, code);
  return file;
}

function report(
  verdict: Verdict,
  jobs: SubmittedJob[],
  run: { elapsedS: number; geminiCalls: number; startedBySweep: number },
  logDir: string,
) {
  const { elapsedS, geminiCalls } = run;
  const invariantsChecked = verdict.invariants.reduce((sum, i) => sum + i.checked, 0);
  const invariantsBroken = verdict.invariants.reduce((sum, i) => sum + i.broken, 0);
  console.log(`\n| invariant | checked | broken |\n| --- | ---: | ---: |`);
  for (const invariant of verdict.invariants) {
    console.log(`| ${invariant.name} | ${invariant.checked} | ${invariant.broken} |`);
    for (const example of invariant.examples) console.log(`|   e.g. ${example} | | |`);
  }
  console.log(`\n| fault | injected |\n| --- | ---: |`);
  for (const [kind, count] of Object.entries(faults.counts)) console.log(`| ${kind} | ${count} |`);
  const summary = {
    seed,
    quick: flags.quick,
    engine: ENGINE,
    source_mode: SOURCE_MODE,
    workers: WORKERS,
    bridges: BRIDGES,
    temporal_restarts: temporalRestarts,
    jobs: jobs.length,
    users: new Set(jobs.map((job) => job.userId)).size,
    images: jobs.length * IMAGES_PER_JOB,
    images_made: verdict.imagesMade,
    jobs_completed: verdict.jobsCompleted,
    jobs_failed: verdict.jobsFailed,
    faults_injected: faults.total,
    faults: faults.counts,
    rates: RATES,
    gemini_calls: geminiCalls,
    gemini_answers_lost_with_a_killed_worker: verdict.answersLost,
    ids_lost_with_redis: lostInRedis,
    jobs_started_by_sweep: run.startedBySweep,
    invariants_checked: invariantsChecked,
    invariants_broken: invariantsBroken,
    stuck_jobs: verdict.stuckJobs,
    duplicates: verdict.duplicates,
    orphans: verdict.orphans,
    elapsed_s: Math.round(elapsedS),
  };
  console.log(
    `\n${summary.jobs} jobs, ${summary.images} images (${summary.images_made} made; jobs ${summary.jobs_completed} ` +
      `completed, ${summary.jobs_failed} failed) in ${summary.elapsed_s} s; ${summary.gemini_calls} Gemini calls; ` +
      `${summary.faults_injected} faults injected`,
  );
  console.log(
    `${lostInRedis} id(s) were in Redis when it died, ${run.startedBySweep} job(s) started by the sweep; ` +
      `${verdict.answersLost} Gemini answer(s) died with a killed worker before they were stored`,
  );
  console.log(
    `invariants checked ${invariantsChecked}, broken ${invariantsBroken}; stuck jobs ${summary.stuck_jobs}, ` +
      `duplicates ${summary.duplicates}, orphans ${summary.orphans}; process logs in ${logDir}`,
  );
  if (flags.json) {
    writeFileSync(flags.json, JSON.stringify(summary, null, 2) + '\n');
    console.log(`wrote ${flags.json}`);
  }
  const held = invariantsBroken + summary.stuck_jobs + summary.duplicates + summary.orphans === 0;
  console.log(held ? 'chaos: every invariant held' : 'chaos: INVARIANTS BROKEN');
  return held ? 0 : 1;
}

// Stopped from outside (`timeout`, `kill`), it still ends what it started.
exitOnSignal();
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
