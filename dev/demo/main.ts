import 'dotenv/config';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import { createDatabasePool } from '../../src/activities/database';
import { createImageStore, createStorageClient } from '../../src/activities/storage';
import { runBridge } from '../../src/bridge';
import { createJobQueue } from '../../src/bridge/queue';
import { loadBridgeConfig, loadWorkerConfig } from '../../src/process/config';
import { workflowIdForJob } from '../../src/contract';
import { abortOnSignals, runEntryPoint } from '../../src/process/entry-point';
import { createLogger, humanLines } from '../../src/process/logger';
import { lazyClient, registerSearchAttributes } from '../../src/process/temporal-connection';
import { startTracing } from '../../src/process/start-tracing';
import { buildOf } from '../../src/worker/deployment';
import { installTemporalRuntime, runWorker } from '../../src/worker/worker';
import { openDatabase } from '../database';
import { isListening } from '../ports';
import { DEFAULT_POSTGRES_PORT, PostgresServer } from '../postgres-server';
import { RedisServer } from '../redis-server';
import { seedJob } from '../seed';
import { DATA_DIR, ROOT, setupScript } from '../setup-scripts';
import { GeminiStandIn } from '../stand-ins/gemini';
import { StorageStandIn } from '../stand-ins/storage';
import { startPageServer } from './page-server';
import { startDevServerProcess } from '../temporal-dev-server';

/**
 * `npm run demo [-- --once]`: the whole product on this machine. Every part that `.env` does not configure is
 * started here (Temporal dev server with its Web UI, Redis, PostgreSQL, the Storage stand-in keeping its objects in
 * a folder and, with no GEMINI_API_KEY, the Gemini stand-in making offline variations); then a sample job goes
 * through the front end's path: rows, a push onto Redis, and the polled row drawn as a progress bar. The demo page
 * (page-server.ts, page/) shows the same job as the front end would, and starts more.
 */

const PORTS = {
  temporal: 7233,
  ui: 8233,
  redis: 6379,
  postgres: Number(process.env.QUEL_PG_PORT ?? DEFAULT_POSTGRES_PORT),
  storage: 54380,
  gemini: 54381,
};
// The page's port; when DEMO_PORT is not set and 8080 is taken, any free one.
const PAGE_PORTS = process.env.DEMO_PORT ? [Number(process.env.DEMO_PORT)] : [8080, 0];
const QUANTITY = Number(process.env.DEMO_QUANTITY ?? 4);
const PROMPT = process.env.DEMO_PROMPT ?? 'The same scene at another time of day, in another season';
const SAMPLE_IMAGE = path.join(ROOT, 'assets', 'sample.png');
const LOCAL_STORAGE_KEY = 'local-demo-storage';
/** How long an image link the page hands out works: the browser follows it at once. */
const SIGNED_URL_SECONDS = 300;
const say = (line = '') => process.stdout.write(`${line}\n`);

interface Service {
  name: string;
  startedHere: boolean;
  stop(): Promise<void>;
}

const alreadyRunning = (name: string): Service => ({ name, startedHere: false, stop: async () => undefined });

