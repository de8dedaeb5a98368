import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createActivities, type Activities } from '../src/activities';
import { createJobStore } from '../src/activities/database';
import { createGeminiClient, createImageGenerator, type SourceMode } from '../src/activities/gemini';
import { createImageStore, createStorageClient } from '../src/activities/storage';
import { Secret } from '../src/process/secret';
import { GeminiStandIn } from './stand-ins/gemini';
import { StorageStandIn } from './stand-ins/storage';
import { createTestDatabase, type LocalDatabase } from './database';
import { seedJob as seedJobRows, type JobRequest, type SeededJob } from './seed';
import { startTemporal } from './temporal-dev-server';

export type { SeededJob } from './seed';

/** Recognisable fake credentials: tests search logs, errors and histories for them. */
export const FAKE_GEMINI_KEY = 'FAKE-gemini-api-key-for-tests-0123456789';
export const FAKE_SERVICE_KEY = 'fake-service-role-key-for-tests-abcdef';
export const BUCKET = 'attachments';

export interface Stack {
  temporal?: TestWorkflowEnvironment;
  db: LocalDatabase;
  gemini: GeminiStandIn;
  storage: StorageStandIn;
  activities: Activities;
  stop(): Promise<void>;
}

/** Real Postgres and the two HTTP stand-ins, with the product's activities wired to them through the real SDKs. */
export async function startStack(
  options: {
    temporal?: boolean;
    geminiTimeoutMs?: number;
    geminiImageSize?: { width: number; height: number };
    maxImagesPerJob?: number;
    /** The PostgreSQL that gets the stack's database; default the tests' one (TEST_DATABASE_URL). */
    databaseAdminUrl?: string;
    sourceMode?: SourceMode;
  } = {},
): Promise<Stack> {
  const [db, gemini, storage, temporal] = await Promise.all([
    createTestDatabase(options.databaseAdminUrl),
    GeminiStandIn.start({ apiKey: FAKE_GEMINI_KEY, imageSize: options.geminiImageSize }),
    StorageStandIn.start({ serviceKey: FAKE_SERVICE_KEY }),
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
    sourceMode: options.sourceMode ?? 'url',
    geminiTimeoutMs: options.geminiTimeoutMs ?? 10_000,
    maxImagesPerJob: options.maxImagesPerJob ?? 10,
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

/** What a worker process needs to work against the stack's database and stand-ins; Temporal is the caller's. */
export function workerEnvironment(stack: Pick<Stack, 'db' | 'storage' | 'gemini'>): Record<string, string> {
  return {
    DATABASE_URL: stack.db.url,
    SUPABASE_URL: stack.storage.url,
    SUPABASE_SERVICE_ROLE_KEY: FAKE_SERVICE_KEY,
    GEMINI_API_KEY: FAKE_GEMINI_KEY,
    GEMINI_BASE_URL: stack.gemini.baseUrl,
  };
}

/** A production, its source image (in the Storage stand-in and its row) and a pending job. */
export function seedJob(stack: Stack, request: JobRequest = {}): Promise<SeededJob> {
  return seedJobRows(
    stack.db.pool,
    (path, bytes, mimeType) => stack.storage.put(BUCKET, path, bytes, mimeType),
    request,
  );
}
