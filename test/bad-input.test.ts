import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { temporal } from '@temporalio/proto';
import type { Worker } from '@temporalio/worker';
import type Redis from 'ioredis';
import { DEFAULT_MAX_SOURCE_IMAGE_BYTES } from '../src/activities';
import { createBridge } from '../src/bridge/bridge';
import { createJobStarter } from '../src/bridge/job-starter';
import { createJobQueue, type DeadLetter, type JobQueue } from '../src/bridge/queue';
import { Secret } from '../src/process/secret';
import { FailureType, workflowIdForJob, type ImageJobResult } from '../src/contract';
import { createWorkers, runWorkers } from '../src/worker/worker';
import type { GeminiBehaviour } from '../dev/stand-ins/gemini';
import { noisePng } from '../dev/stand-ins/images';
import { eventually } from './support/eventually';
import { capturedLogger } from './support/log-capture';
import { RedisServer } from '../dev/redis-server';
import {
  attachmentsUnder,
  insertAttachment,
  insertJob,
  insertProduction,
  jobState,
  productionState,
} from '../dev/seed';
import { BUCKET, startStack, type Stack } from '../dev/stack';
import { uniqueTaskQueue, workflowBundle } from '../dev/workers';

/**
 * Every kind of bad input the front end, a user or Gemini can hand the pipeline, each pushed through real Redis
 * to the bridge, run by one real worker on the Temporal dev server against Postgres and the HTTP doubles: each
 * must end with its own reason, and the job pushed right after it must still be served.
 */

/** Not the default of 10, so the limit seen in a reason is the configured one. */
const MAX_IMAGES = 5;
const VARIATION_INSTRUCTION = '\n\nPlease generate 1 different variation of this image.';
const UNSAFE_USER_ID = 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)';
/** Every object the pipeline may hold: the seeded sources, and generated images inside their user's folder. */
const SAFE_OBJECT_PATH =
  /^(merged-images\/source-\d+\.img|generated-images\/user-[A-Za-z0-9_-]{1,128}\/generated_\d{13}_[0-9a-z]{6}\.(png|jpg|webp))$/;

/** Another bucket on the same Storage, holding what a source path must never reach. */
const PRIVATE_BUCKET = 'private-bucket';
const VICTIM_PATH = 'user-victim/photo.png';

let stack: Stack;
let env: TestWorkflowEnvironment;
let redis: RedisServer;
let client: Redis;
let workers: Worker[] = [];
let workersRunning: Promise<void> | undefined;
let queue: JobQueue | undefined;
let bridge: ReturnType<typeof createBridge> | undefined;
let bridgeRunning: Promise<void> | undefined;
const queueKey = `bad-input-${randomUUID()}`;
const bridgeLog = capturedLogger('bridge');
/** What Gemini answers per job, by prompt: jobs run side by side, so a shared queue of answers would mix them. */
const answersByPrompt = new Map<string, GeminiBehaviour[]>();

beforeAll(async () => {
  [stack, redis] = await Promise.all([
    startStack({ temporal: true, maxImagesPerJob: MAX_IMAGES, storageBuckets: [BUCKET, PRIVATE_BUCKET] }),
    RedisServer.start(),
  ]);
  env = stack.temporal!;
  client = redis.client();
  stack.gemini.respondWith(
    ({ prompt }) => answersByPrompt.get(prompt.slice(0, -VARIATION_INSTRUCTION.length))?.shift() ?? { kind: 'image' },
  );
  const taskQueue = uniqueTaskQueue('bad-input');
  workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities: stack.activities,
    maxConcurrentGeminiCalls: 16,
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  workersRunning = runWorkers(workers);
  queue = createJobQueue({ redisUrl: new Secret(redis.url), key: queueKey, pushSide: 'left', bridgeId: 'bad-input' });
  bridge = createBridge({
    queue,
    startJob: createJobStarter(env.client, { taskQueue, rerunFailed: false }),
    log: bridgeLog.log,
    jobIdFormat: 'uuid',
    concurrency: 8,
    stopGraceMs: 5_000,
  });
  bridgeRunning = bridge.run();
});

