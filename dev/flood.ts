import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';

/**
 * Many users sharing one fleet: each user pushes a batch of jobs at its own moment, as the front end does (rows
 * first, then the ids), and every job is watched until its row ends. Shared by the fairness test, the fairness bench
 * and the demo's flood.
 */

export interface FloodUser {
  userId: string;
  jobs: number;
  quantity: number;
  /** When this user pushes, after the first push. */
  afterMs: number;
}

export interface FloodJob {
  userId: string;
  jobId: string;
  /** Wall-clock milliseconds: when the id was pushed, and the row's `completed_at`. */
  pushedAt: number;
  finishedAt: number;
  status: string;
}

export interface FloodOptions {
  users: readonly FloodUser[];
  /** Writes a pending job's rows for `userId` and returns its id. */
  seed: (userId: string, quantity: number) => Promise<string>;
  /** Hands the ids over: onto Redis for the bridge, or straight to Temporal. */
  push: (jobIds: string[]) => Promise<void>;
  pool: Pool;
  timeoutMs?: number;
}

/** Seeds every job first (outside the times), pushes each user's batch on time, and waits for every row to end. */
export async function runFlood(options: FloodOptions): Promise<FloodJob[]> {
  const { users, pool } = options;
  const batches = await Promise.all(
    users.map(async (user) => ({
      user,
      jobIds: await Promise.all(Array.from({ length: user.jobs }, () => options.seed(user.userId, user.quantity))),
    })),
  );
  const pushedAt = new Map<string, number>();
  const start = Date.now();
  const pushes = batches.map(async ({ user, jobIds }) => {
    await sleep(Math.max(0, start + user.afterMs - Date.now()));
    const at = Date.now();
    await options.push(jobIds);
    for (const jobId of jobIds) pushedAt.set(jobId, at);
  });
  await Promise.all(pushes);

  const owners = new Map(batches.flatMap(({ user, jobIds }) => jobIds.map((jobId) => [jobId, user.userId])));
  const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
  for (;;) {
    const { rows } = await pool.query<{ job_id: string; job_status: string; completed_at: Date | null }>(
      'SELECT job_id, job_status, completed_at FROM quel_production_jobs WHERE job_id = ANY($1)',
      [[...owners.keys()]],
    );
    const ended = rows.filter(
      (row) => row.completed_at && (row.job_status === 'completed' || row.job_status === 'failed'),
    );
    if (ended.length === owners.size) {
      return ended.map((row) => ({
        userId: owners.get(row.job_id)!,
        jobId: row.job_id,
        pushedAt: pushedAt.get(row.job_id)!,
        finishedAt: row.completed_at!.getTime(),
        status: row.job_status,
      }));
    }
    if (Date.now() > deadline) throw new Error(`flood: ${owners.size - ended.length} jobs did not end in time`);
    await sleep(200);
  }
}

/** Seconds from a user's push to its last job's end: what that user waited for the whole batch. */
export function userSeconds(jobs: readonly FloodJob[], userId: string): number {
  const own = jobs.filter((job) => job.userId === userId);
  if (own.length === 0) throw new Error(`flood: no job of ${userId}`);
  return (Math.max(...own.map((job) => job.finishedAt)) - Math.min(...own.map((job) => job.pushedAt))) / 1000;
}

/** How many of `heavy`'s jobs ended before `light`'s last one did. */
export function finishedBefore(jobs: readonly FloodJob[], heavy: string, light: string): number {
  const lightEnd = Math.max(...jobs.filter((job) => job.userId === light).map((job) => job.finishedAt));
  return jobs.filter((job) => job.userId === heavy && job.finishedAt < lightEnd).length;
}
