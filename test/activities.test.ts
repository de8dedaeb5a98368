import { createHash } from 'node:crypto';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DEFAULT_MAX_SOURCE_IMAGE_BYTES, type JobPlan, type StoredImage } from '../src/activities';
import { createGeminiClient, createImageGenerator } from '../src/activities/gemini';
import { createImageStore, createStorageClient } from '../src/activities/storage';
import { Secret } from '../src/process/secret';
import { FailureType } from '../src/contract';
import { noiseJpeg, noisePng } from '../dev/stand-ins/images';
import { insertAttachment } from '../dev/seed';
import { quietLogger } from '../dev/workers';
import { BUCKET, FAKE_GEMINI_KEY, FAKE_SERVICE_KEY, seedJob, startStack, type Stack } from '../dev/stack';
import { failureOf } from './support/application-failure';

/** Each activity against real Postgres and the HTTP doubles, through the real SDKs, run twice where it may be. */

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ geminiTimeoutMs: 1_000 });
});
afterAll(async () => {
  await stack?.stop();
});

const errors: unknown[] = [];
async function run<A extends unknown[], R>(fn: (...args: A) => Promise<R>, ...args: A): Promise<R> {
  try {
    return await new MockActivityEnvironment(undefined, { logger: quietLogger }).run(fn, ...args);
  } catch (error) {
    errors.push(error);
    throw error;
  }
}
async function loadPlan(jobId: string): Promise<JobPlan> {
  const loaded = await run(stack.activities.jobSteps.loadJob, jobId);
  if (loaded.state !== 'ready') throw new Error(`job ${jobId} is ${loaded.state}`);
  return loaded.plan;
}

describe('loadJob', () => {
  test('returns the plan with the source type read from its bytes', async () => {
    const seeded = await seedJob(stack, { quantity: 3, prompt: 'a hat', source: noiseJpeg() });
    expect(await loadPlan(seeded.jobId)).toEqual({
      jobId: seeded.jobId,
      productionId: seeded.productionId,
      prompt: 'a hat',
      quantity: 3,
      userId: seeded.userId,
      restart: false,
      source: { path: seeded.sourcePath, mimeType: 'image/jpeg', size: seeded.sourceBytes.length },
      outputFolder: `generated-images/user-${seeded.userId}`,
      imageConcurrency: 4,
      // The user's fair share of the Gemini queue: its id as the key; its only job, so its 3 calls take one turn.
      priority: { fairnessKey: seeded.userId, fairnessWeight: 3 },
      deadlineSeconds: 3600,
    });
  });

  test("a user's later job takes a turn per call while an older one is pending or processing, and its own once none is", async () => {
    const first = await seedJob(stack, { quantity: 2 });
    const second = await seedJob(stack, { quantity: 4, userId: first.userId });
    const other = await seedJob(stack, { quantity: 4 });
    expect((await loadPlan(first.jobId)).priority).toEqual({ fairnessKey: first.userId, fairnessWeight: 2 });
    expect((await loadPlan(second.jobId)).priority).toEqual({ fairnessKey: first.userId });
    expect((await loadPlan(other.jobId)).priority).toEqual({ fairnessKey: other.userId, fairnessWeight: 4 });

    await stack.db.pool.query(`UPDATE quel_production_jobs SET job_status = 'processing' WHERE job_id = $1`, [
      first.jobId,
    ]);
    expect((await loadPlan(second.jobId)).priority).toEqual({ fairnessKey: first.userId });
    await stack.db.pool.query(`UPDATE quel_production_jobs SET job_status = 'completed' WHERE job_id = $1`, [
      first.jobId,
    ]);
    expect((await loadPlan(second.jobId)).priority).toEqual({ fairnessKey: first.userId, fairnessWeight: 4 });
  });

  test('a completed job is reported as such and not checked again', async () => {
    const seeded = await seedJob(stack, { quantity: 0 });
    await stack.db.pool.query(`UPDATE quel_production_jobs SET job_status = 'completed' WHERE job_id = $1`, [
      seeded.jobId,
    ]);
    expect(await run(stack.activities.jobSteps.loadJob, seeded.jobId)).toEqual({
      state: 'completed',
      jobId: seeded.jobId,
    });
  });

  test('a job that does not exist is JobNotFound', async () => {
    const failure = await failureOf(run(stack.activities.jobSteps.loadJob, '0b7d6a4e-1111-4222-8333-444455556666'));
    expect(failure).toMatchObject({
      type: FailureType.jobNotFound,
      nonRetryable: true,
      message: 'job 0b7d6a4e-1111-4222-8333-444455556666 does not exist',
    });
  });

  test.each([
    ['bad job data', async () => seedJob(stack, { quantity: -1 }), 'quantity must be at least 1'],
    [
      'a source attachment row that does not exist',
      async () => {
        const seeded = await seedJob(stack);
        await stack.db.pool.query(
          `UPDATE quel_production_jobs SET job_input_data = job_input_data || '{"mergedImageAttachId": 987654}' WHERE job_id = $1`,
          [seeded.jobId],
        );
        return seeded;
      },
      'source image attachment 987654 does not exist',
    ],
    [
      'a source object missing from storage',
      async () => {
        const seeded = await seedJob(stack);
        const id = await insertAttachment(stack.db.pool, 'merged-images/nowhere.png');
        await stack.db.pool.query(
          `UPDATE quel_production_jobs SET job_input_data = job_input_data || jsonb_build_object('mergedImageAttachId', $2::int) WHERE job_id = $1`,
          [seeded.jobId, id],
        );
        return seeded;
      },
      'source image merged-images/nowhere.png is missing from storage',
    ],
    [
      'source bytes that are not an image',
      async () => seedJob(stack, { source: Buffer.from('%PDF-1.7 this is a document, not an image') }),
      'source image is not a PNG, JPEG, WebP, HEIC or HEIF image (application/pdf)',
    ],
    [
      'source bytes of no known type',
      async () => seedJob(stack, { source: Buffer.from('hello, world') }),
      'source image is not a PNG, JPEG, WebP, HEIC or HEIF image (no recognisable file type)',
    ],
    [
      'a source above MAX_SOURCE_IMAGE_BYTES',
      async () =>
        seedJob(stack, { source: Buffer.concat([noisePng(8, 8), Buffer.alloc(DEFAULT_MAX_SOURCE_IMAGE_BYTES)]) }),
      `source image is larger than the limit of ${DEFAULT_MAX_SOURCE_IMAGE_BYTES} bytes (MAX_SOURCE_IMAGE_BYTES)`,
    ],
  ])('%s is InvalidJobData with a specific reason', async (_case, seed, reason) => {
    const seeded = await seed();
    const failure = await failureOf(run(stack.activities.jobSteps.loadJob, seeded.jobId));
    expect(failure).toMatchObject({
      type: FailureType.invalidJobData,
      nonRetryable: true,
      message: `job ${seeded.jobId}: ${reason}`,
    });
  });
});