afterAll(async () => {
  bridge?.stop();
  await bridgeRunning;
  queue?.close();
  for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
  await workersRunning;
  client?.disconnect();
  await Promise.all([redis?.stop(), stack?.stop()]);
});

interface SeededJob {
  jobId: string;
  productionId: string;
  input: Record<string, unknown>;
  sourceBytes: Buffer;
}

let seeded = 0;

/**
 * A production, a source image (object and row) and a pending job whose job_input_data is a valid one with
 * `changes` applied; a change to `undefined` leaves the field out, as JSON does.
 */
async function seedJob(
  changes: Record<string, unknown> = {},
  options: { source?: Buffer; geminiAnswers?: GeminiBehaviour[]; status?: string } = {},
): Promise<SeededJob> {
  const n = ++seeded;
  const sourceBytes = options.source ?? noisePng(24, 16);
  // Neither its name nor its stored content type tells the type: the product must read it from the bytes.
  const sourcePath = `merged-images/source-${n}.img`;
  stack.storage.put(BUCKET, sourcePath, sourceBytes, 'application/octet-stream');
  const sourceAttachId = await insertAttachment(stack.db.pool, sourcePath, sourceBytes.length);
  const productionId = await insertProduction(stack.db.pool);
  const valid = {
    prompt: `job ${n}: make it blue`,
    quantity: 1,
    userId: `user${n}`,
    mergedImageAttachId: sourceAttachId,
  };
  const input = { ...valid, ...changes };
  const jobId = await insertJob(stack.db.pool, productionId, input, { status: options.status });
  if (options.geminiAnswers && typeof input.prompt === 'string')
    answersByPrompt.set(input.prompt, options.geminiAnswers);
  return { jobId, productionId, input, sourceBytes };
}

async function push(...elements: string[]): Promise<void> {
  await client.lpush(queueKey, ...elements);
}

interface Outcome {
  result?: ImageJobResult;
  failure?: ApplicationFailure;
}

async function outcomeOf(jobId: string): Promise<Outcome> {
  const handle = env.client.workflow.getHandle(workflowIdForJob(jobId));
  await eventually(() => handle.describe().then(() => true), `the workflow of job ${jobId} to start`);
  try {
    return { result: await handle.result() };
  } catch (error) {
    if (error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure) {
      return { failure: error.cause };
    }
    throw error;
  }
}

function geminiCallsFor(job: SeededJob): number {
  const source = createHash('sha256').update(job.sourceBytes).digest('hex');
  return stack.gemini.requests.filter((request) => request.imageSha256 === source).length;
}

const outputFolder = (job: SeededJob) => `generated-images/user-${String(job.input.userId)}`;

/** The job pushed right after a bad one: the bridge and the worker must still take it and make its images. */
async function expectServed(job: SeededJob, quantity = 1): Promise<void> {
  const { result, failure } = await outcomeOf(job.jobId);
  expect(failure).toBeUndefined();
  expect(result).toMatchObject({ status: 'completed', totalImages: quantity, completedImages: quantity });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'completed',
    completed_images: quantity,
    failed_images: 0,
  });
  expect(stack.storage.list(BUCKET, `${outputFolder(job)}/`)).toHaveLength(quantity);
}

/** Pushes `job` and a good one after it, and returns how `job` ended once both have. */
async function runThenGood(job: SeededJob, goodQuantity = 1): Promise<Outcome> {
  const good = await seedJob({ quantity: goodQuantity });
  await push(job.jobId, good.jobId);
  const [outcome] = await Promise.all([outcomeOf(job.jobId), expectServed(good, goodQuantity)]);
  return outcome;
}

/** Invalid data: the workflow fails at once with the reason, the row ends `failed`, nothing is asked or stored. */
async function expectInvalid(job: SeededJob, reason: string): Promise<ApplicationFailure> {
  const { result, failure } = await runThenGood(job);
  expect(result).toBeUndefined();
  expect(failure).toMatchObject({
    type: FailureType.invalidJobData,
    nonRetryable: true,
    message: `job ${job.jobId}: ${reason}`,
  });
  expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
    job_status: 'failed',
    completed_images: 0,
    generated_attach_ids: [],
    started_at: null,
    completed_at: expect.any(Date),
  });
  // Never reached `processing`: the production photo is as the front end left it.
  expect(await productionState(stack.db.pool, job.productionId)).toMatchObject({ production_status: 'draft' });
  expect(geminiCallsFor(job)).toBe(0);
  return failure!;
}

