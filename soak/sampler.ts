import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { memoryOf, type ProcessMemory } from './process-memory';

/** What the soak reads every sampling interval. */
export interface Sample {
  /** Seconds since the steady arrivals began. */
  t: number;
  /** Per process (or group, for PostgreSQL), in MB. */
  memoryMb: Record<string, ProcessMemory>;
  /** V8 heap used per worker and bridge process, in MB: its main thread's, and all its threads' together. */
  heapUsedMb: Record<string, { main: number; all: number }>;
  /** Open connections to the product's database (the soak's own left out) and to Temporal's. */
  postgresConnections: { product: number; temporal: number };
  redis: { usedMemoryMb: number; queue: number; processing: number; deadLetters: number };
  jobsInFlight: number;
  jobsPushed: number;
}

export interface SampleSources {
  /** Each process measured, by name, with its process ids now. */
  processes(): Record<string, number[]>;
  /** The processes that preload the memory reporter, by name, with their process id now. */
  reporters(): Record<string, number | undefined>;
  /** Where the reporters write (soak/memory-reporter.js). */
  heapDir: string;
  /** The soak's own pool, whose connections carry `applicationName`. */
  pool: Pool;
  productDatabase: string;
  applicationName: string;
  redis: Redis;
  queueKeys: { pending: string; processing: string[]; deadLetters: string };
  traffic: { inFlight: number; jobs: readonly unknown[] };
}

/**
 * A sample at `startedAt` and every `everyS` after it, each handed to `onSample`, until `stop()`, which takes a last
 * one and returns them all.
 */
export function sampleEvery(
  sources: SampleSources,
  options: { startedAt: number; everyS: number; onSample: (sample: Sample) => void },
) {
  const samples: Sample[] = [];
  const stopped = new AbortController();
  const take = async () => {
    const sample = await takeSample(sources, (Date.now() - options.startedAt) / 1000);
    samples.push(sample);
    options.onSample(sample);
  };
  const loop = (async () => {
    for (let k = 0; !stopped.signal.aborted; k++) {
      const at = options.startedAt + k * options.everyS * 1000;
      const due = await sleep(Math.max(0, at - Date.now()), true, { signal: stopped.signal }).catch(() => false);
      if (due) await take();
    }
  })();
  return {
    async stop(): Promise<Sample[]> {
      stopped.abort();
      await loop;
      await take();
      return samples;
    },
  };
}

/** A report older than this is from a thread that ended. */
const STALE_REPORT_MS = 10_000;

async function takeSample(sources: SampleSources, t: number): Promise<Sample> {
  const memoryMb = Object.fromEntries(
    Object.entries(sources.processes()).map(([name, pids]) => [name, memoryOf(pids)]),
  );
  const [postgresConnections, redis] = await Promise.all([connections(sources), redisFigures(sources)]);
  return {
    t,
    memoryMb,
    heapUsedMb: heapUsed(sources),
    postgresConnections,
    redis,
    jobsInFlight: sources.traffic.inFlight,
    jobsPushed: sources.traffic.jobs.length,
  };
}

function heapUsed(sources: SampleSources): Sample['heapUsedMb'] {
  const files = readdirSync(sources.heapDir).filter((file) => file.endsWith('.json'));
  const now = Date.now();
  const heaps: Sample['heapUsedMb'] = {};
  for (const [name, pid] of Object.entries(sources.reporters())) {
    const reports = files
      .filter((file) => file.startsWith(`${pid}-`))
      .map((file) => ({ thread: file.slice(`${pid}-`.length, -'.json'.length), ...readReport(sources.heapDir, file) }))
      .filter((report) => now - report.at < STALE_REPORT_MS);
    const mb = (bytes: number) => bytes / 1024 / 1024;
    heaps[name] = {
      main: mb(reports.find((report) => report.thread === '0')?.heapUsed ?? NaN),
      all: mb(reports.reduce((sum, report) => sum + report.heapUsed, 0)),
    };
  }
  return heaps;
}

function readReport(dir: string, file: string): { at: number; heapUsed: number } {
  try {
    return JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as { at: number; heapUsed: number };
  } catch {
    return { at: 0, heapUsed: 0 }; // removed since: stale
  }
}

async function connections(sources: SampleSources): Promise<Sample['postgresConnections']> {
  const { rows } = await sources.pool.query<{ product: string; temporal: string }>(
    `SELECT count(*) FILTER (WHERE datname = $1 AND application_name <> $2) AS product,
            count(*) FILTER (WHERE datname LIKE 'temporal%') AS temporal
       FROM pg_stat_activity WHERE backend_type = 'client backend'`,
    [sources.productDatabase, sources.applicationName],
  );
  return { product: Number(rows[0]!.product), temporal: Number(rows[0]!.temporal) };
}

async function redisFigures(sources: SampleSources): Promise<Sample['redis']> {
  const { redis, queueKeys } = sources;
  const [info, queue, deadLetters, ...processing] = await Promise.all([
    redis.info('memory'),
    redis.llen(queueKeys.pending),
    redis.llen(queueKeys.deadLetters),
    ...queueKeys.processing.map((key) => redis.llen(key)),
  ]);
  const usedMemory = Number(/^used_memory:(\d+)/m.exec(info)?.[1] ?? NaN);
  return {
    usedMemoryMb: usedMemory / 1024 / 1024,
    queue,
    processing: processing.reduce((sum, n) => sum + n, 0),
    deadLetters,
  };
}