describe('generateImage', () => {
  async function generate(plan: JobPlan, stem: string): Promise<StoredImage> {
    const target = { folder: plan.outputFolder, stem };
    return run(stack.activities.imageGeneration.generateImage, {
      jobId: plan.jobId,
      prompt: plan.prompt,
      source: plan.source,
      target,
    });
  }

  test('asks Gemini with the prompt and the source as it is, and stores the answer as what it really is', async () => {
    const seeded = await seedJob(stack, { prompt: `a "quoted" prompt'); DROP TABLE quel_attach; --` });
    const plan = await loadPlan(seeded.jobId);
    stack.gemini.enqueue({ kind: 'image', mimeType: 'image/jpeg', declaredMimeType: 'image/png', withText: true });
    const before = stack.gemini.requests.length;
    const image = await generate(plan, 'generated_1700000000000_abc123');

    const folder = `generated-images/user-${seeded.userId}`;
    expect(image).toEqual({
      path: `${folder}/generated_1700000000000_abc123.jpg`,
      fileName: 'generated_1700000000000_abc123.jpg',
      mimeType: 'image/jpeg',
      size: stack.storage.get(BUCKET, image.path)!.bytes.length,
    });
    const request = stack.gemini.requests[before]!;
    expect(request).toMatchObject({
      model: 'gemini-2.5-flash-image',
      prompt: `a "quoted" prompt'); DROP TABLE quel_attach; --\n\nPlease generate 1 different variation of this image.`,
      imageMimeType: 'image/png',
      imageBytes: seeded.sourceBytes.length,
      imageSha256: createHash('sha256').update(seeded.sourceBytes).digest('hex'),
      sourceVia: 'url',
    });
    const stored = stack.storage.get(BUCKET, image.path)!;
    expect(stored.contentType).toBe('image/jpeg');
    expect(stored.cacheControl).toBe('max-age=3600');
    expect(createHash('sha256').update(stored.bytes).digest('hex')).toBe(request.answerSha256);
  });

  test('run twice for one target, Gemini is asked once and one object exists', async () => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    const before = stack.gemini.requests.length;
    const first = await generate(plan, 'generated_1700000000001_twice1');
    const second = await generate(plan, 'generated_1700000000001_twice1');
    expect(second).toEqual(first);
    expect(stack.gemini.requests.length - before).toBe(1);
    expect(stack.storage.list(BUCKET, plan.outputFolder)).toEqual([first.path]);
  });

  test('an image whose upload failed is stored by the retry without paying Gemini again', async () => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    const before = stack.gemini.requests.length;
    stack.storage.failNextUploads(1, 503);
    const failure = await failureOf(generate(plan, 'generated_1700000000002_upload'));
    expect(failure).toMatchObject({ type: FailureType.storageUnavailable, nonRetryable: false });
    const image = await generate(plan, 'generated_1700000000002_upload');
    expect(stack.gemini.requests.length - before).toBe(1);
    expect(stack.storage.get(BUCKET, image.path)!.bytes.length).toBe(image.size);
  });

  test('by URL, the worker reads the source only to load the job; each call signs its own URL, outliving it', async () => {
    const seeded = await seedJob(stack);
    const plan = await loadPlan(seeded.jobId);
    const before = stack.gemini.requests.length;
    await Promise.all(['a', 'b', 'c'].map((s) => generate(plan, `generated_1700000000003_shared${s}`)));
    const routes = stack.storage.requests.filter((r) => r.path === seeded.sourcePath).map((r) => r.route);
    expect(routes.filter((route) => route === 'download')).toHaveLength(1);
    expect(routes.filter((route) => route === 'sign')).toHaveLength(3);
    const signings = stack.storage.requests.filter((r) => r.route === 'sign' && r.path === seeded.sourcePath);
    // The stack's Gemini timeout is 1 s: every URL lives past it.
    for (const signing of signings) expect(signing.expiresIn).toBeGreaterThan(1);
    const urls = stack.gemini.requests.slice(before).map((r) => r.fileUri);
    expect(new Set(urls).size).toBe(3);
  });

  describe('a source URL Gemini cannot use: the image is made inline in the same attempt, paid for once', () => {
    async function fallback(stem: string, prepare: (plan: JobPlan, sourcePath: string) => void) {
      const seeded = await seedJob(stack);
      const plan = await loadPlan(seeded.jobId);
      const before = stack.gemini.requests.length;
      const warnings: string[] = [];
      prepare(plan, seeded.sourcePath);
      try {
        const logger = {
          ...quietLogger,
          warn: (message: string, meta?: unknown) => void warnings.push(`${message} ${JSON.stringify(meta)}`),
        };
        const image: StoredImage = await new MockActivityEnvironment(undefined, { logger }).run(
          stack.activities.imageGeneration.generateImage,
          { jobId: plan.jobId, prompt: plan.prompt, source: plan.source, target: { folder: plan.outputFolder, stem } },
        );
        const calls = stack.gemini.requests.slice(before);
        expect(calls.map((c) => [c.sourceVia, c.status])).toEqual([
          ['url', 400],
          ['inline', 200],
        ]);
        expect(calls.filter((c) => c.answerSha256)).toHaveLength(1);
        expect(stack.storage.get(BUCKET, image.path)).toBeDefined();
        // The URL is a credential: its token reaches no log line.
        const token = new URL(calls[0]!.fileUri!).searchParams.get('token')!;
        expect(warnings).toEqual([expect.stringContaining('Gemini could not use the source by its URL')]);
        expect(warnings.join('\n')).not.toContain(token);
        return { call: calls[0]!, inlineSha256: calls[1]!.imageSha256, sourceBytes: seeded.sourceBytes };
      } finally {
        stack.storage.signedUrlLifetimeMs = undefined;
        stack.gemini.failUrlFetches(undefined);
      }
    }

    const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

    test('expired', async () => {
      const made = await fallback('generated_1700000000006_expird', () => (stack.storage.signedUrlLifetimeMs = -1));
      expect(made.call.sourceFailure).toBe('unfetchable');
      expect(made.inlineSha256).toBe(sha(made.sourceBytes));
    });

    test('unreachable', async () => {
      const made = await fallback('generated_1700000000006_unreac', () => stack.gemini.failUrlFetches(() => true));
      expect(made.call.sourceFailure).toBe('unfetchable');
      expect(made.inlineSha256).toBe(sha(made.sourceBytes));
    });

    test('not an image: the bytes Storage holds go inline, for Gemini to judge', async () => {
      const page = Buffer.from('<html>not here</html>');
      const made = await fallback('generated_1700000000006_notimg', (_plan, path) => {
        stack.storage.put(BUCKET, path, page, 'image/png');
      });
      expect(made.call.sourceFailure).toBe('not-an-image');
      expect(made.inlineSha256).toBe(sha(page));
    });
  });

  /** The product's Gemini client on its own, for what it makes of an answer. */
  function geminiWithKey(apiKey: string) {
    const settings = { model: 'gemini-2.5-flash-image', timeoutMs: 1_000 };
    const client = createGeminiClient({
      ...settings,
      apiKey: new Secret(apiKey),
      baseUrl: stack.gemini.baseUrl,
      apiVersion: stack.gemini.apiVersion,
    });
    return createImageGenerator(client, settings);
  }

  test("an answer quoting the URL: the URL and its token are cut out of the failure's message and stack", async () => {
    const gemini = geminiWithKey(FAKE_GEMINI_KEY);
    const url = 'ftp://storage.example/object/sign/attachments/x.png?token=SIGNED-TOKEN-123';
    const failure = await failureOf(
      gemini.generateVariation('a hat', { url, mimeType: 'image/png' }, { imageKey: 'j/s' }),
    );
    expect(failure).toMatchObject({ type: FailureType.geminiSourceUrlUnusable });
    expect(failure.message).toBe(
      'Gemini could not use the source image by its URL: Unsupported file uri: [signed URL]',
    );
    expect(`${failure.message}\n${failure.stack}`).not.toContain('SIGNED-TOKEN-123');
    expect(stack.gemini.requests.at(-1)).toMatchObject({ sourceFailure: 'unsupported-uri', status: 400 });
  });

  test('a rejected API key is not taken for a URL problem', async () => {
    const wrongKey = geminiWithKey('not-the-key');
    const url = 'http://127.0.0.1:9/object/sign/attachments/x.png?token=SIGNED-TOKEN-REJECTED-KEY';
    const failure = await failureOf(
      wrongKey.generateVariation('a hat', { url, mimeType: 'image/png' }, { imageKey: 'job/stem' }),
    );
    expect(failure).toMatchObject({ type: FailureType.geminiRejected, nonRetryable: true });
    expect(failure.message).toMatch(/^Gemini answered 400 INVALID_ARGUMENT: API key not valid/);
  });

  test('a 429 is waited out within the attempt, for as long as the server asked', async () => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    const before = stack.gemini.requests.length;
    stack.gemini.enqueue({ kind: 'rate-limited', retryDelay: '0.4s' }, { kind: 'rate-limited', retryDelay: '0.3s' });
    const image = await generate(plan, 'generated_1700000000004_rate01');
    const calls = stack.gemini.requests.slice(before);
    expect(calls.map((c) => c.status)).toEqual([429, 429, 200]);
    expect(calls[1]!.at - calls[0]!.at).toBeGreaterThanOrEqual(400);
    expect(calls[2]!.at - calls[1]!.at).toBeGreaterThanOrEqual(300);
    expect(stack.storage.get(BUCKET, image.path)).toBeDefined();
  });

  test("429s beyond what one attempt waits out fail it with the server's delay, for Temporal's retry", async () => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    stack.gemini.enqueue(...Array.from({ length: 4 }, () => ({ kind: 'rate-limited', retryDelay: '0.1s' }) as const));
    const failure = await failureOf(generate(plan, 'generated_1700000000004_rate02'));
    expect(failure).toMatchObject({ type: FailureType.geminiRateLimited, nonRetryable: false, nextRetryDelay: 100 });
  });

  test.each([
    [
      { kind: 'server-error', status: 503 } as const,
      FailureType.geminiUnavailable,
      false,
      /^Gemini answered 503 UNAVAILABLE/,
    ],
    [
      { kind: 'server-error', status: 500 } as const,
      FailureType.geminiUnavailable,
      false,
      /^Gemini answered 500 INTERNAL/,
    ],
    [{ kind: 'hang' } as const, FailureType.geminiUnavailable, false, /^Gemini did not answer within 1000 ms$/],
    [
      { kind: 'prompt-blocked', blockReason: 'SAFETY' } as const,
      FailureType.geminiBlocked,
      true,
      /^Gemini blocked the prompt \(SAFETY\)$/,
    ],
    [
      { kind: 'output-blocked', finishReason: 'IMAGE_SAFETY' } as const,
      FailureType.geminiBlocked,
      true,
      /^Gemini blocked the image \(IMAGE_SAFETY\)$/,
    ],
    [{ kind: 'text-only' } as const, FailureType.geminiNoImage, true, /^Gemini answered without an image \(STOP\)$/],
    [
      { kind: 'malformed-base64' } as const,
      FailureType.geminiNoImage,
      true,
      /^Gemini's image part is not a usable image/,
    ],
  ])('Gemini answering %j is %s (non-retryable: %s)', async (behaviour, type, nonRetryable, message) => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    stack.gemini.enqueue(behaviour);
    const stem = `generated_1700000000005_${behaviour.kind.slice(0, 6)}`;
    const failure = await failureOf(generate(plan, stem));
    expect(failure).toMatchObject({ type, nonRetryable });
    expect(failure.message).toMatch(message);
    expect(stack.storage.list(BUCKET, plan.outputFolder)).toEqual([]);
  });

  test('a request Gemini rejects by URL and again inline is GeminiRejected, non-retryable, unpaid', async () => {
    const plan = await loadPlan((await seedJob(stack)).jobId);
    const before = stack.gemini.requests.length;
    stack.gemini.enqueue({ kind: 'invalid-argument' }, { kind: 'invalid-argument' });
    const failure = await failureOf(generate(plan, 'generated_1700000000007_reject'));
    expect(failure).toMatchObject({ type: FailureType.geminiRejected, nonRetryable: true });
    expect(failure.message).toMatch(/^Gemini answered 400 INVALID_ARGUMENT: Unable to process input image/);
    const calls = stack.gemini.requests.slice(before);
    expect(calls.map((c) => [c.sourceVia, c.status, c.answerSha256])).toEqual([
      ['url', 400, undefined],
      ['inline', 400, undefined],
    ]);
  });
});

