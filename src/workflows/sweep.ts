import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { proxyActivities, setWorkflowOptions, startChild } from '@temporalio/workflow';
import type { JobSteps } from '../activities';
import { jobStartOptions } from '../contract';
import { imageJob } from './image-job';
import { onVersionedWorkers } from './versioning';

export interface SweepInput {
  /** A job `pending` for longer than this has most likely lost its push to the queue. */
  staleAfterSeconds: number;
  /** Jobs started per run at most; the next run takes the rest. */
  limit: number;
}

export interface SweepResult {
  started: string[];
  alreadyHadWorkflow: string[];
}

const { findStalePendingJobs } = proxyActivities<JobSteps>({
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 5 },
});

/**
 * The safety net, run by a Temporal Schedule: starts the workflow of every stale `pending` job that has none.
 * The children are abandoned, so each job runs on as if the bridge had started it.
 */
export async function sweepStalePendingJobs(input: SweepInput): Promise<SweepResult> {
  const jobIds = await findStalePendingJobs({ olderThanSeconds: input.staleAfterSeconds, limit: input.limit });
  const result: SweepResult = { started: [], alreadyHadWorkflow: [] };
  for (const jobId of jobIds) {
    try {
      await startChild(imageJob, {
        ...jobStartOptions(jobId),
        args: [{ jobId }],
        parentClosePolicy: 'ABANDON',
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
      });
      result.started.push(jobId);
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
      result.alreadyHadWorkflow.push(jobId);
    }
  }
  return result;
}

// The sweep moves to the current build at its next task instead of staying on the one that started it: a run lasts
// a moment, and one caught by a deploy (a database step retrying) should not keep an old build's workers needed.
// Its children are not pinned to its build either: each job starts on the current build and is pinned there. The
// price: a change to this code must replay the sweep's histories, so it uses patched() like any unversioned code.
setWorkflowOptions(onVersionedWorkers('AUTO_UPGRADE'), sweepStalePendingJobs);