/** The reasons of the activities that failed in a job's workflow, as an operator reads them in its history. */
async function activityFailures(jobId: string): Promise<Array<{ activity: string; type: string; message: string }>> {
  const history = await env.client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory();
  const events = history.events ?? [];
  const activityOf = (scheduledEventId: unknown) =>
    events.find((event) => String(event.eventId) === String(scheduledEventId))?.activityTaskScheduledEventAttributes
      ?.activityType?.name ?? '?';
  // A local activity's outcome is a marker, whose details name the activity (as the Web UI shows it).
  const localActivityOf = (marker: temporal.api.history.v1.IMarkerRecordedEventAttributes) => {
    const data = marker.details?.['data']?.payloads?.[0]?.data;
    return data ? (JSON.parse(Buffer.from(data).toString()) as { activity_type: string }).activity_type : '?';
  };
  return events.flatMap((event) => {
    const failed = event.activityTaskFailedEventAttributes;
    const marker = event.markerRecordedEventAttributes;
    const failure = failed?.failure ?? marker?.failure;
    if (!failure) return [];
    return [
      {
        activity: failed ? activityOf(failed.scheduledEventId) : localActivityOf(marker!),
        type: failure.applicationFailureInfo?.type ?? '',
        message: failure.message ?? '',
      },
    ];
  });
}

function bridgeMessages(jobId: string): string[] {
  return bridgeLog.lines.filter((line) => line.jobId === jobId).map((line) => line.msg);
}

describe('queue elements', () => {
  const garbage = randomBytes(7_680).toString('base64');

  test.each([
    ['empty', '', 'element is empty'],
    ['whitespace', ' \t \n ', 'element is empty'],
    ['not an id', 'not-a-job-id', 'job id is not a uuid'],
    ['10 KB of garbage', garbage, 'element is 10240 characters, longer than 1024'],
    ['JSON without an id', '{"prompt": "make it blue", "quantity": 2}', 'JSON element has no job_id or jobId'],
  ])('%s: dead-lettered and logged with its reason, the next id still runs', async (_case, element, reason) => {
    const good = await seedJob();
    await push(element, good.jobId);
    await expectServed(good);
    const letters = await eventually(async () => {
      const all = (await client.lrange(queue!.keys.deadLetters, 0, -1)).map((raw) => JSON.parse(raw) as DeadLetter);
      const mine = all.filter((letter) => letter.element === element);
      return mine.length > 0 && mine;
    }, 'the dead letter');
    expect(letters.map((letter) => letter.reason)).toEqual([reason]);
    const logged = bridgeLog.lines.filter(
      (line) => line.msg === 'queue element dead-lettered' && line.reason === reason,
    );
    expect(logged.map((line) => line.element)).toContain(
      element.length > 120 ? `${element.slice(0, 120)}… (${element.length} characters)` : element,
    );
    // Named in the log by its first 120 characters at most: 10 KB of garbage does not flood it.
    expect(bridgeLog.text()).not.toContain(garbage.slice(0, 121));
    await eventually(async () => (await client.llen(queue!.keys.processing)) === 0, 'the processing list to empty');
  });

  test('an id of no job: started once, the workflow fails with JobNotFound and nothing is written', async () => {
    const jobId = randomUUID();
    const good = await seedJob();
    await push(jobId, good.jobId);
    const [{ result, failure }] = await Promise.all([outcomeOf(jobId), expectServed(good)]);
    expect(result).toBeUndefined();
    expect(failure).toMatchObject({
      type: FailureType.jobNotFound,
      nonRetryable: true,
      message: `job ${jobId} does not exist`,
    });
    expect(bridgeMessages(jobId)).toEqual(['job workflow started']);
    const { rows } = await stack.db.pool.query('SELECT 1 FROM quel_production_jobs WHERE job_id = $1', [jobId]);
    expect(rows).toEqual([]);
    expect(await activityFailures(jobId)).toEqual([
      { activity: 'loadJob', type: FailureType.jobNotFound, message: `job ${jobId} does not exist` },
    ]);
  });

  test('a completed job pushed again: not run a second time, and the bridge logs why', async () => {
    const job = await seedJob();
    await push(job.jobId);
    expect((await outcomeOf(job.jobId)).result).toMatchObject({ status: 'completed', completedImages: 1 });
    const handle = env.client.workflow.getHandle(workflowIdForJob(job.jobId));
    const { runId } = await handle.describe();
    const row = await jobState(stack.db.pool, job.jobId);

    const good = await seedJob();
    await push(job.jobId, good.jobId);
    await expectServed(good);
    await eventually(async () => bridgeMessages(job.jobId).length === 2, 'the second push to be handled');
    expect(bridgeMessages(job.jobId)).toEqual(['job workflow started', 'job workflow already finished; not run again']);
    expect((await handle.describe()).runId).toBe(runId);
    expect(geminiCallsFor(job)).toBe(1);
    expect(await jobState(stack.db.pool, job.jobId)).toEqual(row);
  });

  test('a job completed without a workflow (by an earlier system) pushed: the workflow leaves it alone', async () => {
    const job = await seedJob({}, { status: 'completed' });
    const row = await jobState(stack.db.pool, job.jobId);
    const { result } = await runThenGood(job);
    expect(result).toMatchObject({ status: 'completed', alreadyFinished: true, completedImages: 0 });
    expect(geminiCallsFor(job)).toBe(0);
    expect(await jobState(stack.db.pool, job.jobId)).toEqual(row);
    expect(stack.storage.list(BUCKET, `${outputFolder(job)}/`)).toEqual([]);
  });
});

