import { setTimeout as sleep } from 'node:timers/promises';
import type { Pool } from 'pg';
import type { Traffic } from './traffic';

export interface Capacity {
  /** Images a second the fleet made while saturated. */
  imagesPerS: number;
  /** What its configuration allows at most: every Gemini slot busy for the burst's mean latency, or the quota. */
  boundPerS: number;
  jobs: number;
  images: number;
  /** From the burst's push to its last image. */
  seconds: number;
}

/**
 * The fleet's capacity, measured: jobs meant to keep every Gemini slot busy for `seconds` at the configured bound,
 * pushed at once, with the faults on; the rate at which their images end while 20 % to 80 % of them are done, when
 * the fleet is saturated (before, the first workflows are starting; after, the last jobs no longer fill the slots).
 */
export async function measureCapacity(
  traffic: Traffic,
  pool: Pool,
  options: { boundPerS: number; seconds: number },
): Promise<Capacity> {
  const ids: string[] = [];
  let images = 0;
  while (images < options.boundPerS * options.seconds) {
    const job = await traffic.submit('calibration');
    ids.push(job.jobId);
    images += job.quantity;
  }
  const pushedAt = Date.now();
  const progress: Array<{ at: number; done: number }> = [];
  for (let done = 0; done < images;) {
    await sleep(500);
    const { rows } = await pool.query<{ done: string }>(
      `SELECT coalesce(sum(completed_images + failed_images), 0) AS done FROM quel_production_jobs
        WHERE job_id = ANY($1::uuid[])`,
      [ids],
    );
    done = Number(rows[0]!.done);
    progress.push({ at: Date.now(), done });
  }
  const reached = (share: number) => progress.find((point) => point.done >= share * images)!;
  const [from, to] = [reached(0.2), reached(0.8)];
  return {
    imagesPerS: (to.done - from.done) / Math.max(0.5, (to.at - from.at) / 1000),
    boundPerS: options.boundPerS,
    jobs: ids.length,
    images,
    seconds: (progress.at(-1)!.at - pushedAt) / 1000,
  };
}

/**
 * The mean of the Gemini stand-in's latencies drawn since the last reset. The latencies are random, and a burst of a
 * few dozen calls can draw a mean 10 % off the configured one, so the bound a burst is judged by uses its own.
 */
export class ServedLatency {
  private sumMs = 0;
  private count = 0;

  record(ms: number): number {
    this.sumMs += ms;
    this.count += 1;
    return ms;
  }

  reset(): void {
    this.sumMs = 0;
    this.count = 0;
  }

  meanS(): number {
    return this.count === 0 ? NaN : this.sumMs / this.count / 1000;
  }
}
