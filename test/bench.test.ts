import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runNpmScript } from './support/npm-script';

/**
 * `npm run bench -- --quick` proves the harness works end to end. Speed targets live in the benchmark, not here:
 * this asserts only that every job it ran completed once (lost = 0) with nothing duplicated.
 */
test('npm run bench -- --quick runs the real stack and loses or duplicates nothing', async () => {
  const json = path.join(mkdtempSync(path.join(tmpdir(), 'bench-')), 'bench.json');
  const { code, output } = await runNpmScript('bench', ['--quick', '--json', json], process.env);
  expect({ code, output }).toMatchObject({ code: 0 });

  const result = JSON.parse(readFileSync(json, 'utf8')) as Record<string, unknown>;
  // Every job of the quick plan checked: 2 of 4 images (cap 4 and 1), 3 of 8 images, 12 in the fleet.
  expect(result).toMatchObject({ lost: 0, duplicates: 0, jobs_checked: 2 + 3 + 12, quick: true });
  for (const key of [
    'makespan_n4_s',
    'speedup_n4',
    'overhead_ms_per_image',
    'bridge_vs_bare',
    'fleet_vs_bound',
    'worker_peak_rss_mb',
  ]) {
    expect(typeof result[key]).toBe('number');
  }
}, 300_000);