async function main(options: { once: boolean; flood: boolean }): Promise<number> {
  mkdirSync(DATA_DIR, { recursive: true });
  const env: Record<string, string | undefined> = { ...process.env };
  const cleanups: Array<() => Promise<void>> = [];
  const services: Service[] = [];
  try {
    say('Starting the image-job demo: every part that .env does not configure runs on this machine.');

    if (!env.DATABASE_URL) {
      const postgres = await PostgresServer.start(PORTS.postgres);
      services.push({ name: 'PostgreSQL', startedHere: postgres.startedHere, stop: () => postgres.stop() });
      // A database of its own, created once and kept between runs, with the product's tables.
      const database = await openDatabase(postgres.url, 'quel_demo');
      await database.pool.end();
      env.DATABASE_URL = database.url;
    }
    let localStorage: StorageStandIn | undefined;
    if (!env.SUPABASE_URL || !env.SUPABASE_SERVICE_ROLE_KEY) {
      const bucket = env.STORAGE_BUCKET ?? 'attachments';
      const root = path.join(DATA_DIR, 'storage');
      // Private, as a Supabase bucket is by default: the page shows its images through signed URLs.
      const storage = await StorageStandIn.start({
        root,
        port: PORTS.storage,
        buckets: [bucket],
        privateBuckets: [bucket],
        serviceKey: LOCAL_STORAGE_KEY,
      });
      localStorage = storage;
      cleanups.push(() => storage.stop());
      Object.assign(env, { SUPABASE_URL: storage.url, SUPABASE_SERVICE_ROLE_KEY: LOCAL_STORAGE_KEY });
      say(`  Storage:   the folder ${root} (bucket ${bucket})`);
    } else {
      say(`  Storage:   Supabase Storage of ${env.SUPABASE_URL}`);
    }
    if (!env.GEMINI_API_KEY) {
      const generator = await GeminiStandIn.start({
        port: PORTS.gemini,
        apiKey: 'offline-demo',
        answers: 'variations',
        latencyMs: Number(env.DEMO_GEMINI_LATENCY_MS ?? 1500),
      });
      cleanups.push(() => generator.stop());
      Object.assign(env, { GEMINI_API_KEY: 'offline-demo', GEMINI_BASE_URL: generator.baseUrl });
      say();
      say('  ************************************************************************************');
      say('  *  NO GEMINI_API_KEY: images are made by the OFFLINE generator on this machine      *');
      say('  *  (hue-turned, mirrored variations of the source), not by Gemini. Put a key in     *');
      say('  *  .env to use Gemini.                                                              *');
      say('  ************************************************************************************');
      say();
    } else {
      say(`  Gemini:    ${env.GEMINI_MODEL ?? 'gemini-2.5-flash-image'} with the GEMINI_API_KEY from the environment`);
      // The real Gemini cannot fetch a URL of this machine's Storage folder: the source goes inline.
      if (localStorage && !env.GEMINI_SOURCE_MODE) {
        env.GEMINI_SOURCE_MODE = 'inline';
        say('  Source:    sent inline (GEMINI_SOURCE_MODE=inline): Gemini cannot reach the local Storage');
      }
    }
    let uiUrl = env.TEMPORAL_UI_URL;
    if (!env.TEMPORAL_ADDRESS) {
      services.push(await ensureTemporal());
      env.TEMPORAL_ADDRESS = `127.0.0.1:${PORTS.temporal}`;
      uiUrl ??= `http://localhost:${PORTS.ui}`;
    }
    if (!env.REDIS_URL) {
      services.push(await ensureRedis());
      env.REDIS_URL = `redis://127.0.0.1:${PORTS.redis}`;
    }
    for (const service of services)
      say(
        `  ${`${service.name}:`.padEnd(10)} ${service.startedHere ? 'started by the demo' : 'already running, used as it is'}`,
      );
    cleanups.push(async () => {
      for (const service of services.reverse()) if (service.startedHere) await service.stop();
    });

    const workerConfig = loadWorkerConfig(env);
    const bridgeConfig = loadBridgeConfig(env);
    const logFile = path.join(DATA_DIR, 'demo.log');
    const log = createLogger(workerConfig.logLevel, 'demo', humanLines(logFile));
    installTemporalRuntime(log.child({ component: 'worker' }), workerConfig.metricsBindAddress);
    say(`  Logs:      ${logFile}`);

    const client = lazyClient(workerConfig.temporal);
    await registerSearchAttributes(client, workerConfig.temporal.namespace);
    // The front end's own connection, to create the job and poll its row.
    const pool = createDatabasePool(workerConfig.database);
    cleanups.unshift(() => pool.end());

    const tracing = startTracing(workerConfig.tracing, 'image-jobs-demo');
    const stop = abortOnSignals();
    const serving = Promise.all([
      runWorker(workerConfig, log.child({ component: 'worker' }), stop.signal, tracing),
      runBridge(bridgeConfig, log.child({ component: 'bridge' }), stop.signal, tracing),
    ]);
    cleanups.unshift(async () => {
      stop.abort();
      await serving;
      await client.connection.close();
      await tracing.shutdown();
    });

    const storage = createImageStore(createStorageClient(workerConfig.storage), workerConfig.storage.bucket);
    const source = await readFile(SAMPLE_IMAGE);
    const queue = createJobQueue(bridgeConfig.queue);
    cleanups.unshift(async () => queue.close());
    let latestJobId: string | undefined;
    // What the front end does: the rows (and the source object), then the id pushed onto Redis.
    const startJob = async (request: { quantity: unknown; prompt: unknown; userId?: string }) => {
      const job = await seedJob(pool, (objectPath, bytes, mimeType) => storage.upload(objectPath, bytes, mimeType), {
        userId: 'demo-user',
        ...request,
        source,
      });
      await queue.push(job.jobId);
      if (job.userId === 'demo-user') latestJobId = job.jobId;
      return job.jobId;
    };
    const workflowUrl = (jobId: string) =>
      uiUrl && `${uiUrl}/namespaces/${workerConfig.temporal.namespace}/workflows/${workflowIdForJob(jobId)}`;
    const workflowBuild = (jobId: string) =>
      client.workflow
        .getHandle(workflowIdForJob(jobId))
        .describe()
        .then(buildOf, () => undefined);
    const page = await startPageServer({
      ports: PAGE_PORTS,
      pool,
      latestJobId: () => latestJobId,
      startJob,
      signedUrl: (objectPath) => storage.signedUrl(objectPath, SIGNED_URL_SECONDS),
      workflowUrl,
      workflowBuild,
      logFile,
    });
    cleanups.unshift(() => page.stop());
    say(`  Page:      ${page.url}`);

    const flood = options.flood ? await startFlood(startJob, queue) : undefined;
    const jobId = await startJob({ quantity: QUANTITY, prompt: PROMPT });
    const workflowLink = workflowUrl(jobId) ?? `workflow ${workflowIdForJob(jobId)}`;
    say();
    say(`Job ${jobId}: ${QUANTITY} variations of assets/sample.png, pushed onto ${queue.keys.pending}`);
    say(`Watch it on the demo page: ${page.url}/?job=${jobId}`);
    say(`or in the Temporal Web UI: ${workflowLink}`);
    say();

    const status = await showProgress(pool, jobId, stop.signal);
    say();
    if (flood) await reportFlood(pool, jobId, flood);
    await printResults(
      pool,
      jobId,
      (objectPath) =>
        localStorage?.fileOf(workerConfig.storage.bucket, objectPath) ??
        `${objectPath} in the bucket ${workerConfig.storage.bucket}`,
    );
    say(`Workflow: ${workflowLink}`);
    if (options.once || stop.signal.aborted) return status === 'completed' ? 0 : 1;

    say();
    say(`The worker, bridge and page keep serving: start more jobs on ${page.url}. Ctrl-C stops everything.`);
    await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    return 0;
  } finally {
    say('Shutting down what the demo started…');
    for (const cleanup of cleanups)
      await cleanup().catch((error: Error) => say(`  (while shutting down: ${error.message})`));
  }
}