describe('generateImage with GEMINI_SOURCE_MODE=inline', () => {
  let inline: Stack;
  beforeAll(async () => {
    inline = await startStack({ geminiTimeoutMs: 1_000, sourceMode: 'inline' });
  });
  afterAll(async () => {
    await inline?.stop();
  });

  test('the source is downloaded once per worker for all the images of a job and sent inline, no URL signed', async () => {
    const seeded = await seedJob(inline);
    const loaded = await run(inline.activities.jobSteps.loadJob, seeded.jobId);
    if (loaded.state !== 'ready') throw new Error(`job is ${loaded.state}`);
    const { plan } = loaded;
    await Promise.all(
      ['a', 'b', 'c'].map((s) =>
        run(inline.activities.imageGeneration.generateImage, {
          jobId: plan.jobId,
          prompt: plan.prompt,
          source: plan.source,
          target: { folder: plan.outputFolder, stem: `generated_1700000000008_inline${s}` },
        }),
      ),
    );
    const routes = inline.storage.requests.filter((r) => r.path === seeded.sourcePath).map((r) => r.route);
    expect(routes).toEqual(['download']);
    const sha = createHash('sha256').update(seeded.sourceBytes).digest('hex');
    expect(inline.gemini.requests.map((r) => [r.sourceVia, r.imageSha256])).toEqual(Array(3).fill(['inline', sha]));
  });
});

