import { setTimeout as sleep } from 'node:timers/promises';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import type { SubmittedJob } from '../chaos/invariants';
import { seedJob } from '../dev/seed';
import { BUCKET } from '../dev/stack';
import { noisePng } from '../dev/stand-ins/images';
import type { StorageStandIn } from '../dev/stand-ins/storage';
import type { Scenario } from './scenario';

export interface TrackedJob extends SubmittedJob {
  /** The capacity burst at the start, or the steady arrivals the criteria judge. */
  phase: 'calibration' | 'steady';
  pushedAt: number;
  /** The row's `completed_at` once the job ended, in milliseconds. */
  endedAt?: number;
  status?: string;
}

interface TrafficOptions {
  pool: Pool;
  storage: StorageStandIn;
  pusher: Redis;
  queueKey: string;
  scenario: Scenario;
  random: () => number;
  /** Names the run's users, so two runs' folders never mix. */
  runId: string;
}

/**
 * The soak's jobs: each from a user drawn at random, with a quantity drawn from the scenario's range, submitted as
 * the front end does (the source object and the rows first, then the id onto Redis), and followed until its row ends.
 */
export class Traffic {
  readonly jobs: TrackedJob[] = [];
  private readonly open = new Map<string, TrackedJob>();
  private readonly lastProductionOf = new Map<string, string>();
  private readonly source: Buffer;

  constructor(private readonly options: TrafficOptions) {
    this.source = noisePng(options.scenario.imagePx, options.scenario.imagePx);
  }

  get inFlight(): number {
    return this.open.size;
  }

  async submit(phase: TrackedJob['phase']): Promise<TrackedJob> {
    const { pool, storage, pusher, queueKey, scenario, random, runId } = this.options;
    const n = this.jobs.length;
    const userId = `soak${runId}u${Math.floor(random() * scenario.users)}`;
    const { min, max } = scenario.quantity;
    const quantity = min + Math.floor(random() * (max - min + 1));
    // A third of a user's jobs go to its previous job's production, so that jobs running at once append to one row.
    const previous = this.lastProductionOf.get(userId);
    const seeded = await seedJob(pool, (path, bytes, type) => storage.put(BUCKET, path, bytes, type), {
      userId,
      quantity,
      prompt: `soak job ${n}`,
      source: this.source,
      sourcePath: `merged-images/user-${userId}/merged_${n}.png`,
      productionId: previous && random() < 1 / 3 ? previous : undefined,
    });
    this.lastProductionOf.set(userId, seeded.productionId);
    await pusher.lpush(queueKey, seeded.jobId);
    const job = {
      jobId: seeded.jobId,
      productionId: seeded.productionId,
      userId,
      quantity,
      phase,
      pushedAt: Date.now(),
    };
    this.jobs.push(job);
    this.open.set(job.jobId, job);
    return job;
  }

  /** Arrivals at `perSecond` on average, each gap drawn as a Poisson process's, until `untilMs`. */
  async arrive(perSecond: number, untilMs: number): Promise<void> {
    for (let next = Date.now(); ;) {
      next += (-Math.log(1 - this.options.random()) / perSecond) * 1000;
      if (next >= untilMs) return;
      await sleep(Math.max(0, next - Date.now()));
      await this.submit('steady');
    }
  }

  /** Reads the open jobs' rows every second while `going()` holds; each that ended gets its end and status. */
  async follow(going: () => boolean): Promise<void> {
    while (going()) {
      await this.refresh();
      await sleep(1_000);
    }
  }

  async refresh(): Promise<void> {
    if (this.open.size === 0) return;
    const { rows } = await this.options.pool.query<{ job_id: string; job_status: string; completed_at: Date }>(
      `SELECT job_id, job_status, completed_at FROM quel_production_jobs
        WHERE job_id = ANY($1::uuid[]) AND job_status IN ('completed', 'failed') AND completed_at IS NOT NULL`,
      [[...this.open.keys()]],
    );
    for (const row of rows) {
      const job = this.open.get(row.job_id)!;
      job.endedAt = row.completed_at.getTime();
      job.status = row.job_status;
      this.open.delete(row.job_id);
    }
  }
}