/** The Temporal dev server with its Web UI, unless something answers on its port; state kept in .data/temporal/. */
async function ensureTemporal(): Promise<Service> {
  if (await isListening(PORTS.temporal)) return alreadyRunning('Temporal');
  const cliPath = setupScript('temporal-cli.sh');
  if (!cliPath) throw new Error('no Temporal CLI: install Go so set-up can build it, or set TEMPORAL_CLI_PATH');
  mkdirSync(path.join(DATA_DIR, 'temporal'), { recursive: true });
  const server = await startDevServerProcess({
    cliPath,
    port: PORTS.temporal,
    uiPort: PORTS.ui,
    dbFile: path.join(DATA_DIR, 'temporal', 'dev.sqlite'),
    logFile: path.join(DATA_DIR, 'temporal.log'),
  });
  return { name: 'Temporal', startedHere: true, stop: server.stop };
}

/** Redis with an append-only file in .data/redis/, so queued ids survive a restart of the demo. */
async function ensureRedis(): Promise<Service> {
  if (await isListening(PORTS.redis)) return alreadyRunning('Redis');
  process.env.REDIS_SERVER_BIN ??= setupScript('redis.sh');
  const redis = await RedisServer.start({
    port: PORTS.redis,
    dataDir: path.join(DATA_DIR, 'redis'),
    logFile: path.join(DATA_DIR, 'redis.log'),
  });
  return { name: 'Redis', startedHere: true, stop: () => redis.stop(true) };
}

