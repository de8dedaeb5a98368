import type { DefaultJobOptions, WorkerOptions } from 'bullmq';

/*
 * The BullMQ settings of the bench's peer, as BullMQ's guide recommends them: retries with an exponential backoff,
 * finished jobs removed (a handful kept, failures longer), a worker taking several jobs at once.
 */

/** On the queue: tried 5 times, 2 s after the first failure, then 4, 8, 16 s (the product's Gemini retries). */
export const JOB_OPTIONS: DefaultJobOptions = { attempts: 5, backoff: { type: 'exponential', delay: 2_000 } };

/**
 * On the worker. Jobs at once: enough in hand that the Gemini slots never wait for one to load or finish (16 jobs
 * of 4 images for 16 slots); the slots, not this, bound the calls.
 */
export const WORKER_OPTIONS: Pick<WorkerOptions, 'concurrency' | 'removeOnComplete' | 'removeOnFail'> = {
  concurrency: 16,
  removeOnComplete: { count: 1000 },
  removeOnFail: { count: 5000 },
};

/** A connection to the Redis at `url`; a worker's must retry its blocking commands for ever, as BullMQ requires. */
export function connectionTo(url: string) {
  return { url, maxRetriesPerRequest: null };
}
