import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { FaultLog, geminiFaults, seededRandom } from '../chaos/faults';
import { checkInvariants, waitForWorkflowsToClose } from '../chaos/invariants';
import { devServerPids } from '../bench/cpu';
import { openDatabase, type LocalDatabase } from '../dev/database';
import { PostgresServer } from '../dev/postgres-server';
import { RedisServer } from '../dev/redis-server';
import { ServiceFleet, type ServiceRole } from '../dev/service-fleet';
import { DATA_DIR } from '../dev/setup-scripts';
import { FAKE_GEMINI_KEY, FAKE_SERVICE_KEY, workerEnvironment } from '../dev/stack';
import { GeminiStandIn } from '../dev/stand-ins/gemini';
import { StorageStandIn } from '../dev/stand-ins/storage';
import { startTemporalEngine, type TemporalEngine } from '../dev/temporal-engine';
import { queueKeys } from '../src/bridge/queue';
import { loadBridgeConfig, loadWorkerConfig } from '../src/process/config';
import { measureCapacity, ServedLatency, type Capacity } from './calibration';
import { latencyWindows, memoryFlat, noSlowDown, nothingLost, SLOW_DOWN_LIMIT, type QueueLeft } from './criteria';
import { drawPlot } from './plot';
import { postgresPidsOnPort } from './process-memory';
import {
  describeCapacity,
  describeCriteria,
  describeInvariants,
  describeLatency,
  describeMemory,
  describeSample,
  describeScenario,
} from './report';
import { sampleEvery, type Sample } from './sampler';
import { meanQuantity, steadyScenario, type Scenario } from './scenario';
import { Traffic } from './traffic';
import { exitOnSignal } from '../dev/exit-cleanup';

/**
 * `npm run soak -- --minutes N [--engine dev|cluster] [--json FILE] [--plot FILE.png] [--seed N]`: N minutes of
 * steady load on the local stack, the worker and bridge as deployed (compiled, each its own process, the product's
 * default configuration and limits), at 60 % of the capacity measured at the start; memory, connections, queues and
 * latency sampled throughout; then the pass criteria (memory flat, no slow-down, nothing lost, the chaos run's
 * invariants over every job) and a picture of it all.
 */

const { values: flags } = parseArgs({
  options: {
    minutes: { type: 'string' },
    engine: { type: 'string', default: 'dev' },
    json: { type: 'string' },
    plot: { type: 'string' },
    seed: { type: 'string' },
  },
});
const minutes = Number(flags.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${flags.minutes}`);
if (flags.engine !== 'dev' && flags.engine !== 'cluster') {
  throw new Error(`--engine must be dev or cluster, got ${flags.engine}`);
}
const scenario = steadyScenario({ engine: flags.engine, minutes });
const seed = flags.seed === undefined ? Math.floor(Math.random() * 1e6) : Number(flags.seed);
if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${seed}`);

/** The product's database on the run's own PostgreSQL, and the name the soak's own connections carry there. */
const DATABASE = 'soak';
const APPLICATION_NAME = 'soak-runner';
const REPORTER = path.join(__dirname, 'memory-reporter.js');
const BUNDLE = path.join(__dirname, '..', 'dist', 'workflow-bundle.js');
/** How long the jobs in flight at the end may take to end before they count as stuck. */
const DRAIN_MS = 5 * 60_000;
/** The folders of this many runs are kept (logs, reports); older ones go. */
const KEPT_RUNS = 5;

