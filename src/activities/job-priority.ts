import { createHash } from 'node:crypto';
import type { Priority } from '@temporalio/common';

/** Temporal refuses a longer fairness key (bytes); a user id may have up to 128 characters. */
const MAX_FAIRNESS_KEY_BYTES = 64;

/**
 * How a job's tasks wait in a backlog against other users' tasks: the user is the fairness key, so Temporal's
 * matching serves the users with tasks waiting in turn (weighted round-robin), not first in, first out, and one
 * user's batch cannot hold everyone else's jobs back. A weight from FAIRNESS_WEIGHTS gives that user a larger (or
 * smaller) share; the default is 1, equal shares.
 *
 * The key is the user id itself where it fits, so an operator reads it as it is in the Web UI and in
 * `temporal task-queue config`; a longer id is hashed to fit.
 */
export function jobPriority(userId: string, weights: Readonly<Record<string, number>>): Priority {
  const fairnessKey =
    Buffer.byteLength(userId) <= MAX_FAIRNESS_KEY_BYTES
      ? userId
      : createHash('sha256').update(userId).digest('base64url');
  const fairnessWeight = weights[userId];
  return fairnessWeight === undefined ? { fairnessKey } : { fairnessKey, fairnessWeight };
}
