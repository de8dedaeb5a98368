/**
 * The bench's samples by figure, run by run, and the ratios of the peers measured in the same run: a ratio is
 * taken within each run (from the median of that run's samples of each side), so the machine's speed at that
 * moment cancels out, then summarised over the runs like any figure.
 */

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export interface Ratio {
  name: string;
  /** Numerator and denominator figures. */
  of: [string, string];
  target?: { at: 'most' | 'least'; value: number };
}

export const RATIOS: Ratio[] = [
  { name: 'fleet_vs_bullmq', of: ['fleet_s', 'bullmq_fleet_s'], target: { at: 'most', value: 1.02 } },
  {
    name: 'cpu_per_image_vs_bullmq',
    of: ['fleet_cpu_ms_per_image', 'bullmq_fleet_cpu_ms_per_image'],
    target: { at: 'most', value: 1.3 },
  },
  {
    name: 'worker_rss_vs_bullmq',
    of: ['worker_peak_rss_mb', 'bullmq_worker_peak_rss_mb'],
    target: { at: 'most', value: 1.5 },
  },
  {
    name: 'overhead_vs_floor',
    of: ['overhead_ms_per_image_64px', 'floor_overhead_ms_per_image'],
    target: { at: 'most', value: 1.3 },
  },
  {
    name: 'tracing_cpu_ratio',
    of: ['traced_fleet_cpu_ms_per_image', 'fleet_cpu_ms_per_image'],
    target: { at: 'most', value: 1.05 },
  },
  { name: 'speedup_n4', of: ['makespan_n4_sequential_s', 'makespan_n4_s'], target: { at: 'least', value: 3 } },
  { name: 'bridge_vs_bare', of: ['bridge_starts_per_s', 'bare_starts_per_s'], target: { at: 'least', value: 0.8 } },
  // The same with 64 px images, where the payload does not hide the orchestration: information, no target.
  { name: 'fleet_vs_bullmq_64px', of: ['fleet_s_64px', 'bullmq_fleet_s_64px'] },
  { name: 'cpu_per_image_vs_bullmq_64px', of: ['fleet_cpu_ms_per_image_64px', 'bullmq_fleet_cpu_ms_per_image_64px'] },
  { name: 'worker_rss_vs_bullmq_64px', of: ['worker_peak_rss_mb_64px', 'bullmq_worker_peak_rss_mb_64px'] },
  { name: 'overhead_vs_bullmq_64px', of: ['overhead_ms_per_image_64px', 'bullmq_overhead_ms_per_image_64px'] },
];

export class Figures {
  private readonly samples: Record<string, number[]> = {};
  private thisRun: Record<string, number[]> = {};

  record(key: string, value: number): void {
    (this.samples[key] ??= []).push(value);
    (this.thisRun[key] ??= []).push(value);
  }

  /** Each ratio whose two sides this run measured, then a new run. */
  endRun(): void {
    const run = this.thisRun;
    for (const { name, of } of RATIOS) {
      const [over, under] = of.map((key) => run[key] && middle(run[key]));
      if (over !== undefined && under !== undefined && under > 0) (this.samples[name] ??= []).push(over / under);
    }
    this.thisRun = {};
  }

  summaries(): Record<string, Summary> {
    return Object.fromEntries(
      Object.entries(this.samples).map(([key, values]) => {
        const sorted = [...values].sort((a, b) => a - b);
        return [key, { median: middle(values), min: sorted[0]!, max: sorted.at(-1)!, runs: values.length }];
      }),
    );
  }
}

/** Whether a ratio's median meets its target. */
export function meets(ratio: Ratio, summary: Summary | undefined): boolean | undefined {
  if (!ratio.target || !summary) return undefined;
  return ratio.target.at === 'most' ? summary.median <= ratio.target.value : summary.median >= ratio.target.value;
}

/** The middle sample (the lower of the two middle ones of an even count). */
function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}
