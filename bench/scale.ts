import { writeFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import type { ServiceProcess } from '../dev/processes';
import { attachmentsUnder, jobState } from '../dev/seed';
import { noisePng } from '../dev/stand-ins/images';
import { startStack, type SeededJob, type Stack } from '../dev/stack';
import { TemporalCluster } from '../dev/temporal-cluster';
import { startTemporal } from '../dev/temporal-dev-server';
import { uniqueTaskQueue } from '../dev/workers';
import { cpuSeconds, postgresPids } from './cpu';
import { startBenchWorker, stopBenchWorker } from './bench-worker';
import { timeJobs } from './jobs';
import { median, round } from './stats';

/**
 * `npm run bench -- --scale [--quick] [--json FILE]`: how the product scales out on the real Temporal cluster. Images
 * per minute with 1, 2 and 4 worker processes of 4 Gemini slots each, Gemini answering in L = 1 s, with 64 px images
 * so that moving the payload does not hide the orchestration; and the per-image overhead on the cluster next to the
 * dev server's. With 4 slots per worker and L = 1 s, N workers can make at most 240 N images a minute.
 */

const SLOTS_PER_WORKER = 4;
const LATENCY_MS = 1_000;
const IMAGES_PER_JOB = 8;
const IMAGE_PX = 64;
const WORKER_COUNTS = [1, 2, 4] as const;
const TARGETS = { scale_2_vs_1: 1.8, scale_4_vs_1: 3.2, cluster_overhead_vs_dev: 1.5 };

interface Engine {
  name: 'dev' | 'cluster';
  address: string;
  client: Client;
}

export async function runScale(options: { quick: boolean; json?: string }): Promise<void> {
  // Images per slot: enough that every slot stays busy well beyond the start-up of the first and last jobs.
  const imagesPerSlot = options.quick ? 4 : 24;
  const overheadJobs = options.quick ? 1 : 3;
  const stack = await startStack({ geminiImageSize: { width: IMAGE_PX, height: IMAGE_PX } });
  const source = noisePng(IMAGE_PX, IMAGE_PX);
  const dev = await startTemporal();
  const cluster = await TemporalCluster.start();
  const connection = await Connection.connect({ address: cluster.address });
  const engines: Record<Engine['name'], Engine> = {
    dev: { name: 'dev', address: dev.address, client: dev.client },
    cluster: {
      name: 'cluster',
      address: cluster.address,
      client: new Client({ connection, namespace: cluster.namespace }),
    },
  };
  const figures: Record<string, number | Record<string, number>> = {};
  const integrity = { jobs: 0, lost: 0, duplicates: 0 };
  const check = async (job: SeededJob) => {
    integrity.jobs += 1;
    const state = await jobState(stack.db.pool, job.jobId);
    if (state.job_status !== 'completed' || state.completed_images !== state.total_images) integrity.lost += 1;
    const rows = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
    integrity.duplicates += Math.max(0, rows.length - state.total_images);
  };
  console.log(
    `bench --scale: ${options.quick ? 'quick' : 'full'} run; cluster up in ` +
      `${((cluster.timings?.totalMs ?? 0) / 1000).toFixed(1)} s`,
  );
  try {
    for (const engine of [engines.dev, engines.cluster]) {
      const taskQueue = uniqueTaskQueue(`overhead-${engine.name}`);
      const [worker] = await startWorkers(stack, engine, taskQueue, 1, 16);
      try {
        stack.gemini.latencyMs = 0;
        const oneJob = () =>
          timeJobs(stack, engine.client, taskQueue, { jobs: 1, quantity: IMAGES_PER_JOB, source }, check);
        await oneJob(); // warm-up: the worker's JIT, the server's caches
        const samples: number[] = [];
        for (let i = 0; i < overheadJobs; i++) samples.push(((await oneJob()) * 1000) / IMAGES_PER_JOB);
        figures[`overhead_ms_per_image_${engine.name}`] = median(samples);
      } finally {
        await stopWorkers([worker!]);
      }
      console.log(`  per-image overhead on the ${engine.name}: ${figures[`overhead_ms_per_image_${engine.name}`]} ms`);
    }
    for (const count of WORKER_COUNTS) {
      const taskQueue = uniqueTaskQueue(`scale-${count}`);
      const workers = await startWorkers(stack, engines.cluster, taskQueue, count, SLOTS_PER_WORKER);
      try {
        stack.gemini.latencyMs = LATENCY_MS;
        const jobs = Math.ceil((count * SLOTS_PER_WORKER * imagesPerSlot) / IMAGES_PER_JOB);
        const pids = processesToMeasure(workers, cluster);
        const cpuBefore = cpuSeconds(pids);
        const benchBefore = process.cpuUsage();
        const seconds = await timeJobs(
          stack,
          engines.cluster.client,
          taskQueue,
          { jobs, quantity: IMAGES_PER_JOB, source },
          check,
        );
        const cpu = difference(cpuSeconds(pids), cpuBefore);
        const bench = process.cpuUsage(benchBefore);
        cpu.bench_and_stand_ins = round((bench.user + bench.system) / 1e6);
        const imagesPerMinute = round(((jobs * IMAGES_PER_JOB) / seconds) * 60);
        figures[`scale_images_per_min_w${count}`] = imagesPerMinute;
        figures[`scale_bound_images_per_min_w${count}`] = (count * SLOTS_PER_WORKER * 60_000) / LATENCY_MS;
        figures[`cpu_seconds_w${count}`] = cpu;
        figures[`scale_makespan_s_w${count}`] = round(seconds);
        console.log(
          `  ${count} worker(s): ${jobs * IMAGES_PER_JOB} images in ${round(seconds)} s = ${imagesPerMinute}/min; ` +
            `CPU s ${JSON.stringify(cpu)}`,
        );
      } finally {
        await stopWorkers(workers);
      }
    }
  } finally {
    await connection.close();
    await Promise.allSettled([cluster.drop(), dev.teardown(), stack.stop()]);
  }
  const rate = (count: number) => figures[`scale_images_per_min_w${count}`] as number;
  figures.scale_2_vs_1 = round(rate(2) / rate(1));
  figures.scale_4_vs_1 = round(rate(4) / rate(1));
  figures.cluster_overhead_vs_dev = round(
    (figures.overhead_ms_per_image_cluster as number) / (figures.overhead_ms_per_image_dev as number),
  );
  report(figures, integrity, options);
}

async function startWorkers(
  stack: Stack,
  engine: Engine,
  taskQueue: string,
  count: number,
  slots: number,
): Promise<ServiceProcess[]> {
  const options = { taskQueue, sourceMode: 'url', slots, temporalAddress: engine.address } as const;
  return Promise.all(Array.from({ length: count }, () => startBenchWorker(stack, options)));
}

async function stopWorkers(workers: ServiceProcess[]): Promise<void> {
  await Promise.all(workers.map(stopBenchWorker));
}

/** Who may take the CPU: each worker, each Temporal service, and PostgreSQL (all of its processes). */
function processesToMeasure(workers: ServiceProcess[], cluster: TemporalCluster): Record<string, number[]> {
  const groups: Record<string, number[]> = {};
  workers.forEach((worker, i) => (groups[`worker_${i + 1}`] = [worker.child.pid!]));
  for (const [service, pid] of Object.entries(cluster.pids())) groups[`temporal_${service}`] = [pid!];
  groups.postgres = postgresPids();
  return groups;
}

function difference(after: Record<string, number>, before: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(after).map(([name, value]) => [name, round(value - (before[name] ?? 0))]));
}

function report(
  figures: Record<string, number | Record<string, number>>,
  integrity: { jobs: number; lost: number; duplicates: number },
  options: { quick: boolean; json?: string },
): void {
  console.log('\n| figure | value | target |\n| --- | ---: | --- |');
  for (const [key, value] of Object.entries(figures)) {
    if (typeof value !== 'number') continue;
    const target = TARGETS[key as keyof typeof TARGETS];
    const met = target === undefined ? '' : key.includes('overhead') ? value <= target : value >= target;
    const verdict =
      target === undefined ? '' : `${key.includes('overhead') ? '≤' : '≥'} ${target} ${met ? 'met' : 'MISSED'}`;
    console.log(`| ${key} | ${value} | ${verdict} |`);
  }
  console.log(`\n${integrity.jobs} jobs checked: ${integrity.lost} lost, ${integrity.duplicates} duplicates`);
  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ quick: options.quick, ...figures, ...integrity }, null, 2) + '\n');
    console.log(`wrote ${options.json}`);
  }
}
