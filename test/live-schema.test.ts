import { spawn } from 'node:child_process';
import path from 'node:path';
import { Client } from 'pg';
import { createDatabasePool, createJobStore } from '../src/activities/database';
import { createJobStartPriority } from '../src/bridge/job-start-priority';
import { Secret } from '../src/process/secret';
import { capturedLogger } from './support/log-capture';
import { ROOT } from '../dev/setup-scripts';
import { productionState } from '../dev/seed';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { runJobInWorkerProcess } from './support/job-in-worker-process';

/**
 * The worker on the tables as a live project may have them, not as our migration makes them: counters and id
 * lists that allow NULL and have no defaults, and database roles that hold only what deploy/worker-role.sql and
 * deploy/bridge-role.sql grant.
 */

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ temporal: true });
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const NULLABLE: [table: string, columns: string[]][] = [
  ['quel_production_photo', ['attach_ids', 'generated_image_count']],
  ['quel_production_jobs', ['generated_attach_ids', 'completed_images', 'failed_images']],
];

test('NULL counters and id lists are read as 0 and empty: a job ends with every count and id in place', async () => {
  for (const [table, columns] of NULLABLE) {
    for (const column of columns) {
      await stack.db.pool.query(
        `ALTER TABLE ${table} ALTER COLUMN ${column} DROP NOT NULL, ALTER COLUMN ${column} DROP DEFAULT`,
      );
    }
  }
  const seeded = await seedJob(stack, { quantity: 3 });
  await stack.db.pool.query(
    'UPDATE quel_production_photo SET attach_ids = NULL, generated_image_count = NULL WHERE production_id = $1',
    [seeded.productionId],
  );
  await stack.db.pool.query(
    `UPDATE quel_production_jobs SET generated_attach_ids = NULL, completed_images = NULL, failed_images = NULL
      WHERE job_id = $1`,
    [seeded.jobId],
  );
  const { result, job, rows } = await runJobInWorkerProcess(stack, { seeded });
  expect(result).toMatchObject({ status: 'completed', completedImages: 3, failedImages: 0 });
  expect(rows.job).toMatchObject({ job_status: 'completed', completed_images: 3, failed_images: 0 });
  expect([...rows.job.generated_attach_ids].sort()).toEqual([...result.attachIds].sort());
  expect(rows.production.generated_image_count).toBe(3);
  expect([...rows.production.attach_ids].sort()).toEqual([...result.attachIds].sort());
  expect(await productionState(stack.db.pool, job.productionId)).toMatchObject({ production_status: 'completed' });
}, 60_000);

/** A command fed `input` on standard input, as a shell pipe feeds it; resolves with its exit code and output. */
function piped(command: string, args: string[], input: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('close', (code) => resolve({ code, out }));
    child.stdin.end(input);
  });
}

const SCRAM_VERIFIER = ['-r', 'ts-node/register/transpile-only', 'scripts/scram-verifier.ts'];

test('a worker connected as the role of deploy/worker-role.sql runs a job', async () => {
  const url = new URL(stack.db.url);
  const script = path.join(ROOT, 'deploy', 'worker-role.sql');
  // As operating.md runs it: the password piped into scram-verifier, its verifier piped into psql; neither command
  // line holds either. Twice: it is safe to run again.
  for (let i = 0; i < 2; i++) {
    const verifier = await piped(process.execPath, SCRAM_VERIFIER, 'worker-pw\n');
    expect(verifier).toEqual({ code: 0, out: expect.stringMatching(/^SCRAM-SHA-256\$4096:\S+\$\S+:\S+\n$/) });
    const psqlArgs = [url.toString(), '-q', '-f', script];
    expect(psqlArgs.join(' ')).not.toContain('worker-pw');
    expect(await piped('psql', psqlArgs, verifier.out)).toMatchObject({ code: 0 });
    // The server holds the verifier as it was sent (its salt is ours): it was never given the password.
    const { rows } = await stack.db.pool.query<{ rolpassword: string }>(
      "SELECT rolpassword FROM pg_authid WHERE rolname = 'quel_image_worker'",
    );
    expect(rows[0]!.rolpassword).toBe(verifier.out.trim());
  }
  // A password given as it is, instead of its verifier, is refused before anything is changed.
  const cleartext = await piped('psql', [url.toString(), '-q', '-f', script], 'worker-pw\n');
  expect(cleartext.code).not.toBe(0);
  expect(cleartext.out).toContain('standard input must be a SCRAM verifier');
  url.username = 'quel_image_worker';
  url.password = 'worker-pw';
  const { result, rows, attachments } = await runJobInWorkerProcess(stack, { env: { DATABASE_URL: url.toString() } });
  expect(result).toMatchObject({ status: 'completed', completedImages: 2 });
  expect(rows.job.job_status).toBe('completed');
  expect(attachments).toHaveLength(2);

  // And it holds nothing more: it cannot delete, nor create jobs.
  const asWorker = new Client({ connectionString: url.toString() });
  await asWorker.connect();
  try {
    await expect(asWorker.query('DELETE FROM quel_attach')).rejects.toThrow('permission denied for table quel_attach');
    await expect(
      asWorker.query(`INSERT INTO quel_production_jobs (job_id, production_id, job_input_data)
                      VALUES (gen_random_uuid(), gen_random_uuid(), '{}')`),
    ).rejects.toThrow('permission denied for table quel_production_jobs');
    await expect(asWorker.query('UPDATE quel_attach SET attach_file_size = 0')).rejects.toThrow('permission denied');
  } finally {
    await asWorker.end();
  }
}, 60_000);

test("the role of deploy/bridge-role.sql reads a job's user, and nothing more", async () => {
  const url = new URL(stack.db.url);
  const verifier = await piped(process.execPath, SCRAM_VERIFIER, 'bridge-pw\n');
  expect(
    await piped('psql', [url.toString(), '-q', '-f', path.join(ROOT, 'deploy', 'bridge-role.sql')], verifier.out),
  ).toMatchObject({ code: 0 });
  url.username = 'quel_image_bridge';
  url.password = 'bridge-pw';
  const pool = createDatabasePool({ url: new Secret(url.toString()), poolMax: 1 });
  const { log, lines } = capturedLogger('bridge');
  try {
    const seeded = await seedJob(stack, { userId: 'granted-user' });
    expect(await createJobStartPriority(createJobStore(pool), {}, log)(seeded.jobId)).toEqual({
      fairnessKey: 'granted-user',
    });
    expect(lines).toEqual([]);
    await expect(pool.query('SELECT job_status FROM quel_production_jobs')).rejects.toThrow('permission denied');
    await expect(pool.query('SELECT 1 FROM quel_attach')).rejects.toThrow('permission denied');
    await expect(pool.query('UPDATE quel_production_jobs SET job_input_data = NULL')).rejects.toThrow(
      'permission denied',
    );
  } finally {
    await pool.end();
  }
});