describe('Storage paths', () => {
  test('a path that is not a plain key inside the bucket is refused before any request is made', async () => {
    const store = createImageStore(
      createStorageClient({ url: stack.storage.url, serviceKey: new Secret(FAKE_SERVICE_KEY), bucket: BUCKET }),
      BUCKET,
    );
    const before = stack.storage.requests.length;
    const path = '../private-bucket/user-victim/photo.png';
    const refusals = await Promise.all([
      failureOf(store.download(path, 1024)),
      failureOf(store.signedUrl(path, 60)),
      failureOf(store.upload(path, Buffer.from('x'), 'image/png')),
      failureOf(store.findByStem('generated-images/../../private-bucket', 'generated_1')),
    ]);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ type: FailureType.storageRejected, nonRetryable: true });
      expect(refusal.message).toMatch(/refused: the path has a \. or \.\. segment, so it is not a plain key/);
    }
    expect(stack.storage.requests.length).toBe(before);
  });

  describe('SOURCE_PATH_PREFIX', () => {
    let prefixed: Stack;
    beforeAll(async () => {
      prefixed = await startStack({ sourcePathPrefix: 'merged-images/user-{userId}/' });
    });
    afterAll(async () => {
      await prefixed?.stop();
    });

    test("a source in the job's user's folder is loaded", async () => {
      const seeded = await seedJob(prefixed);
      expect(seeded.sourcePath.startsWith(`merged-images/user-${seeded.userId}/`)).toBe(true);
      const loaded = await run(prefixed.activities.jobSteps.loadJob, seeded.jobId);
      expect(loaded.state).toBe('ready');
    });

    test("a source in another user's folder fails the job as InvalidJobData before it is read", async () => {
      const victim = await seedJob(prefixed, { userId: 'victim' });
      const seeded = await seedJob(prefixed, { userId: 'attacker' });
      await prefixed.db.pool.query(
        `UPDATE quel_production_jobs SET job_input_data = job_input_data || jsonb_build_object('mergedImageAttachId', $2::int) WHERE job_id = $1`,
        [seeded.jobId, victim.sourceAttachId],
      );
      const before = prefixed.storage.requests.length;
      const failure = await failureOf(run(prefixed.activities.jobSteps.loadJob, seeded.jobId));
      expect(failure).toMatchObject({
        type: FailureType.invalidJobData,
        message:
          `job ${seeded.jobId}: source image attachment ${victim.sourceAttachId} has the path ` +
          `${JSON.stringify(victim.sourcePath)}, outside the job's user's folder merged-images/user-attacker/ ` +
          '(SOURCE_PATH_PREFIX)',
      });
      expect(prefixed.storage.requests.length).toBe(before);
    });
  });
});

