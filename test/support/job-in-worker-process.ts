import { imageJob } from '../../src/workflows';
import { jobStartOptions } from '../../src/contract';
import { spawnService } from '../../dev/processes';
import { attachmentsUnder, jobState, productionState, type JobState } from '../../dev/seed';
import { seedJob, workerEnvironment, type SeededJob, type Stack } from '../../dev/stack';
import { uniqueTaskQueue } from '../../dev/workers';

/**
 * One job run by a worker process (`npm run start:worker`) configured like production, with `env` over the stack's
 * own settings; the workflow started on the stack's Temporal. The job is seeded here unless given. Returns the
 * result and the rows the job left.
 */
export async function runJobInWorkerProcess(
  stack: Stack,
  { env = {}, quantity = 2, seeded }: { env?: Record<string, string>; quantity?: number; seeded?: SeededJob } = {},
) {
  const taskQueue = uniqueTaskQueue('worker-process');
  const worker = spawnService('worker', {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...workerEnvironment(stack),
    ...env,
  });
  try {
    const job = seeded ?? (await seedJob(stack, { quantity }));
    await Promise.race([worker.started, worker.exited.then(() => Promise.reject(new Error(worker.output())))]);
    const result = await stack.temporal!.client.workflow.execute(imageJob, {
      taskQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId }],
    });
    const rows: { job: JobState; production: Awaited<ReturnType<typeof productionState>> } = {
      job: await jobState(stack.db.pool, job.jobId),
      production: await productionState(stack.db.pool, job.productionId),
    };
    const attachments = await attachmentsUnder(stack.db.pool, `generated-images/user-${job.userId}`);
    return { job, result, rows, attachments, output: worker.output() };
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}