async function main(): Promise<number> {
  const runDir = path.join(DATA_DIR, 'soak', `${new Date().toISOString().replace(/[:.]/g, '-')}-${scenario.engine}`);
  const heapDir = path.join(runDir, 'heap');
  mkdirSync(heapDir, { recursive: true });
  pruneRuns();
  for (const line of describeScenario(scenario, seed)) console.log(line);

  // Everything on a PostgreSQL of the run's own (the cluster's databases too), so its memory and connections are
  // the run's alone.
  const [postgres, redis, gemini, storage] = await Promise.all([
    PostgresServer.start(),
    RedisServer.start(),
    GeminiStandIn.start({ apiKey: FAKE_GEMINI_KEY }),
    StorageStandIn.start({ serviceKey: FAKE_SERVICE_KEY }),
  ]);
  const cleanUp: Array<() => Promise<unknown>> = [
    () => Promise.allSettled([redis.stop(), gemini.stop(), storage.stop()]),
    () => postgres.remove(),
  ];
  try {
    // The dev server keeps its state in a file: in memory, every history of the run would pile up in its RSS.
    const dbFilename = path.join(runDir, 'temporal.sqlite');
    const temporal = await startTemporalEngine(scenario.engine, { dbFilename, clusterDatabaseUrl: postgres.url });
    cleanUp.unshift(() => temporal.stop().finally(() => rmSync(dbFilename, { force: true })));
    const db = await openDatabase(postgres.url, DATABASE, APPLICATION_NAME);
    cleanUp.unshift(() => db.pool.end());

    const faults = new FaultLog();
    gemini.respondWith(geminiFaults(seededRandom(seed), faults, scenario.geminiFaults));
    const latency = seededRandom(seed + 1);
    const { min, max } = scenario.geminiLatencyMs;
    const served = new ServedLatency();
    gemini.latencyMs = () => served.record(min + latency() * (max - min));

    // As deployed: the product's defaults, only where things are set; the reporter preloaded.
    const preload = { NODE_OPTIONS: `--require ${REPORTER}`, SOAK_HEAP_DIR: heapDir };
    const workerEnv = {
      ...workerEnvironment({ db, storage, gemini }),
      TEMPORAL_ADDRESS: temporal.address,
      WORKFLOW_BUNDLE_PATH: BUNDLE,
      ...preload,
    };
    const bridgeEnv = (index: number) => ({
      TEMPORAL_ADDRESS: temporal.address,
      REDIS_URL: redis.url,
      DATABASE_URL: db.url,
      // Each its own processing list, as each host's name gives it in a deployment.
      BRIDGE_ID: `soak-bridge-${index + 1}`,
      ...preload,
    });
    const fleet = new ServiceFleet({
      entryPoints: { worker: 'built-worker', bridge: 'built-bridge' },
      environment: (role, index) => (role === 'worker' ? workerEnv : bridgeEnv(index)),
      logDir: runDir,
    });
    cleanUp.unshift(() => fleet.stopAll());
    for (let i = 0; i < scenario.workers; i++) await fleet.start('worker', i);
    for (let i = 0; i < scenario.bridges; i++) await fleet.start('bridge', i);
    const stack = {
      temporal,
      redis,
      gemini,
      storage,
      db,
      fleet,
      postgres,
      faults,
      served,
      heapDir,
      runDir,
      workerEnv,
      bridgeEnv,
    };
    return await soak(stack);
  } finally {
    for (const step of cleanUp) await step().catch(() => undefined);
  }
}

interface Stack {
  temporal: TemporalEngine;
  redis: RedisServer;
  gemini: GeminiStandIn;
  storage: StorageStandIn;
  db: LocalDatabase;
  fleet: ServiceFleet;
  postgres: PostgresServer;
  faults: FaultLog;
  served: ServedLatency;
  heapDir: string;
  runDir: string;
  workerEnv: Record<string, string>;
  bridgeEnv: (index: number) => Record<string, string>;
}

