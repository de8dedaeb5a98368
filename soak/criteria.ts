import type { Verdict } from '../chaos/invariants';
import type { Sample } from './sampler';
import type { Windows } from './scenario';
import type { TrackedJob } from './traffic';

export interface Criterion {
  name: string;
  passed: boolean;
  /** The figure it was judged on, as printed. */
  figure: string;
}

export interface MemoryFigure {
  process: string;
  /** Which memory is compared: resident, or for PostgreSQL its processes' own (see {@link judgedMemory}). */
  measure: 'rss' | 'uss';
  firstMb: number;
  lastMb: number;
  limitMb: number;
  passed: boolean;
}

/**
 * PostgreSQL is many processes sharing its buffer cache, which fills as the tables grow and is counted again in each
 * backend's RSS: its own (unshared) memory is what a leak would grow. Every other process is judged by its RSS.
 */
export function judgedMemory(process: string): MemoryFigure['measure'] {
  return process === 'postgres' ? 'uss' : 'rss';
}

/**
 * Memory flat: each process's median over the last memory window within 5 % (or 10 MB, whichever is larger) of its
 * median over the first window after the warm-up.
 */
export function memoryFlat(
  samples: readonly Sample[],
  windows: Windows,
  durationS: number,
): { criterion: Criterion; figures: MemoryFigure[] } {
  const figures = memoryFigures(samples, windows, durationS);
  const moved = figures.filter((figure) => !figure.passed).map((figure) => figure.process);
  const share = (f: MemoryFigure) => Math.abs(f.lastMb - f.firstMb) / f.limitMb;
  const closest = [...figures].sort((a, b) => share(b) - share(a))[0];
  const figure = closest
    ? `${moved.length > 0 ? `${moved.join(', ')} moved beyond the limit; ` : ''}closest to its limit: ` +
      `${closest.process} ${closest.firstMb.toFixed(0)} -> ${closest.lastMb.toFixed(0)} MB ` +
      `(limit +-${closest.limitMb.toFixed(0)} MB)`
    : 'no samples';
  return { criterion: { name: 'memory flat', passed: figures.length > 0 && moved.length === 0, figure }, figures };
}

function memoryFigures(samples: readonly Sample[], windows: Windows, durationS: number): MemoryFigure[] {
  const within = (from: number, to: number) => samples.filter((sample) => sample.t >= from && sample.t <= to);
  const first = within(windows.warmUpS, windows.warmUpS + windows.memoryWindowS);
  const last = within(durationS - windows.memoryWindowS, durationS);
  return Object.keys(samples[0]?.memoryMb ?? {}).map((process) => {
    const measure = judgedMemory(process);
    const of = (group: readonly Sample[]) => median(group.map((sample) => sample.memoryMb[process]![measure]));
    const [firstMb, lastMb] = [of(first), of(last)];
    const limitMb = Math.max(0.05 * firstMb, 10);
    return { process, measure, firstMb, lastMb, limitMb, passed: Math.abs(lastMb - firstMb) <= limitMb };
  });
}

export interface LatencyWindow {
  fromS: number;
  toS: number;
  completed: number;
  failed: number;
  /** Seconds from push to `completed`, over the jobs pushed in the window that completed. */
  p50S: number;
  p99S: number;
}

/** The steady jobs by the window they were pushed in: windows of the scenario's length, the last up to the end. */
export function latencyWindows(
  jobs: readonly TrackedJob[],
  startedAt: number,
  windows: Windows,
  durationS: number,
): LatencyWindow[] {
  const count = Math.max(1, Math.floor(durationS / windows.latencyWindowS + 1e-9));
  const length = durationS / count;
  return Array.from({ length: count }, (_, index) => {
    const pushed = jobs.filter((job) => {
      const t = (job.pushedAt - startedAt) / 1000;
      return job.phase === 'steady' && Math.min(count - 1, Math.floor(t / length)) === index;
    });
    const seconds = pushed
      .filter((job) => job.status === 'completed')
      .map((job) => (job.endedAt! - job.pushedAt) / 1000);
    return {
      fromS: index * length,
      toS: (index + 1) * length,
      completed: seconds.length,
      failed: pushed.filter((job) => job.status === 'failed').length,
      p50S: percentile(seconds, 0.5),
      p99S: percentile(seconds, 0.99),
    };
  });
}

/** The slow-down limit: the last window's p99 at most this many times the first window's after the warm-up. */
export const SLOW_DOWN_LIMIT = 1.15;

export function noSlowDown(latency: readonly LatencyWindow[], windows: Windows): Criterion & { ratio: number } {
  const first = latency.find((window) => window.fromS >= windows.warmUpS - 1e-6);
  const last = latency.at(-1);
  if (!first || !last || first === last) {
    return { name: 'no slow-down', passed: false, ratio: NaN, figure: 'too few latency windows after the warm-up' };
  }
  const ratio = last.p99S / first.p99S;
  const figure =
    `p99 ${last.p99S.toFixed(2)} s in the last window against ${first.p99S.toFixed(2)} s in the first after the ` +
    `warm-up: ${ratio.toFixed(2)} x (limit ${SLOW_DOWN_LIMIT} x)`;
  return { name: 'no slow-down', passed: ratio <= SLOW_DOWN_LIMIT, ratio, figure };
}

/** What was left in Redis once every job ended: all three lists should be empty. */
export interface QueueLeft {
  queue: number;
  processing: number;
  deadLetters: number;
}

export function nothingLost(jobs: readonly TrackedJob[], verdict: Verdict, left: QueueLeft): Criterion {
  const broken = verdict.invariants.reduce((sum, invariant) => sum + invariant.broken, 0);
  const checked = verdict.invariants.reduce((sum, invariant) => sum + invariant.checked, 0);
  const ended = verdict.jobsCompleted + verdict.jobsFailed;
  const passed =
    ended === jobs.length &&
    verdict.stuckJobs + verdict.duplicates + verdict.orphans + broken === 0 &&
    left.queue + left.processing + left.deadLetters === 0;
  const figure =
    `${jobs.length} jobs pushed, ${verdict.jobsCompleted} completed, ${verdict.jobsFailed} failed, ` +
    `${verdict.stuckJobs} stuck; ${verdict.duplicates} duplicates, ${verdict.orphans} orphans; ` +
    `invariants ${checked} checked, ${broken} broken; Redis at the end: queue ${left.queue}, ` +
    `processing ${left.processing}, dead letters ${left.deadLetters}`;
  return { name: 'nothing lost', passed, figure };
}

export function median(values: readonly number[]): number {
  return percentile(values, 0.5);
}

/** Nearest rank: the smallest value with at least `share` of them at or below it; NaN for none. */
export function percentile(values: readonly number[], share: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(share * sorted.length) - 1)]!;
}