describe('a source whose base64 is larger than the 32 MiB the cache otherwise keeps', () => {
  let large: Stack;
  beforeAll(async () => {
    large = await startStack({ geminiTimeoutMs: 10_000, maxSourceBytes: 30 * 1024 * 1024 });
  });
  afterAll(async () => {
    await large?.stop();
  });

  test("url mode's inline fallback downloads it once for all the job's images, and reuses it", async () => {
    // 26 MiB: 35 MiB as base64.
    const source = Buffer.concat([noisePng(8, 8), Buffer.alloc(26 * 1024 * 1024)]);
    const seeded = await seedJob(large, { source });
    const loaded = await run(large.activities.jobSteps.loadJob, seeded.jobId);
    if (loaded.state !== 'ready') throw new Error(`job is ${loaded.state}`);
    const { plan } = loaded;
    large.gemini.failUrlFetches(() => true);
    try {
      await Promise.all(
        ['a', 'b'].map((s) =>
          run(large.activities.imageGeneration.generateImage, {
            jobId: plan.jobId,
            prompt: plan.prompt,
            source: plan.source,
            target: { folder: plan.outputFolder, stem: `generated_1700000000009_large${s}` },
          }),
        ),
      );
    } finally {
      large.gemini.failUrlFetches(undefined);
    }
    const downloads = large.storage.requests.filter((r) => r.path === seeded.sourcePath && r.route === 'download');
    // One to load the job, one for both fallbacks.
    expect(downloads).toHaveLength(2);
    const sha = createHash('sha256').update(source).digest('hex');
    const calls = large.gemini.requests.map((r) => `${r.sourceVia} ${r.imageSha256 === sha ? 'source' : '-'}`);
    expect(calls.sort()).toEqual(['inline source', 'inline source', 'url -', 'url -']);
  }, 60_000);
});

describe('secrets', () => {
  test('no error thrown by any activity in this file mentions a key', () => {
    expect(errors.length).toBeGreaterThan(10);
    for (const error of errors) {
      const text = `${(error as Error).message}\n${(error as Error).stack}\n${JSON.stringify(error)}`;
      expect(text).not.toContain(FAKE_GEMINI_KEY);
      expect(text).not.toContain(FAKE_SERVICE_KEY);
    }
  });

  test('no error thrown by any activity in this file holds a signed URL or its token', () => {
    const tokens = stack.gemini.requests.flatMap((r) =>
      r.fileUri ? [new URL(r.fileUri).searchParams.get('token')!] : [],
    );
    expect(tokens.length).toBeGreaterThan(5);
    for (const error of errors) {
      const text = `${(error as Error).message}\n${(error as Error).stack}\n${JSON.stringify(error)}`;
      for (const token of tokens) expect(text).not.toContain(token);
    }
  });
});