async function soak(stack: Stack): Promise<number> {
  const { temporal, redis, db, fleet } = stack;
  // The product's own reading of the variables the processes got: its limits, and where its queue lists are.
  const worker = loadWorkerConfig(stack.workerEnv);
  const bridges = Array.from({ length: scenario.bridges }, (_, i) => loadBridgeConfig(stack.bridgeEnv(i)).queue);
  const keys = {
    pending: queueKeys(bridges[0]!).pending,
    processing: bridges.map((queue) => queueKeys(queue).processing),
    deadLetters: queueKeys(bridges[0]!).deadLetters,
  };
  const pusher = redis.client();
  const monitor = redis.client();
  const traffic = new Traffic({
    pool: db.pool,
    storage: stack.storage,
    pusher,
    queueKey: keys.pending,
    scenario,
    random: seededRandom(seed + 2),
    runId: seed.toString(36),
  });
  let following = true;
  const follower = traffic.follow(() => following);
  try {
    const meanLatencyS = (scenario.geminiLatencyMs.min + scenario.geminiLatencyMs.max) / 2 / 1000;
    const boundAt = (latencyS: number) =>
      Math.min((scenario.workers * worker.gemini.maxConcurrentCalls) / latencyS, worker.gemini.requestsPerMinute / 60);
    // The burst is sized by the configured mean latency; the bound it is judged by uses the latencies drawn for it.
    stack.served.reset();
    const burst = await measureCapacity(traffic, db.pool, {
      boundPerS: boundAt(meanLatencyS),
      seconds: scenario.windows.calibrationS,
    });
    const capacity = { ...burst, boundPerS: boundAt(stack.served.meanS()) };
    await until(() => traffic.inFlight === 0, Date.now() + DRAIN_MS);
    const imagesPerS = scenario.loadShare * capacity.imagesPerS;
    const jobsPerS = imagesPerS / meanQuantity(scenario);
    console.log(describeCapacity(capacity, jobsPerS, imagesPerS));

    const startedAt = Date.now();
    const durationS = scenario.minutes * 60;
    const sampling = sampleEvery(
      {
        processes: () => processesOf(stack),
        reporters: () => ({ ...named('worker', fleet.pids('worker')), ...named('bridge', fleet.pids('bridge')) }),
        heapDir: stack.heapDir,
        pool: db.pool,
        productDatabase: DATABASE,
        applicationName: APPLICATION_NAME,
        redis: monitor,
        queueKeys: keys,
        traffic,
      },
      { startedAt, everyS: scenario.windows.sampleEveryS, onSample: (sample) => console.log(describeSample(sample)) },
    );
    await traffic.arrive(jobsPerS, startedAt + durationS * 1000);
    await sleep(Math.max(0, startedAt + durationS * 1000 - Date.now()));
    console.log(`  arrivals over; waiting for the ${traffic.inFlight} job(s) in flight to end`);
    const deadline = Date.now() + DRAIN_MS;
    await until(() => traffic.inFlight === 0, deadline);
    await waitForWorkflowsToClose(temporal.client, traffic.jobs, deadline);
    const drainS = (Date.now() - startedAt) / 1000 - durationS;
    const samples = await sampling.stop();
    following = false;
    await follower;
    await fleet.stopAll();
    return await judge(stack, { traffic, capacity, jobsPerS, startedAt, durationS, drainS, samples });
  } finally {
    following = false;
    await follower.catch(() => undefined);
    pusher.disconnect();
    monitor.disconnect();
  }
}

interface SteadyRun {
  traffic: Traffic;
  capacity: Capacity;
  jobsPerS: number;
  startedAt: number;
  durationS: number;
  drainS: number;
  /** The last taken once every job had ended. */
  samples: Sample[];
}

