import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PNG } from 'pngjs';
import { runNpmScript } from './support/npm-script';

/**
 * `npm run soak -- --minutes 2`: the soak's machinery, not its criteria, which need the lead's long runs (docs/
 * reliability.md). Every sample holds every figure, the latency windows and the plot are there, a verdict is printed
 * with its three criteria, and nothing is lost, which holds however short the run.
 */

interface SoakReport {
  scenario: { minutes: number; workers: number; bridges: number; windows: { scale: number; sampleEveryS: number } };
  capacity: { imagesPerS: number; boundPerS: number };
  jobs: { pushed: number; calibration: number; completed: number; failed: number; stuck: number };
  samples: Array<{
    t: number;
    memoryMb: Record<string, { rss: number; pss: number; uss: number }>;
    heapUsedMb: Record<string, { main: number; all: number }>;
    postgresConnections: { product: number; temporal: number };
    redis: { usedMemoryMb: number; queue: number; processing: number; deadLetters: number };
    jobsInFlight: number;
    jobsPushed: number;
  }>;
  latency_windows: Array<{ completed: number; p50S: number; p99S: number }>;
  criteria: Array<{ name: string; passed: boolean; figure: string }>;
  queue_left: { queue: number; processing: number; deadLetters: number };
  verdict: string;
}

test('npm run soak -- --minutes 2: samples every figure, draws the plot, loses nothing and prints its verdict', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'soak-'));
  const [json, plot] = [path.join(dir, 'soak.json'), path.join(dir, 'soak.png')];
  const { code, output } = await runNpmScript('soak', ['--minutes', '2', '--json', json, '--plot', plot], process.env);

  // 0 for PASS, 1 for FAIL: two minutes are too short for the criteria to mean much, not for the run to end.
  expect({ ended: code === 0 || code === 1, output }).toMatchObject({ ended: true });
  const report = JSON.parse(readFileSync(json, 'utf8')) as SoakReport;
  expect(output).toContain('2 min is shorter than the 25 min the criteria need: windows scaled by 0.08');
  expect(output).toMatch(new RegExp(`^soak: ${report.verdict}$`, 'm'));
  expect(report.scenario).toMatchObject({ minutes: 2, workers: 1, bridges: 1 });

  // Capacity measured, below what the configuration allows at the latencies the burst drew (measured over its middle
  // 60 %, a few dozen calls, whose mean may differ a little from the whole burst's), and a steady load after it.
  expect(report.capacity.imagesPerS).toBeGreaterThan(0);
  expect(report.capacity.imagesPerS).toBeLessThanOrEqual(report.capacity.boundPerS * 1.1);
  expect(report.jobs.pushed - report.jobs.calibration).toBeGreaterThan(10);

  // A sample every 5 s for 2 minutes, and one after the drain; each with every figure, each a number.
  expect(report.samples.length).toBeGreaterThanOrEqual(20);
  for (const sample of report.samples) {
    expect(Object.keys(sample.memoryMb)).toEqual(['worker-1', 'bridge-1', 'temporal', 'postgres', 'redis']);
    for (const memory of Object.values(sample.memoryMb)) {
      expect(memory.rss).toBeGreaterThan(1);
      expect(memory.uss).toBeGreaterThan(0.5);
    }
    expect(Object.keys(sample.heapUsedMb)).toEqual(['worker-1', 'bridge-1']);
    for (const heap of Object.values(sample.heapUsedMb)) {
      expect(heap.main).toBeGreaterThan(1);
      expect(heap.all).toBeGreaterThanOrEqual(heap.main);
    }
    // The worker's workflow threads report their heaps too.
    expect(sample.heapUsedMb['worker-1']!.all).toBeGreaterThan(sample.heapUsedMb['worker-1']!.main);
    expect(sample.postgresConnections.product).toBeGreaterThanOrEqual(0);
    expect(sample.redis.usedMemoryMb).toBeGreaterThan(0);
    for (const figure of [sample.redis.queue, sample.redis.processing, sample.redis.deadLetters, sample.jobsInFlight]) {
      expect(Number.isInteger(figure) && figure >= 0).toBe(true);
    }
  }
  expect(Math.max(...report.samples.map((sample) => sample.postgresConnections.product))).toBeGreaterThan(0);
  expect(Math.max(...report.samples.map((sample) => sample.jobsInFlight))).toBeGreaterThan(0);

  // Five latency windows of 24 s, each with jobs and its percentiles.
  expect(report.latency_windows).toHaveLength(5);
  for (const window of report.latency_windows) {
    expect(window.completed).toBeGreaterThan(0);
    expect(window.p99S).toBeGreaterThanOrEqual(window.p50S);
    expect(window.p50S).toBeGreaterThan(0.5); // at least one Gemini answer's latency
  }

  // Each criterion printed with its figure; nothing lost, whatever the others say of so short a run.
  expect(report.criteria.map((criterion) => criterion.name)).toEqual(['memory flat', 'no slow-down', 'nothing lost']);
  for (const criterion of report.criteria) {
    expect(output).toContain(`${criterion.passed ? 'PASS' : 'FAIL'} ${criterion.name}: ${criterion.figure}`);
  }
  expect(report.criteria[2]).toMatchObject({ passed: true });
  expect(report.jobs.stuck).toBe(0);
  expect(report.jobs.completed + report.jobs.failed).toBe(report.jobs.pushed);
  expect(report.queue_left).toEqual({ queue: 0, processing: 0, deadLetters: 0 });

  // The plot: a PNG of the six charts, not a blank page.
  expect(existsSync(plot)).toBe(true);
  const png = PNG.sync.read(readFileSync(plot));
  expect(png.width).toBeGreaterThan(1000);
  expect(png.height).toBeGreaterThan(800);
  expect(distinctColours(png)).toBeGreaterThan(50);
}, 600_000);

function distinctColours(png: PNG): number {
  const colours = new Set<number>();
  for (let i = 0; i < png.data.length; i += 4) colours.add(png.data.readUInt32BE(i));
  return colours.size;
}