describe('job_input_data', () => {
  test.each([
    ['no prompt', { prompt: undefined }, 'prompt is missing'],
    ['an empty prompt', { prompt: '' }, 'prompt is empty'],
    ['a prompt of only whitespace', { prompt: ' \n\t ' }, 'prompt is empty'],
    ['quantity 0', { quantity: 0 }, 'quantity must be at least 1'],
    ['quantity -1', { quantity: -1 }, 'quantity must be at least 1'],
    ['quantity 2.5', { quantity: 2.5 }, 'quantity must be a whole number'],
    ['no quantity', { quantity: undefined }, 'quantity is missing'],
  ])('%s: the job fails as InvalidJobData with that reason', async (_case, changes, reason) => {
    await expectInvalid(await seedJob(changes), reason);
  });

  test('a quantity above the cap fails with the configured limit, and a job at the cap runs', async () => {
    const job = await seedJob({ quantity: MAX_IMAGES + 1 });
    const good = await seedJob({ quantity: MAX_IMAGES });
    await push(job.jobId, good.jobId);
    const [{ failure }] = await Promise.all([outcomeOf(job.jobId), expectServed(good, MAX_IMAGES)]);
    expect(failure).toMatchObject({
      type: FailureType.invalidJobData,
      message: `job ${job.jobId}: quantity is above the limit of ${MAX_IMAGES} images per job`,
    });
    expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({ job_status: 'failed', completed_images: 0 });
    expect(geminiCallsFor(job)).toBe(0);
  });

  test('quantity "3" (a digit string) is accepted: three images made and counted', async () => {
    const job = await seedJob({ quantity: '3' });
    const { result } = await runThenGood(job);
    expect(result).toMatchObject({ status: 'completed', totalImages: 3, completedImages: 3, failedImages: 0 });
    expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
      job_status: 'completed',
      total_images: 3,
      completed_images: 3,
      failed_images: 0,
    });
    expect(stack.storage.list(BUCKET, `${outputFolder(job)}/`)).toHaveLength(3);
    expect(geminiCallsFor(job)).toBe(3);
  });

  test('a prompt with quotes and SQL is stored and sent to Gemini unchanged, and the tables stay intact', async () => {
    const prompt = `Make it "vintage", it's 'sepia'); DROP TABLE quel_attach; -- ' OR '1'='1; DELETE FROM quel_production_jobs; /* \\ */`;
    const job = await seedJob({ prompt, quantity: 2 });
    const { result } = await runThenGood(job);
    expect(result).toMatchObject({ status: 'completed', completedImages: 2 });
    const { rows } = await stack.db.pool.query<{ prompt: string }>(
      `SELECT job_input_data->>'prompt' AS prompt FROM quel_production_jobs WHERE job_id = $1`,
      [job.jobId],
    );
    expect(rows).toEqual([{ prompt }]);
    const sent = stack.gemini.requests.filter((request) => request.prompt.includes('DROP TABLE'));
    expect(sent.map((request) => request.prompt)).toEqual([
      prompt + VARIATION_INSTRUCTION,
      prompt + VARIATION_INSTRUCTION,
    ]);
    const tables = await stack.db.pool.query<{ jobs: string; attachments: string }>(
      `SELECT (SELECT count(*) FROM quel_production_jobs) AS jobs, (SELECT count(*) FROM quel_attach) AS attachments`,
    );
    // Every job and source seeded so far is still there, and the two new images are recorded.
    expect(Number(tables.rows[0]!.jobs)).toBe(seeded);
    expect(Number(tables.rows[0]!.attachments)).toBeGreaterThanOrEqual(seeded + 2);
    expect(await attachmentsUnder(stack.db.pool, outputFolder(job))).toHaveLength(2);
  });
});

