import type { Client } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createJobStore } from '../../src/activities/database';
import { createJobStartPriority } from '../../src/bridge/job-start-priority';
import { jobStartOptions } from '../../src/contract';
import { createLogger } from '../../src/process/logger';
import { imageJob } from '../../src/workflows';
import { runFlood, type FloodJob, type FloodUser } from '../../dev/flood';
import { seedJob, type Stack } from '../../dev/stack';
import { uniqueTaskQueue, withWorkers } from '../../dev/workers';

/** One user's batch against another user's single job, on one worker with two Gemini slots (fairness tests). */
export const SLOTS = 2;
export const HEAVY: FloodUser = { userId: 'heavy-user', jobs: 12, quantity: 2, afterMs: 0 };
// Pushed once the heavy user's calls fill the slots and the rest wait in the Gemini queue's backlog.
export const LIGHT: FloodUser = { userId: 'light-user', jobs: 1, quantity: 2, afterMs: 600 };

/** Runs the flood on a fresh task queue of `temporal`, the workflows started directly; every job's end. */
export async function floodOneWorker(
  temporal: Pick<TestWorkflowEnvironment, 'nativeConnection' | 'namespace'> & { client: Client },
  stack: Stack,
): Promise<FloodJob[]> {
  const taskQueue = uniqueTaskQueue('fairness');
  const latencyBefore = stack.gemini.latencyMs;
  stack.gemini.latencyMs = 300;
  // Each with its user's fairness key, as the bridge starts it.
  const priority = createJobStartPriority(createJobStore(stack.db.pool), {}, createLogger('warn', 'flood'));
  const start = async (jobId: string) =>
    temporal.client.workflow.start(imageJob, {
      taskQueue,
      ...jobStartOptions(jobId),
      priority: await priority(jobId),
      args: [{ jobId }],
    });
  try {
    return await withWorkers(
      temporal,
      taskQueue,
      stack.activities,
      () =>
        runFlood({
          users: [HEAVY, LIGHT],
          pool: stack.db.pool,
          seed: async (userId, quantity) => (await seedJob(stack, { userId, quantity })).jobId,
          push: async (jobIds) => void (await Promise.all(jobIds.map(start))),
          timeoutMs: 60_000,
        }),
      SLOTS,
    );
  } finally {
    stack.gemini.latencyMs = latencyBefore;
  }
}