/** Draws the row the front end polls until the job ends; returns its final status. */
async function showProgress(pool: Pool, jobId: string, stop: AbortSignal, timeoutMs = 10 * 60_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (!stop.aborted && Date.now() < deadline) {
    const { rows } = await pool.query<{
      job_status: string;
      total_images: number;
      completed_images: number;
      failed_images: number;
    }>('SELECT job_status, total_images, completed_images, failed_images FROM quel_production_jobs WHERE job_id = $1', [
      jobId,
    ]);
    const row = rows[0]!;
    const total = Math.max(row.total_images, 1);
    const filled = Math.round((row.completed_images / total) * 30);
    const line = `[${'#'.repeat(filled)}${'-'.repeat(30 - filled)}] ${row.completed_images}/${row.total_images} images  ${row.failed_images} failed  ${row.job_status}`;
    if (line !== last) process.stdout.write(process.stdout.isTTY ? `\r${line}` : `${line}\n`);
    last = line;
    if (row.job_status === 'completed' || row.job_status === 'failed') {
      if (process.stdout.isTTY) process.stdout.write('\n');
      return row.job_status;
    }
    await sleep(500);
  }
  return stop.aborted ? 'interrupted' : 'timed out';
}

async function printResults(pool: Pool, jobId: string, locate: (objectPath: string) => string): Promise<void> {
  const { rows } = await pool.query<{
    attach_id: number;
    attach_file_path: string;
    attach_file_size: string;
    attach_file_type: string;
  }>(
    `SELECT a.attach_id, a.attach_file_path, a.attach_file_size, a.attach_file_type
       FROM quel_production_jobs j CROSS JOIN LATERAL jsonb_array_elements(j.generated_attach_ids) AS id(value)
       JOIN quel_attach a ON a.attach_id = id.value::int
      WHERE j.job_id = $1 ORDER BY a.attach_id`,
    [jobId],
  );
  say('Generated files:');
  for (const row of rows) say(`  ${locate(row.attach_file_path)}`);
  say('quel_attach rows:');
  console.table(rows);
}

const FLOOD = { userId: 'flood-user', jobs: 20, quantity: 4 };

/**
 * `--flood`: another user pushes a batch of jobs just before the demo's own job, as the front end would for a user
 * who asked for many at once. With fairness (the dev server's dynamic config), the demo's job keeps its pace:
 * Temporal serves the two users' Gemini calls in turn instead of the whole batch first.
 */
async function startFlood(
  startJob: (request: { quantity: unknown; prompt: unknown; userId: string }) => Promise<string>,
  queue: { keys: { pending: string } },
): Promise<{ jobIds: string[] }> {
  const request = { quantity: FLOOD.quantity, prompt: 'A flood of jobs from another user', userId: FLOOD.userId };
  const jobIds: string[] = [];
  for (let i = 0; i < FLOOD.jobs; i++) jobIds.push(await startJob(request));
  say(`Flood: ${FLOOD.userId} pushed ${FLOOD.jobs} jobs of ${FLOOD.quantity} images onto ${queue.keys.pending}`);
  await sleep(1_000);
  return { jobIds };
}

/** How far the flood had got when the demo's job ended: with fairness, not far. */
async function reportFlood(pool: Pool, jobId: string, flood: { jobIds: string[] }): Promise<void> {
  const { rows } = await pool.query<{ done: string; images: string }>(
    `SELECT count(*) FILTER (WHERE job_status IN ('completed', 'failed')) AS done,
            coalesce(sum(completed_images), 0) AS images
       FROM quel_production_jobs WHERE job_id = ANY($1)`,
    [flood.jobIds],
  );
  const { done, images } = rows[0]!;
  say(
    `When job ${jobId} ended, ${done} of ${FLOOD.userId}'s ${flood.jobIds.length} jobs had ended ` +
      `(${images} of their ${flood.jobIds.length * FLOOD.quantity} images made): the two users were served in turn.`,
  );
}

const { values } = parseArgs({
  options: { once: { type: 'boolean', default: false }, flood: { type: 'boolean', default: false } },
});
runEntryPoint(() => main({ once: values.once, flood: values.flood }));
