import { ensureSweepSchedule, sweepScheduleId, SWEEP_BATCH_LIMIT } from '../src/bridge/sweep-schedule';
import { workflowIdForJob } from '../src/contract';
import { sweepStalePendingJobs } from '../src/workflows';
import { jobState } from '../dev/seed';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { uniqueTaskQueue, withWorkers } from '../dev/workers';

/** The safety net: a job whose push never reached Redis is found by the sweep and processed once. */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ temporal: true });
});
afterAll(async () => {
  await stack?.stop();
});

async function makeStale(jobId: string): Promise<void> {
  await stack.db.pool.query(
    `UPDATE quel_production_jobs SET created_at = now() - interval '1 hour' WHERE job_id = $1`,
    [jobId],
  );
}

test('starts a stale pending job once, and leaves fresh and finished jobs alone', async () => {
  const stale = await seedJob(stack, { quantity: 1 });
  const fresh = await seedJob(stack, { quantity: 1 });
  const finished = await seedJob(stack, { quantity: 1 });
  await makeStale(stale.jobId);
  await makeStale(finished.jobId);
  await stack.db.pool.query(`UPDATE quel_production_jobs SET job_status = 'completed' WHERE job_id = $1`, [
    finished.jobId,
  ]);

  const taskQueue = uniqueTaskQueue('sweep');
  const sweep = () =>
    stack.temporal!.client.workflow.execute(sweepStalePendingJobs, {
      taskQueue,
      workflowId: `sweep-${Math.random()}`,
      args: [{ staleAfterSeconds: 600, limit: SWEEP_BATCH_LIMIT }],
    });
  await withWorkers(stack.temporal!, taskQueue, stack.activities, async () => {
    expect(await sweep()).toEqual({ started: [stale.jobId], alreadyHadWorkflow: [] });
    await stack.temporal!.client.workflow.getHandle(workflowIdForJob(stale.jobId)).result();
    expect(await jobState(stack.db.pool, stale.jobId)).toMatchObject({ job_status: 'completed', completed_images: 1 });
    // A row still pending although its job has a workflow (one just started has not marked it yet; here it is put
    // back by hand, which needs no race): a second sweep finds the workflow and starts nothing.
    await stack.db.pool.query(`UPDATE quel_production_jobs SET job_status = 'pending' WHERE job_id = $1`, [
      stale.jobId,
    ]);
    expect(await sweep()).toEqual({ started: [], alreadyHadWorkflow: [stale.jobId] });
    expect((await jobState(stack.db.pool, stale.jobId)).job_status).toBe('pending');
  });

  expect((await jobState(stack.db.pool, fresh.jobId)).job_status).toBe('pending');
  await expect(stack.temporal!.client.workflow.getHandle(workflowIdForJob(fresh.jobId)).describe()).rejects.toThrow();
  await expect(
    stack.temporal!.client.workflow.getHandle(workflowIdForJob(finished.jobId)).describe(),
  ).rejects.toThrow();
});

test('the schedule is created once and follows the latest config', async () => {
  const taskQueue = uniqueTaskQueue('schedule');
  const client = stack.temporal!.client;
  expect(await ensureSweepSchedule(client, { taskQueue, everySeconds: 300, staleAfterSeconds: 600 })).toBe(
    sweepScheduleId(taskQueue),
  );
  await ensureSweepSchedule(client, { taskQueue, everySeconds: 120, staleAfterSeconds: 900 });
  const description = await client.schedule.getHandle(sweepScheduleId(taskQueue)).describe();
  expect(description.spec.intervals).toMatchObject([{ every: 120_000 }]);
  expect(description.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'sweepStalePendingJobs',
    taskQueue,
    args: [{ staleAfterSeconds: 900, limit: SWEEP_BATCH_LIMIT }],
  });
  expect(description.policies.overlap).toBe('SKIP');
  await client.schedule.getHandle(sweepScheduleId(taskQueue)).delete();
});
