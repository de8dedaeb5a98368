import type { Client } from '@temporalio/client';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { seedJob, type SeededJob, type Stack } from '../dev/stack';
import { residentMb } from './bench-worker';
import { cpuSeconds, startCpuReading } from './cpu';
import type { Way } from './ways';

/**
 * `jobs` jobs of `quantity` images, seeded first, then started all at once; the seconds from the first start to the
 * last result. Each job is checked afterwards, outside the time. `imageConcurrency` overrides the worker's.
 */
export async function timeJobs(
  stack: Stack,
  client: Client,
  taskQueue: string,
  plan: { jobs: number; quantity: number; source: Buffer; imageConcurrency?: number },
  check: (job: SeededJob) => Promise<void>,
): Promise<number> {
  const { jobs, quantity, source, imageConcurrency } = plan;
  const seeded = await Promise.all(Array.from({ length: jobs }, () => seedJob(stack, { quantity, source })));
  const started = performance.now();
  await Promise.all(
    seeded.map((job) =>
      client.workflow.execute(imageJob, {
        taskQueue,
        ...jobStartOptions(job.jobId),
        args: [{ jobId: job.jobId, imageConcurrency }],
      }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const job of seeded) await check(job);
  return seconds;
}

/** The bench's fleet step: jobs of this many images, Gemini answering each call after this latency. */
export const FLEET_IMAGES_PER_JOB = 4;
export const FLEET_LATENCY_MS = 1_000;

/** What one fleet step measured: its seconds, the CPU seconds of each of the way's processes meanwhile, the worker's. */
export interface FleetResult {
  seconds: number;
  /** By group (the way's, and `stand_ins`: this bench's process, which also runs the stand-ins). */
  cpu: Record<string, number>;
  /** The worker's peak resident memory, and its CPU seconds from its start to the fleet's end. */
  peakMb: number;
  workerCpuSeconds: number;
}

/**
 * The fleet step on a way's worker that has run nothing else (so its peak is the fleet's): `jobs` jobs of 4 images
 * started at once, Gemini answering after 1 s.
 */
export async function runFleet(way: Way, plan: { jobs: number; source: Buffer }): Promise<FleetResult> {
  const reading = startCpuReading(() => ({ ...way.cpuGroups(), stand_ins: [process.pid] }));
  const seconds = await way.runJobs({ ...plan, quantity: FLEET_IMAGES_PER_JOB, latencyMs: FLEET_LATENCY_MS });
  const cpu = reading();
  const pid = way.worker.child.pid!;
  return { seconds, cpu, peakMb: residentMb(pid, 'VmHWM'), workerCpuSeconds: cpuSeconds({ worker: [pid] }).worker! };
}