describe('user ids that must not become a storage path', () => {
  async function expectUnsafeUserId(job: SeededJob): Promise<void> {
    const failure = await expectInvalid(job, UNSAFE_USER_ID);
    // The value itself stays out of the reason: no control bytes, no 500-character dump.
    expect(failure.message).not.toContain(String(job.input.userId));
    expect([...failure.message].filter((char) => char < ' ')).toEqual([]);
    expect(failure.message.length).toBeLessThan(200);
    expect(stack.storage.list(BUCKET).filter((path) => !SAFE_OBJECT_PATH.test(path))).toEqual([]);
    const writes = stack.storage.requests.filter((request) => request.route === 'upload' || request.route === 'update');
    expect(writes.filter((request) => !SAFE_OBJECT_PATH.test(request.path ?? ''))).toEqual([]);
  }

  test.each([
    ['climbing out with ../', '../../merged-images/victim'],
    ['holding a /', 'alice/../bob'],
    ['500 characters long', 'u'.repeat(500)],
    ['of non-ASCII letters', 'Jürgen_Ødegård_ユーザー'],
  ])('a user id %s: InvalidJobData naming userId, readable, and nothing stored anywhere', async (_case, userId) => {
    await expectUnsafeUserId(await seedJob({ userId, quantity: 2 }));
  });

  test('a user id holding a NUL byte: InvalidJobData naming userId, readable, and nothing stored anywhere', async () => {
    const job = await seedJob({ userId: 'placeholder', quantity: 2 });
    // Without its NUL this id would be valid: the rejection is the NUL's.
    job.input.userId = 'alice\u0000bob';
    // Postgres' jsonb refuses NUL (\u0000); a json column keeps it, so this job's data is held in one.
    const pool = stack.db.pool;
    await pool.query('ALTER TABLE quel_production_jobs ALTER COLUMN job_input_data TYPE json');
    try {
      await pool.query('UPDATE quel_production_jobs SET job_input_data = $2::json WHERE job_id = $1', [
        job.jobId,
        JSON.stringify(job.input),
      ]);
      const { rows } = await pool.query<{ raw: string }>(
        'SELECT job_input_data::text AS raw FROM quel_production_jobs WHERE job_id = $1',
        [job.jobId],
      );
      expect((JSON.parse(rows[0]!.raw) as { userId: string }).userId).toBe('alice\u0000bob');
      await expectUnsafeUserId(job);
    } finally {
      await pool.query(
        `ALTER TABLE quel_production_jobs ALTER COLUMN job_input_data TYPE jsonb
           USING replace(job_input_data::text, '\\u0000', '')::jsonb`,
      );
    }
  });
});