/** The invariants over every job, then the criteria: printed, plotted and written. */
async function judge(stack: Stack, run: SteadyRun): Promise<number> {
  const { gemini, fleet } = stack;
  const { traffic, capacity, samples, startedAt, durationS } = run;
  const verdict = await checkInvariants({
    pool: stack.db.pool,
    client: stack.temporal.client,
    storage: stack.storage,
    geminiRequests: gemini.requests,
    jobs: traffic.jobs,
    logs: fleet.logs(),
    secrets: [FAKE_GEMINI_KEY, FAKE_SERVICE_KEY],
  });
  const { queue, processing, deadLetters } = samples.at(-1)!.redis;
  const left: QueueLeft = { queue, processing, deadLetters };
  const latency = latencyWindows(traffic.jobs, startedAt, scenario.windows, durationS);
  const memory = memoryFlat(samples, scenario.windows, durationS);
  const criteria = [memory.criterion, noSlowDown(latency, scenario.windows), nothingLost(traffic.jobs, verdict, left)];
  const passed = criteria.every((criterion) => criterion.passed);

  console.log(`\n${describeLatency(latency).join('\n')}\n\n${describeMemory(memory.figures).join('\n')}`);
  console.log(`\n${describeInvariants(verdict.invariants).join('\n')}\n`);
  const { gemini_5xx: answered5xx = 0, gemini_429: answered429 = 0 } = stack.faults.counts;
  console.log(
    `${traffic.jobs.length} jobs (${capacity.jobs} in the capacity burst), ${verdict.imagesMade} images made; ` +
      `${gemini.requests.length} Gemini calls, ${answered5xx} answered 5xx and ${answered429} 429; drained in ` +
      `${run.drainS.toFixed(0)} s; logs in ${stack.runDir}`,
  );
  console.log(describeCriteria(criteria).join('\n'));

  if (flags.plot) {
    const first = latency.find((window) => window.fromS >= scenario.windows.warmUpS - 1e-6);
    await drawPlot(flags.plot, {
      title: `npm run soak -- --minutes ${scenario.minutes} --engine ${scenario.engine}: ${passed ? 'PASS' : 'FAIL'}`,
      caption:
        `${scenario.name}, ${scenario.workers} worker(s) and ${scenario.bridges} bridge(s), ` +
        `${(run.jobsPerS * 60).toFixed(1)} jobs/min (60 % of ${capacity.imagesPerS.toFixed(2)} images/s measured), ` +
        `seed ${seed}. Shaded: grey the warm-up, blue and orange the first and last memory windows compared.`,
      samples,
      latency,
      p99LimitS: first ? first.p99S * SLOW_DOWN_LIMIT : undefined,
      bands: bandsOf(scenario, durationS),
    });
    console.log(`wrote ${flags.plot}`);
  }
  if (flags.json) {
    const report = {
      scenario,
      seed,
      capacity,
      arrivals: { jobs_per_s: run.jobsPerS, images_per_s: run.jobsPerS * meanQuantity(scenario) },
      started_at: new Date(startedAt).toISOString(),
      duration_s: durationS,
      drain_s: run.drainS,
      jobs: {
        pushed: traffic.jobs.length,
        calibration: capacity.jobs,
        completed: verdict.jobsCompleted,
        failed: verdict.jobsFailed,
        stuck: verdict.stuckJobs,
      },
      images_made: verdict.imagesMade,
      gemini_calls: gemini.requests.length,
      gemini_5xx: answered5xx,
      gemini_429: answered429,
      duplicates: verdict.duplicates,
      orphans: verdict.orphans,
      queue_left: left,
      latency_windows: latency,
      memory: memory.figures,
      invariants: verdict.invariants,
      criteria,
      verdict: passed ? 'PASS' : 'FAIL',
      samples,
      logs: stack.runDir,
    };
    writeFileSync(flags.json, JSON.stringify(report, null, 2) + '\n');
    console.log(`wrote ${flags.json}`);
  }
  console.log(`soak: ${passed ? 'PASS' : 'FAIL'}`);
  return passed ? 0 : 1;
}

/** Every process measured, by name: the product's, Temporal's, PostgreSQL (all its processes) and Redis. */
function processesOf(stack: Stack): Record<string, number[]> {
  const { fleet, temporal, redis } = stack;
  const pids = (named: Record<string, number | undefined>) =>
    Object.fromEntries(Object.entries(named).map(([name, pid]) => [name, pid === undefined ? [] : [pid]]));
  const server = temporal.cluster
    ? Object.fromEntries(Object.entries(temporal.cluster.pids()).map(([service, pid]) => [`temporal-${service}`, pid]))
    : { temporal: devServerPids(temporal.address)[0] };
  return {
    ...pids(named('worker', fleet.pids('worker'))),
    ...pids(named('bridge', fleet.pids('bridge'))),
    ...pids(server),
    postgres: postgresPidsOnPort(Number(new URL(stack.postgres.url).port)),
    redis: redis.pid === undefined ? [] : [redis.pid],
  };
}

function named(role: ServiceRole, pids: Array<number | undefined>): Record<string, number | undefined> {
  return Object.fromEntries(pids.map((pid, i) => [`${role}-${i + 1}`, pid]));
}

function bandsOf(scenario: Scenario, durationS: number) {
  const { warmUpS, memoryWindowS } = scenario.windows;
  const minutes = (t: number) => t / 60;
  return [
    { fromMin: 0, toMin: minutes(warmUpS), color: 'rgba(0, 0, 0, 0.08)' },
    { fromMin: minutes(warmUpS), toMin: minutes(warmUpS + memoryWindowS), color: 'rgba(31, 119, 180, 0.10)' },
    { fromMin: minutes(durationS - memoryWindowS), toMin: minutes(durationS), color: 'rgba(255, 127, 14, 0.10)' },
  ];
}

async function until(condition: () => boolean, deadline: number): Promise<void> {
  while (!condition() && Date.now() < deadline) await sleep(500);
}

/** Keeps the folders of the latest runs only: each holds its processes' logs. */
function pruneRuns(): void {
  const dir = path.join(DATA_DIR, 'soak');
  const runs = readdirSync(dir).sort().reverse();
  for (const run of runs.slice(KEPT_RUNS)) rmSync(path.join(dir, run), { recursive: true, force: true });
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
