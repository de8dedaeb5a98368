import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities, type Activities } from '../src/activities';
import { createJobStore } from '../src/activities/database';
import { createGeminiClient, createImageGenerator } from '../src/activities/gemini';
import { createImageStore, createStorageClient } from '../src/activities/storage';
import { Secret } from '../src/config';
import { GeminiDouble } from './stand-ins/gemini';
import { noisePng } from './stand-ins/images';
import { StorageDouble } from './stand-ins/storage';
import { createTestDatabase, type TestDatabase } from './database';
import { insertAttachment, insertJob, insertProduction } from './seed';
import { startTemporal } from './temporal';

/** Recognisable fake credentials: tests search logs, errors and histories for them. */
export const FAKE_GEMINI_KEY = 'FAKE-gemini-api-key-for-tests-0123456789';
export const FAKE_SERVICE_KEY = 'fake-service-role-key-for-tests-abcdef';
export const BUCKET = 'attachments';

export interface Stack {
  temporal?: TestWorkflowEnvironment;
  db: TestDatabase;
  gemini: GeminiDouble;
  storage: StorageDouble;
  activities: Activities;
  stop(): Promise<void>;
}

/** Real Postgres and the two HTTP doubles, with the product's activities wired to them through the real SDKs. */
export async function startStack(
  options: { temporal?: boolean; geminiTimeoutMs?: number; geminiImageSize?: { width: number; height: number } } = {},
): Promise<Stack> {
  const [db, gemini, storage, temporal] = await Promise.all([
    createTestDatabase(),
    GeminiDouble.start({ apiKey: FAKE_GEMINI_KEY, imageSize: options.geminiImageSize }),
    StorageDouble.start({ serviceKey: FAKE_SERVICE_KEY }),
    options.temporal ? startTemporal() : undefined,
  ]);
  const activities = createActivities({
    db: createJobStore(db.pool),
    storage: createImageStore(
      createStorageClient({ url: storage.url, serviceKey: new Secret(FAKE_SERVICE_KEY), bucket: BUCKET }),
      BUCKET,
    ),
    gemini: createImageGenerator(
      createGeminiClient({
        apiKey: new Secret(FAKE_GEMINI_KEY),
        model: 'gemini-2.5-flash-image',
        baseUrl: gemini.baseUrl,
        apiVersion: gemini.apiVersion,
        timeoutMs: options.geminiTimeoutMs ?? 10_000,
      }),
      { model: 'gemini-2.5-flash-image', timeoutMs: options.geminiTimeoutMs ?? 10_000 },
    ),
    maxImagesPerJob: 10,
    imageConcurrency: 4,
    secrets: [FAKE_GEMINI_KEY, FAKE_SERVICE_KEY],
  });
  return {
    temporal,
    db,
    gemini,
    storage,
    activities,
    async stop() {
      await Promise.all([temporal?.teardown(), db.drop(), gemini.stop(), storage.stop()]);
    },
  };
}

export interface SeededJob {
  jobId: string;
  productionId: string;
  sourceAttachId: number;
  sourcePath: string;
  sourceBytes: Buffer;
  userId: string;
}

/** A production, its source image (object and row) and a pending job, as the front end leaves them. */
export async function seedJob(
  stack: Stack,
  input: { quantity?: unknown; prompt?: unknown; userId?: string; source?: Buffer; sourcePath?: string } = {},
): Promise<SeededJob> {
  const userId = input.userId ?? `user${Math.random().toString(36).slice(2, 10)}`;
  const sourceBytes = input.source ?? noisePng(48, 32);
  const sourcePath = input.sourcePath ?? `merged-images/user-${userId}/merged_${Date.now()}.png`;
  stack.storage.put(BUCKET, sourcePath, sourceBytes, 'image/png');
  const sourceAttachId = await insertAttachment(stack.db.pool, sourcePath, sourceBytes.length);
  const productionId = await insertProduction(stack.db.pool);
  const jobId = await insertJob(
    stack.db.pool,
    productionId,
    {
      prompt: input.prompt ?? 'make it blue',
      quantity: input.quantity ?? 2,
      userId,
      mergedImageAttachId: sourceAttachId,
    },
    { totalImages: Number.isInteger(input.quantity) ? (input.quantity as number) : 2 },
  );
  return { jobId, productionId, sourceAttachId, sourcePath, sourceBytes, userId };
}
