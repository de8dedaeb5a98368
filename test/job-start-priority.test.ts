import { randomUUID } from 'node:crypto';
import { createDatabasePool, createJobStore } from '../src/activities/database';
import { EQUAL_SHARES, jobPriority } from '../src/activities/job-priority';
import { createJobStartPriority } from '../src/bridge/job-start-priority';
import { Secret } from '../src/process/secret';
import { capturedLogger } from './support/log-capture';
import { createTestDatabase, type LocalDatabase } from '../dev/database';
import { freePort } from '../dev/ports';
import { insertJob, insertProduction } from '../dev/seed';

/** The bridge's read of a job's user, and the priority its workflow starts with, against the real database. */

let db: LocalDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db?.drop();
});

async function jobWithInput(input: unknown): Promise<string> {
  return insertJob(db.pool, await insertProduction(db.pool), input);
}

const WEIGHTS = { 'heavy-payer': 3 };
const priorityOf = (jobId: string) =>
  createJobStartPriority(createJobStore(db.pool), WEIGHTS, capturedLogger('bridge').log)(jobId);
const keyOf = async (jobId: string) => (await priorityOf(jobId))?.fairnessKey;
const input = (userId: unknown) => ({ prompt: 'p', quantity: 2, userId, mergedImageAttachId: 1 });

test("a job's key is its user, as its Gemini calls carry it, a long id hashed alike", async () => {
  expect(await keyOf(await jobWithInput(input('user-a')))).toBe('user-a');
  expect(await keyOf(await jobWithInput(input(42)))).toBe('42');
  const long = 'u'.repeat(100);
  const key = await keyOf(await jobWithInput(input(long)));
  expect(key).not.toBe(long);
  expect(key).toBe(jobPriority({ userId: long, quantity: 1, oldestActive: false }, EQUAL_SHARES).fairnessKey);
});

test("a user's weight from FAIRNESS_WEIGHTS goes with the key; a user without one has Temporal's default", async () => {
  expect(await priorityOf(await jobWithInput(input('heavy-payer')))).toEqual({
    fairnessKey: 'heavy-payer',
    fairnessWeight: 3,
  });
  expect(await priorityOf(await jobWithInput(input('user-a')))).toEqual({ fairnessKey: 'user-a' });
});

test('a job without a valid user, or without a row, has no key', async () => {
  expect(await keyOf(await jobWithInput({ prompt: 'p', quantity: 2 }))).toBeUndefined();
  expect(await keyOf(await jobWithInput(input('../escape')))).toBeUndefined();
  expect(await keyOf(await jobWithInput('not an object'))).toBeUndefined();
  expect(await keyOf(randomUUID())).toBeUndefined();
});

test('a database that does not answer gives no priority and a warning that names the job, not the URL', async () => {
  const url = `postgres://bridge:S3cret-Passw0rd@127.0.0.1:${await freePort()}/jobs`;
  const pool = createDatabasePool({ url: new Secret(url), poolMax: 1 });
  const { log, lines, text } = capturedLogger('bridge');
  const jobId = randomUUID();
  try {
    expect(await createJobStartPriority(createJobStore(pool), WEIGHTS, log)(jobId)).toBeUndefined();
  } finally {
    await pool.end();
  }
  expect(lines).toEqual([
    expect.objectContaining({ jobId, msg: "reading the job's user failed; its workflow starts without it" }),
  ]);
  expect(text()).not.toContain('S3cret-Passw0rd');
});
