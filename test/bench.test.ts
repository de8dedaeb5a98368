import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runNpmScript } from './support/npm-script';

/**
 * `npm run bench -- --quick` proves the harness works end to end, in both source modes. Speed targets live in the
 * benchmark, not here: this asserts only that every job it ran completed once (lost = 0) with nothing duplicated,
 * and that each mode's worker sent the source the way its mode says.
 */
test('npm run bench -- --quick runs the real stack in url and inline mode and loses or duplicates nothing', async () => {
  const json = path.join(mkdtempSync(path.join(tmpdir(), 'bench-')), 'bench.json');
  const { code, output } = await runNpmScript('bench', ['--quick', '--json', json], process.env);
  expect({ code, output }).toMatchObject({ code: 0 });

  const result = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
  // Every job of the quick plan checked in each mode: 2 of 4 images (cap 4 and 1), 3 of 8 images, 12 in the fleet.
  const images = 4 + 4 + 3 * 8 + 12 * 4;
  expect(result).toMatchObject({
    quick: true,
    lost: 0,
    duplicates: 0,
    jobs_checked: 2 + 3 + 12,
    gemini_calls_by_url: images,
    gemini_calls_inline: 0,
    inline_lost: 0,
    inline_duplicates: 0,
    inline_jobs_checked: 2 + 3 + 12,
    inline_gemini_calls_by_url: 0,
    inline_gemini_calls_inline: images,
  });
  for (const prefix of ['', 'inline_']) {
    for (const key of [
      'makespan_n4_s',
      'speedup_n4',
      'overhead_ms_per_image',
      'bridge_vs_bare',
      'fleet_vs_bound',
      'worker_peak_rss_mb',
    ]) {
      expect(result[prefix + key]).toEqual(expect.any(Number));
    }
    // The worker, Temporal and the stand-ins each spend CPU on every image (PostgreSQL's few ms may round to none
    // in /proc's 10 ms ticks), and the total is the sum.
    const groups = ['worker', 'temporal', 'stand_ins', 'postgres'].map((group) => `${prefix}cpu_ms_per_image_${group}`);
    for (const key of groups.slice(0, 3)) expect(result[key]).toBeGreaterThan(0);
    const sum = groups.reduce((total, key) => total + (result[key] as number), 0);
    expect(result[`${prefix}cpu_ms_per_image_total`]).toBeCloseTo(sum, 6);
  }
}, 300_000);

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
