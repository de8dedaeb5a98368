import { createHash } from 'node:crypto';
import type { Priority } from '@temporalio/common';

/** Temporal refuses a longer fairness key (bytes); a user id may have up to 128 characters. */
const MAX_FAIRNESS_KEY_BYTES = 64;

/** How the fleet shares the Gemini queue between users. */
export interface FairnessPolicy {
  /** FAIRNESS_WEIGHTS: a weight per user id; anyone else has 1. */
  weights: Readonly<Record<string, number>>;
  /**
   * A user's oldest active job takes one turn for all its calls. Off while a per-user rate is set: Temporal scales a
   * key's rate limit by the task's weight too, so the job's calls would count for less than one call each.
   */
  oldestJobAhead: boolean;
}

export const EQUAL_SHARES: FairnessPolicy = { weights: {}, oldestJobAhead: true };

/** What of a job decides how its Gemini calls wait against other users' calls. */
export interface JobFairness {
  userId: string;
  quantity: number;
  /** No older job of the same user is still pending or processing. */
  oldestActive: boolean;
}

/**
 * How a job's tasks wait in a backlog against other users' tasks: the user is the fairness key, so Temporal's
 * matching serves the users with tasks waiting in turn (weighted round-robin), not first in, first out, and one
 * user's batch cannot hold everyone else's jobs back. A weight from FAIRNESS_WEIGHTS gives that user a larger (or
 * smaller) share; the default is 1, equal shares.
 *
 * Round-robin counts tasks: a user whose job arrives while another user's backlog waits gets every other slot that
 * frees, so its last call waits for the slots its calls and the other user's alternate for. A user's oldest active
 * job therefore weighs its quantity times the user's weight: its calls together take one call's turn, and go ahead
 * of the waiting backlog's next call. The user's later jobs take a turn per call, so a second batch shares equally
 * with the first after one job, and a user alone is served as before (round-robin never leaves a slot idle).
 *
 * The key is {@link fairnessKeyOf} the user.
 */
export function jobPriority(job: JobFairness, policy: FairnessPolicy): Priority {
  const { userId } = job;
  const fairnessKey = fairnessKeyOf(userId);
  const oneTurn = policy.oldestJobAhead && job.oldestActive;
  return withWeight(fairnessKey, (policy.weights[userId] ?? 1) * (oneTurn ? job.quantity : 1));
}

/**
 * A user's priority on the start of a job's workflow (the bridge's): the key and the user's weight alone, so the
 * workflow's tasks share by FAIRNESS_WEIGHTS as its Gemini calls do. No turn for the oldest job: a workflow task is
 * one task, whatever the job's quantity.
 */
export function userPriority(userId: string, weights: FairnessPolicy['weights']): Priority {
  return withWeight(fairnessKeyOf(userId), weights[userId] ?? 1);
}

/** Temporal's default weight is 1; left out then, so a describe shows what was set. */
function withWeight(fairnessKey: string, fairnessWeight: number): Priority {
  return fairnessWeight === 1 ? { fairnessKey } : { fairnessKey, fairnessWeight };
}

/**
 * A user's fairness key, the same on a job's workflow start (the bridge's) and on its Gemini calls: the user id
 * itself where it fits, so an operator reads it as it is in the Web UI and in `temporal task-queue config`; a longer
 * id is hashed to fit.
 */
export function fairnessKeyOf(userId: string): string {
  return Buffer.byteLength(userId) <= MAX_FAIRNESS_KEY_BYTES
    ? userId
    : createHash('sha256').update(userId).digest('base64url');
}
