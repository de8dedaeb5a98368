import type { Client } from '@temporalio/client';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import type { ServiceProcess } from '../dev/processes';
import { seedJob, type SeededJob, type Stack } from '../dev/stack';
import { residentMb } from './bench-worker';
import { cpuSeconds } from './cpu';

/**
 * `jobs` jobs of `quantity` images, seeded first, then started all at once; the seconds from the first start to the
 * last result. Each job is checked afterwards, outside the time.
 */
export async function timeJobs(
  stack: Stack,
  client: Client,
  taskQueue: string,
  plan: { jobs: number; quantity: number; source: Buffer },
  check: (job: SeededJob) => Promise<void>,
): Promise<number> {
  const { jobs, quantity, source } = plan;
  const seeded = await Promise.all(Array.from({ length: jobs }, () => seedJob(stack, { quantity, source })));
  const started = performance.now();
  await Promise.all(
    seeded.map((job) =>
      client.workflow.execute(imageJob, { taskQueue, ...jobStartOptions(job.jobId), args: [{ jobId: job.jobId }] }),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const job of seeded) await check(job);
  return seconds;
}

/** The bench's fleet step: jobs of this many images, Gemini answering each call after this latency. */
export const FLEET_IMAGES_PER_JOB = 4;
export const FLEET_LATENCY_MS = 1_000;

/**
 * The fleet step on a worker that already serves (and has run nothing else, so its peak is the fleet's): `jobs` jobs
 * started at once; the seconds to the last result, and the worker's peak resident memory and CPU seconds by then.
 */
export async function runFleet(
  stack: Stack,
  taskQueue: string,
  worker: ServiceProcess,
  plan: { jobs: number; source: Buffer },
  check: (job: SeededJob) => Promise<void>,
): Promise<{ seconds: number; peakMb: number; cpuSeconds: number }> {
  stack.gemini.latencyMs = FLEET_LATENCY_MS;
  const { jobs, source } = plan;
  const seconds = await timeJobs(
    stack,
    stack.temporal!.client,
    taskQueue,
    { jobs, quantity: FLEET_IMAGES_PER_JOB, source },
    check,
  );
  const pid = worker.child.pid!;
  return { seconds, peakMb: residentMb(pid, 'VmHWM'), cpuSeconds: cpuSeconds({ worker: [pid] }).worker! };
}
