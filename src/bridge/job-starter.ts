import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { jobStartOptions } from '../contract';
import { inJobSpan } from '../process/tracing';
import type { imageJob } from '../workflows';
import type { JobStartPriority } from './job-start-priority';

export type StartOutcome = 'started' | 'already-running' | 'already-finished';

export interface StartResult {
  outcome: StartOutcome;
  workflowId: string;
  runId: string;
}

export type JobStarter = (jobId: string) => Promise<StartResult>;

/**
 * Starts the job's one workflow. The conflict policy is FAIL rather than USE_EXISTING: both leave a running
 * workflow alone and start nothing, but only FAIL tells the bridge so, which it needs to log what happened.
 * A finished workflow is not run again unless re-running failed ones is allowed (BRIDGE_RERUN_FAILED).
 * With `priority`, the workflow starts with its user's fairness key and weight; without, all starts share one key.
 */
export function createJobStarter(
  client: Client,
  options: { taskQueue: string; rerunFailed: boolean; priority?: JobStartPriority },
): JobStarter {
  return (jobId) => inJobSpan('bridge.startJob', jobId, () => start(jobId));

  async function start(jobId: string): Promise<StartResult> {
    const { workflowId, ...metadata } = jobStartOptions(jobId);
    const priority = await options.priority?.(jobId);
    try {
      const handle = await client.workflow.start<typeof imageJob>('imageJob', {
        taskQueue: options.taskQueue,
        workflowId,
        ...metadata,
        args: [{ jobId }],
        priority,
        workflowIdConflictPolicy: 'FAIL',
        workflowIdReusePolicy: options.rerunFailed ? 'ALLOW_DUPLICATE_FAILED_ONLY' : 'REJECT_DUPLICATE',
      });
      return { outcome: 'started', workflowId, runId: handle.firstExecutionRunId };
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      const existing = await client.workflow.getHandle(workflowId).describe();
      const outcome = existing.status.name === 'RUNNING' ? 'already-running' : 'already-finished';
      return { outcome, workflowId, runId: existing.runId };
    }
  }
}
