import { ScheduleAlreadyRunning, type Client, type ScheduleOptions } from '@temporalio/client';
import type { sweepStalePendingJobs } from '../workflows';

export const SWEEP_BATCH_LIMIT = 100;

export function sweepScheduleId(taskQueue: string): string {
  return `${taskQueue}-stale-pending-sweep`;
}

/**
 * Creates the sweep's Schedule, or brings an existing one up to this config: every bridge calls it at start,
 * so the interval and age follow the config of the bridge deployed last.
 */
export async function ensureSweepSchedule(
  client: Client,
  settings: { taskQueue: string; everySeconds: number; staleAfterSeconds: number },
): Promise<string> {
  const scheduleId = sweepScheduleId(settings.taskQueue);
  const options = {
    scheduleId,
    spec: { intervals: [{ every: `${settings.everySeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'sweepStalePendingJobs',
      taskQueue: settings.taskQueue,
      args: [{ staleAfterSeconds: settings.staleAfterSeconds, limit: SWEEP_BATCH_LIMIT }] as Parameters<
        typeof sweepStalePendingJobs
      >,
    },
    // A slow sweep is not run twice at once; the next tick simply waits its turn.
    policies: { overlap: 'SKIP' },
  } satisfies ScheduleOptions;
  try {
    await client.schedule.create(options);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule
      .getHandle(scheduleId)
      .update((previous) => ({ ...previous, spec: options.spec, action: options.action }));
  }
  return scheduleId;
}
