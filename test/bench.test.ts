import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runNpmScript } from './support/npm-script';

/**
 * `npm run bench -- --quick` proves the harness works end to end: the same jobs run three ways (ours, also traced; the
 * pipeline on BullMQ; Temporal's floor), each figure and ratio reported, every job checked. Speed targets live in
 * the benchmark, not here: this asserts only that every job each way ran completed once (lost = 0) with nothing
 * duplicated, that each worker sent the source by URL, and that the figures the ratios come from were measured.
 */
test('npm run bench -- --quick runs the jobs ours, on BullMQ and on the floor, reports every figure and loses or duplicates nothing', async () => {
  const json = path.join(mkdtempSync(path.join(tmpdir(), 'bench-')), 'bench.json');
  const { code, output } = await runNpmScript('bench', ['--quick', '--json', json], process.env);
  expect({ code, output }).toMatchObject({ code: 0 });
  expect(output).toContain('| fleet_vs_bullmq |');

  const result = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
  // The quick plan: a fleet of 12 jobs of 4 images and 2 jobs of 8 at L = 0 each way and size (720 and 64 px; the
  // floor once, the traced way its fleet alone), and ours 2 jobs of 4 more (the makespans with 4 images at once and 1).
  const fleet = { jobs: 12, images: 48 };
  const overhead = { jobs: 2, images: 16 };
  const perSize = { jobs: fleet.jobs + overhead.jobs, images: fleet.images + overhead.images };
  const checked = (jobs: number, images: number) => ({
    jobs_checked: jobs,
    lost: 0,
    duplicates: 0,
    gemini_calls_by_url: images,
    gemini_calls_inline: 0,
  });
  expect(result).toMatchObject({
    environment: { run: 'quick', source_mode: 'url' },
    lost: 0,
    duplicates: 0,
    integrity: {
      ours: checked(2 * perSize.jobs + 2, 2 * perSize.images + 8),
      traced: checked(fleet.jobs, fleet.images),
      bullmq: checked(2 * perSize.jobs, 2 * perSize.images),
      floor: checked(perSize.jobs, 0), // it calls no Gemini
    },
  });

  const stats = result.stats as Record<string, { median: number; min: number; max: number; runs: number }>;
  for (const ratio of [
    'fleet_vs_bullmq',
    'cpu_per_image_vs_bullmq',
    'worker_rss_vs_bullmq',
    'overhead_vs_floor',
    'tracing_cpu_ratio',
    'speedup_n4',
    'bridge_vs_bare',
    'fleet_vs_bullmq_64px',
    'cpu_per_image_vs_bullmq_64px',
    'worker_rss_vs_bullmq_64px',
  ]) {
    expect(result[ratio]).toBeGreaterThan(0);
    expect(stats[ratio]).toMatchObject({ median: result[ratio], runs: 1 });
  }
  expect(Object.keys(result.targets_met as object).sort()).toEqual(
    [
      'fleet_vs_bullmq',
      'cpu_per_image_vs_bullmq',
      'worker_rss_vs_bullmq',
      'overhead_vs_floor',
      'tracing_cpu_ratio',
      'speedup_n4',
      'bridge_vs_bare',
      'lost',
      'duplicates',
    ].sort(),
  );
  // Each way's figures, at each size it ran; its own processes' CPU per image is the sum of theirs over the fleet.
  const ways: Array<[string, string, string[]]> = [
    ['', '', ['worker', 'temporal', 'postgres']],
    ['', '_64px', ['worker', 'temporal', 'postgres']],
    ['traced_', '', ['worker', 'temporal', 'postgres']],
    ['bullmq_', '', ['worker', 'redis', 'postgres']],
    ['bullmq_', '_64px', ['worker', 'redis', 'postgres']],
    ['floor_', '', ['worker', 'temporal']],
  ];
  for (const [prefix, suffix, groups] of ways) {
    const figure = (name: string) => result[`${prefix}${name}${suffix}`] as number;
    expect(figure('fleet_s')).toBeGreaterThanOrEqual(3); // 48 images under 16 slots at L = 1 s
    expect(figure('worker_peak_rss_mb')).toBeGreaterThan(0);
    expect(figure('fleet_cpu_s_worker')).toBeGreaterThan(0);
    expect(figure('fleet_cpu_s_stand_ins')).toEqual(expect.any(Number));
    const own = groups.reduce((sum, group) => sum + figure(`fleet_cpu_s_${group}`), 0);
    expect(figure('fleet_cpu_ms_per_image')).toBeCloseTo((own * 1000) / fleet.images, 1);
    if (prefix !== 'traced_') expect(figure('overhead_ms_per_image')).toBeGreaterThan(0);
  }
  expect(result.traced_spans_per_image).toBeGreaterThan(0); // the traced worker did export its spans
}, 400_000);

test('npm run bench -- --fleet-memory runs the fleet once per variant of the worker settings, and refuses a mistyped one', async () => {
  const variants = ['image', '--max-semi-space-size=8 MALLOC_ARENA_MAX='];
  const args = ['--fleet-memory', '--runs', '1', '--jobs', '2', ...variants.map((variant) => `--variant=${variant}`)];
  const { code, output } = await runNpmScript('bench', args, process.env);
  expect({ code, output }).toMatchObject({ code: 0 });
  const lines = [...output.matchAll(/\[(.+)\] idle (\d+) MB, peak (\d+) MB, CPU ([\d.]+) s, fleet ([\d.]+) s/g)];
  expect(lines.map((line) => line[1])).toEqual(expect.arrayContaining(variants));
  for (const [, , idle, peak, cpu, fleet] of lines) {
    expect(Number(idle)).toBeGreaterThan(0);
    expect(Number(peak)).toBeGreaterThanOrEqual(Number(idle));
    expect(Number(cpu)).toBeGreaterThan(0);
    expect(Number(fleet)).toBeGreaterThanOrEqual(1); // 2 jobs × 4 images under 16 slots: one Gemini latency at least
  }

  const mistyped = await runNpmScript('bench', ['--fleet-memory', '--variant=semi-space 4'], process.env);
  expect(mistyped.code).toBe(1);
  expect(mistyped.output).toContain("a variant's semi-space is neither --flag nor NAME=value");
  expect(mistyped.output).not.toContain('Server:'); // refused before any server started
}, 300_000);

test('npm run bench -- --scale --quick runs 1, 2 and 4 workers on the real cluster and loses or duplicates nothing', async () => {
  const json = path.join(mkdtempSync(path.join(tmpdir(), 'bench-scale-')), 'scale.json');
  const { code, output } = await runNpmScript('bench', ['--scale', '--quick', '--json', json], process.env);
  expect({ code, output }).toMatchObject({ code: 0 });

  const result = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
  // Two overhead jobs (warm-up and one sample) on each engine; 16 images per worker in jobs of 8 for 1, 2, 4 workers.
  expect(result).toMatchObject({ lost: 0, duplicates: 0, jobs: 2 * 2 + 2 + 4 + 8, quick: true });
  for (const key of [
    'scale_images_per_min_w1',
    'scale_images_per_min_w2',
    'scale_images_per_min_w4',
    'scale_2_vs_1',
    'scale_4_vs_1',
    'overhead_ms_per_image_cluster',
    'overhead_ms_per_image_dev',
  ]) {
    expect(result[key]).toEqual(expect.any(Number));
    expect(result[key]).toBeGreaterThan(0);
  }
  expect(Object.keys(result.cpu_seconds_w4 as object)).toEqual(
    expect.arrayContaining(['worker_4', 'temporal_history', 'temporal_frontend', 'postgres']),
  );
}, 300_000);