describe('mergedImageAttachId (the source image)', () => {
  test('missing', async () => {
    await expectInvalid(
      await seedJob({ mergedImageAttachId: undefined }),
      'mergedImageAttachId (the source image) is missing',
    );
  });

  test('of no row', async () => {
    const { rows } = await stack.db.pool.query<{ next: number }>(
      'SELECT max(attach_id) + 1000 AS next FROM quel_attach',
    );
    const attachId = rows[0]!.next;
    await expectInvalid(
      await seedJob({ mergedImageAttachId: attachId }),
      `source image attachment ${attachId} does not exist`,
    );
  });

  test('of no row, beyond the range of the integer column', async () => {
    await expectInvalid(
      await seedJob({ mergedImageAttachId: 3_000_000_000 }),
      'source image attachment 3000000000 does not exist',
    );
  });

  test('whose object is missing from storage', async () => {
    const path = `merged-images/missing-${randomUUID()}.png`;
    const attachId = await insertAttachment(stack.db.pool, path, 1234);
    await expectInvalid(
      await seedJob({ mergedImageAttachId: attachId }),
      `source image ${path} is missing from storage`,
    );
  });

  test('whose bytes are not an image', async () => {
    await expectInvalid(
      await seedJob({}, { source: Buffer.from('%PDF-1.7\n% a document, not an image\n') }),
      'source image is not a PNG, JPEG, WebP, HEIC or HEIF image (application/pdf)',
    );
  });

  test('larger than MAX_SOURCE_IMAGE_BYTES (20 MiB by default)', async () => {
    const source = Buffer.concat([noisePng(8, 8), Buffer.alloc(DEFAULT_MAX_SOURCE_IMAGE_BYTES)]);
    await expectInvalid(
      await seedJob({}, { source }),
      `source image is larger than the limit of ${DEFAULT_MAX_SOURCE_IMAGE_BYTES} bytes (MAX_SOURCE_IMAGE_BYTES)`,
    );
  });
});

describe('source paths that are not a plain key inside the bucket', () => {
  /** The path as the URL parser would resolve it: where the request would have gone, service key and all. */
  const requestsFor = (attachPath: string) => {
    const object = `/storage/v1/object/${BUCKET}/`;
    const resolved = new URL(object + attachPath, 'http://storage.example').pathname;
    return stack.storage.requests.filter((request) =>
      [object + attachPath, resolved].some((path) => request.pathname === path || request.pathname.endsWith(path)),
    );
  };

  test.each([
    ['climbing into another bucket', `../${PRIVATE_BUCKET}/${VICTIM_PATH}`, 'has a . or .. segment'],
    ['climbing out from a folder', `merged-images/../../${PRIVATE_BUCKET}/${VICTIM_PATH}`, 'has a . or .. segment'],
    ['climbing with backslashes', `..\\${PRIVATE_BUCKET}\\${VICTIM_PATH}`, 'holds \\'],
    ['percent-encoded dots', `%2e%2e/${PRIVATE_BUCKET}/${VICTIM_PATH}`, 'holds %'],
    ['starting with /', `/${PRIVATE_BUCKET}/${VICTIM_PATH}`, 'starts with /'],
    ['a query', 'merged-images/photo.png?download=1', 'holds ?'],
    ['a fragment', 'merged-images/photo.png#x', 'holds #'],
    ['a . segment', 'merged-images/./photo.png', 'has a . or .. segment'],
    ['an empty segment', 'merged-images//photo.png', 'has an empty segment'],
    ['a control character', 'merged-images/photo\n.png', 'holds a control character'],
    ['1025 bytes long', `merged-images/${'a'.repeat(1011)}`, 'is longer than 1024 bytes'],
  ])('%s: InvalidJobData before any Storage or Gemini call', async (_case, attachPath, problem) => {
    stack.storage.put(PRIVATE_BUCKET, VICTIM_PATH, noisePng(16, 16), 'image/png');
    const attachId = await insertAttachment(stack.db.pool, attachPath, 1234);
    const shown = attachPath.length > 120 ? `${attachPath.slice(0, 120)}…` : attachPath;
    await expectInvalid(
      await seedJob({ mergedImageAttachId: attachId }),
      `source image attachment ${attachId} has the path ${JSON.stringify(shown)}, which ${problem}: not a plain key inside the bucket`,
    );
    expect(requestsFor(attachPath)).toEqual([]);
  });

  test('the same path inside the bucket is served: the refusal is the path, not the object', async () => {
    const attachPath = `${PRIVATE_BUCKET}/${VICTIM_PATH}`;
    stack.storage.put(BUCKET, attachPath, noisePng(16, 16), 'image/png');
    const attachId = await insertAttachment(stack.db.pool, attachPath, 1234);
    const { result } = await runThenGood(await seedJob({ mergedImageAttachId: attachId }));
    expect(result).toMatchObject({ status: 'completed', completedImages: 1 });
    expect(requestsFor(attachPath).map((request) => request.route)).toContain('download');
  });
});

