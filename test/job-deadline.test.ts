import { jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { freePort } from '../dev/ports';
import { spawnService } from '../dev/processes';
import { jobState } from '../dev/seed';
import { seedJob, startStack, workerEnvironment, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { eventually } from './support/eventually';

/**
 * A job that cannot finish, run by a worker process as deployed: JOB_DEADLINE_SECONDS ends its images, the row is
 * finished by the status policy all the same, the worker counts it on the metric to alert on, and its run carries the
 * 24-hour backstop every start gives it.
 */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ temporal: true });
});
afterAll(async () => {
  await stack?.stop();
});

test('a Gemini call that never answers: the deadline ends it, the job finishes with what it has, and is counted', async () => {
  const metricsPort = await freePort();
  const taskQueue = uniqueTaskQueue('deadline');
  const worker = spawnService('worker', {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...workerEnvironment(stack),
    JOB_DEADLINE_SECONDS: '5',
    METRICS_BIND_ADDRESS: `127.0.0.1:${metricsPort}`,
  });
  try {
    await Promise.race([worker.started, worker.exited.then(() => Promise.reject(new Error(worker.output())))]);
    const job = await seedJob(stack, { quantity: 2 });
    stack.gemini.enqueue({ kind: 'image' }, { kind: 'hang' });
    const handle = await stack.temporal!.client.workflow.start(imageJob, {
      taskQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId }],
    });
    const result = await handle.result();

    expect(result).toMatchObject({ status: 'completed', totalImages: 2, completedImages: 1, failedImages: 1 });
    expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
      job_status: 'completed',
      completed_images: 1,
      failed_images: 1,
      completed_at: expect.any(Date),
    });
    // Ended by the deadline, not by Gemini's own timeout (120 s): the run took about the deadline.
    const { startTime, closeTime, raw } = await handle.describe();
    const seconds = (closeTime!.getTime() - startTime.getTime()) / 1000;
    expect(seconds).toBeGreaterThanOrEqual(5);
    expect(seconds).toBeLessThan(30);
    expect(Number(raw.executionConfig?.workflowRunTimeout?.seconds)).toBe(24 * 60 * 60);
    expect(worker.output()).toContain('job deadline passed: images not made by then count as failed');

    const metrics = await eventually(async () => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      return /^image_jobs_past_deadline\{/m.test(text) && text;
    }, 'the job to be counted past its deadline');
    expect(metrics).toMatch(/^image_jobs_past_deadline\{[^}]*\} 1$/m);
  } finally {
    worker.child.kill('SIGTERM');
    await worker.exited;
  }
}, 120_000);
