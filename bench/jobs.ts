import type { Client } from '@temporalio/client';
import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { seedJob, type SeededJob, type Stack } from '../dev/stack';

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
