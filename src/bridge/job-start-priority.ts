import type { Priority } from '@temporalio/common';
import type { JobStore } from '../activities/database';
import { userIdOfJobInput } from '../activities/job-input';
import { userPriority, type FairnessPolicy } from '../activities/job-priority';
import { messageOf } from '../process/errors';
import type { Logger } from '../process/logger';

/** The priority a job's workflow starts with (its user's fairness key and weight), or undefined for none. */
export type JobStartPriority = (jobId: string) => Promise<Priority | undefined>;

/**
 * The job's user, read from its row, as the fairness key of its workflow, with the user's weight from
 * FAIRNESS_WEIGHTS: its workflow tasks then wait in Temporal's backlog by user, as its Gemini calls do, so a light
 * user's job starts (and, after each image, goes on) ahead of a heavy user's queued ones instead of behind all of
 * them. The front end pushes only the id, so this is the one place before the start that can know the user.
 *
 * The key only orders the job against other users' jobs; it never decides whether the job runs. So a row that is
 * missing or holds no valid user, or a database that does not answer, starts the workflow without one (the job's own
 * loading then reports what is wrong with the row), rather than hold the start.
 */
export function createJobStartPriority(
  store: Pick<JobStore, 'findJobInput'>,
  weights: FairnessPolicy['weights'],
  log: Logger,
): JobStartPriority {
  return async (jobId) => {
    try {
      const row = await store.findJobInput(jobId);
      const userId = row && userIdOfJobInput(row.input);
      return userId === undefined ? undefined : userPriority(userId, weights);
    } catch (error) {
      log.warn({ jobId, err: messageOf(error) }, "reading the job's user failed; its workflow starts without it");
      return undefined;
    }
  };
}
