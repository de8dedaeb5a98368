import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runNpmScript } from './support/npm-script';

/**
 * `npm run chaos -- --quick`: worker and bridge killed, Redis and Postgres restarted and the doubles failing,
 * while jobs go through; every invariant must hold afterwards. The full run (30 jobs, 3 worker kills) is
 * `npm run chaos`.
 */
test('npm run chaos -- --quick: every invariant holds under killed processes, restarted servers and bad answers', async () => {
  const json = path.join(mkdtempSync(path.join(tmpdir(), 'chaos-')), 'chaos.json');
  const { code, output } = await runNpmScript('chaos', ['--quick', '--seed', '7', '--json', json], process.env);
  expect({ code, output }).toMatchObject({ code: 0 });

  const result = JSON.parse(readFileSync(json, 'utf8')) as {
    jobs: number;
    images: number;
    faults: Record<string, number>;
    invariants_checked: number;
    invariants_broken: number;
    stuck_jobs: number;
    duplicates: number;
    orphans: number;
    ids_lost_with_redis: number;
    jobs_started_by_sweep: number;
  };
  expect(result).toMatchObject({ jobs: 8, images: 24, invariants_broken: 0, stuck_jobs: 0, duplicates: 0, orphans: 0 });
  expect(result.faults).toMatchObject({ worker_sigkill: 1, bridge_sigkill: 1, redis_restart: 1, postgres_restart: 1 });
  // Ids that died with Redis were started by the sweep instead: nothing is lost even then.
  expect(result.jobs_started_by_sweep).toBeGreaterThanOrEqual(result.ids_lost_with_redis);
  // Each job alone yields a dozen checks; fewer would mean parts of the run went unchecked.
  expect(result.invariants_checked).toBeGreaterThan(result.jobs * 12);
}, 300_000);
