import 'dotenv/config';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client as PgClient, Pool } from 'pg';
import pino from 'pino';
import { createDatabasePool } from '../../src/activities/database';
import { createImageStore, createStorageClient } from '../../src/activities/storage';
import { runBridge } from '../../src/bridge';
import { createJobQueue } from '../../src/bridge/queue';
import { loadBridgeConfig, loadWorkerConfig } from '../../src/config';
import { abortOnSignals, runEntryPoint } from '../../src/entry-point';
import { createLogger } from '../../src/logger';
import { applyMigrations } from '../migrate';
import { SEARCH_ATTRIBUTES, workflowIdForJob } from '../../src/contract';
import { lazyClient, registerSearchAttributes } from '../../src/temporal';
import { installTemporalRuntime, runWorker } from '../../src/worker/worker';
import { startLocalStorage } from '../stand-ins/folder-storage';
import { startOfflineImageGenerator } from '../stand-ins/offline-gemini';
import { createSampleJob } from './sample-job';
import { DATA_DIR, ensurePostgres, ensureRedis, ensureTemporal, type Service } from './services';

/**
 * `npm run demo [-- --once]`: the whole product on this machine. Every part that `.env` does not configure is
 * started here (Temporal dev server with its Web UI, Redis, PostgreSQL, a folder standing in for Storage and, with
 * no GEMINI_API_KEY, an offline image generator); then a sample job goes through the front end's path: rows,
 * a push onto Redis, and the polled row drawn as a progress bar.
 */

const PORTS = {
  temporal: 7233,
  ui: 8233,
  redis: 6379,
  postgres: Number(process.env.QUEL_PG_PORT ?? 54329),
  storage: 54380,
  gemini: 54381,
};
const QUANTITY = Number(process.env.DEMO_QUANTITY ?? 4);
const PROMPT = process.env.DEMO_PROMPT ?? 'The same scene at another time of day, in another season';
const say = (line = '') => process.stdout.write(`${line}\n`);

async function main(once: boolean): Promise<number> {
  mkdirSync(DATA_DIR, { recursive: true });
  const env: Record<string, string | undefined> = { ...process.env };
  const cleanups: Array<() => Promise<void>> = [];
  const services: Service[] = [];
  try {
    say('Starting the image-job demo: every part that .env does not configure runs on this machine.');

    let embeddedDatabase = false;
    if (!env.DATABASE_URL) {
      const postgres = await ensurePostgres(PORTS.postgres);
      services.push(postgres);
      env.DATABASE_URL = await demoDatabase(postgres.adminUrl);
      embeddedDatabase = true;
    }
    if (!env.SUPABASE_URL || !env.SUPABASE_SERVICE_ROLE_KEY) {
      const storage = await startLocalStorage({ root: path.join(DATA_DIR, 'storage'), port: PORTS.storage });
      cleanups.push(storage.stop);
      Object.assign(env, { SUPABASE_URL: storage.url, SUPABASE_SERVICE_ROLE_KEY: 'local-demo-storage' });
      say(`  Storage:   the folder ${path.join(DATA_DIR, 'storage')} (bucket ${env.STORAGE_BUCKET ?? 'attachments'})`);
    } else {
      say(`  Storage:   Supabase Storage of ${env.SUPABASE_URL}`);
    }
    if (!env.GEMINI_API_KEY) {
      const generator = await startOfflineImageGenerator({
        port: PORTS.gemini,
        latencyMs: Number(env.DEMO_GEMINI_LATENCY_MS ?? 1500),
      });
      cleanups.push(generator.stop);
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
    }
    let uiUrl = env.TEMPORAL_UI_URL;
    if (!env.TEMPORAL_ADDRESS) {
      services.push(
        await ensureTemporal(
          PORTS.temporal,
          PORTS.ui,
          SEARCH_ATTRIBUTES.map((key) => key.name),
        ),
      );
      env.TEMPORAL_ADDRESS = `127.0.0.1:${PORTS.temporal}`;
      uiUrl ??= `http://localhost:${PORTS.ui}`;
    }
    if (!env.REDIS_URL) {
      services.push(await ensureRedis(PORTS.redis));
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
    const log = createLogger(workerConfig.logLevel, 'demo', pino.destination({ dest: logFile, sync: false }));
    installTemporalRuntime(log.child({ component: 'worker' }), workerConfig.metricsBindAddress);
    say(`  Logs:      ${logFile}`);

    const client = lazyClient(workerConfig.temporal);
    await registerSearchAttributes(client, workerConfig.temporal.namespace);
    const pool = createDatabasePool(workerConfig.database);
    cleanups.unshift(() => pool.end());
    if (embeddedDatabase) await applyMigrations(pool);

    const stop = abortOnSignals();
    const serving = Promise.all([
      runWorker(workerConfig, log.child({ component: 'worker' }), stop.signal),
      runBridge(bridgeConfig, log.child({ component: 'bridge' }), stop.signal),
    ]);
    cleanups.unshift(async () => {
      stop.abort();
      await serving;
      await client.connection.close();
    });

    const storage = createImageStore(createStorageClient(workerConfig.storage), workerConfig.storage.bucket);
    const job = await createSampleJob(pool, storage, { quantity: QUANTITY, prompt: PROMPT });
    const queue = createJobQueue(bridgeConfig.queue);
    await queue.push(job.jobId);
    queue.close();
    const workflowLink = uiUrl
      ? `${uiUrl}/namespaces/${workerConfig.temporal.namespace}/workflows/${workflowIdForJob(job.jobId)}`
      : `workflow ${workflowIdForJob(job.jobId)}`;
    say();
    say(`Job ${job.jobId}: ${QUANTITY} variations of assets/sample.png, pushed onto ${queue.keys.pending}`);
    say(`Watch it in the Temporal Web UI: ${workflowLink}`);
    say();

    const status = await showProgress(pool, job.jobId, stop.signal);
    say();
    await printResults(pool, job.jobId, (objectPath) =>
      env.SUPABASE_URL?.startsWith('http://127.0.0.1:' + PORTS.storage)
        ? path.join(DATA_DIR, 'storage', workerConfig.storage.bucket, objectPath)
        : `${workerConfig.storage.url}/storage/v1/object/public/${workerConfig.storage.bucket}/${objectPath}`,
    );
    say(`Workflow: ${workflowLink}`);
    if (once || stop.signal.aborted) return status === 'completed' ? 0 : 1;

    say();
    say(
      'The worker and bridge keep serving: push more jobs with `npm run enqueue -- <jobId>`. Ctrl-C stops everything.',
    );
    await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
    return 0;
  } finally {
    say('Shutting down what the demo started…');
    for (const cleanup of cleanups)
      await cleanup().catch((error: Error) => say(`  (while shutting down: ${error.message})`));
  }
}

/** A database of its own on the project's PostgreSQL, created once and kept between runs. */
async function demoDatabase(adminUrl: string): Promise<string> {
  const admin = new PgClient({ connectionString: adminUrl });
  await admin.connect();
  const { rowCount } = await admin.query(`SELECT 1 FROM pg_database WHERE datname = 'quel_demo'`);
  if (!rowCount) await admin.query('CREATE DATABASE quel_demo');
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = '/quel_demo';
  return url.toString();
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

runEntryPoint(() => main(parseArgs({ options: { once: { type: 'boolean', default: false } } }).values.once));