describe("Gemini's answers", () => {
  test.each([
    ['text only', { kind: 'text-only' }, FailureType.geminiNoImage, 'Gemini answered without an image (STOP)'],
    [
      'the prompt blocked for safety',
      { kind: 'prompt-blocked', blockReason: 'SAFETY' },
      FailureType.geminiBlocked,
      'Gemini blocked the prompt (SAFETY)',
    ],
    [
      'the image blocked for safety',
      { kind: 'output-blocked', finishReason: 'IMAGE_SAFETY' },
      FailureType.geminiBlocked,
      'Gemini blocked the image (IMAGE_SAFETY)',
    ],
    [
      'malformed base64',
      { kind: 'malformed-base64' },
      FailureType.geminiNoImage,
      "Gemini's image part is not a usable image (declared image/png, found no recognisable file type)",
    ],
    [
      'a GIF (a type the product cannot store)',
      { kind: 'image', mimeType: 'image/gif' },
      FailureType.geminiNoImage,
      "Gemini's image part is not a usable image (declared image/gif, found image/gif)",
    ],
  ] as Array<[string, GeminiBehaviour, string, string]>)(
    '%s for one image: it counts as failed with its reason, the other two are made',
    async (_case, answer, type, reason) => {
      const job = await seedJob({ quantity: 3 }, { geminiAnswers: [answer] });
      const { result } = await runThenGood(job);
      expect(result).toMatchObject({ status: 'completed', totalImages: 3, completedImages: 2, failedImages: 1 });
      expect(await jobState(stack.db.pool, job.jobId)).toMatchObject({
        job_status: 'completed',
        total_images: 3,
        completed_images: 2,
        failed_images: 1,
      });
      expect(await productionState(stack.db.pool, job.productionId)).toMatchObject({
        production_status: 'completed',
        generated_image_count: 2,
      });
      expect(await activityFailures(job.jobId)).toEqual([{ activity: 'generateImage', type, message: reason }]);
      // Not retried: one call per image, and only the two good answers stored and recorded.
      expect(geminiCallsFor(job)).toBe(3);
      expect(stack.storage.list(BUCKET, `${outputFolder(job)}/`)).toHaveLength(2);
      expect(await attachmentsUnder(stack.db.pool, outputFolder(job))).toHaveLength(2);
    },
  );

  test('an image declared PNG whose bytes are JPEG is stored and recorded as the JPEG it is', async () => {
    const job = await seedJob(
      { quantity: 2 },
      { geminiAnswers: [{ kind: 'image', mimeType: 'image/jpeg', declaredMimeType: 'image/png' }] },
    );
    const { result } = await runThenGood(job);
    expect(result).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 0 });
    const rows = await attachmentsUnder(stack.db.pool, outputFolder(job));
    const jpeg = rows.filter((row) => row.attach_file_type === 'image/jpeg');
    expect(jpeg).toHaveLength(1);
    expect(jpeg[0]!.attach_file_name).toMatch(/\.jpg$/);
    const object = stack.storage.get(BUCKET, jpeg[0]!.attach_file_path)!;
    expect(object.contentType).toBe('image/jpeg');
    expect(object.bytes.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
  });
});

test('no Storage request of this file left the bucket, and none reached the private one', () => {
  expect(stack.storage.requests.length).toBeGreaterThan(50);
  const inBucket = new RegExp(`^/storage/v1/object/((list|sign|info|public|authenticated)/)?${BUCKET}(/|$)`);
  expect(stack.storage.requests.filter((request) => !inBucket.test(request.pathname))).toEqual([]);
  expect(stack.storage.requests.filter((request) => request.bucket !== BUCKET)).toEqual([]);
});
