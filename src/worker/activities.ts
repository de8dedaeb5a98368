import type { Pool } from 'pg';
import { createActivities, type Activities } from '../activities';
import { createJobStore } from '../activities/database';
import { createGeminiClient, createImageGenerator } from '../activities/gemini';
import { createImageStore, createStorageClient } from '../activities/storage';
import { secretsOf, type WorkerConfig } from '../process/config';

/**
 * The worker's activities over its database pool and its configured Storage and Gemini. Apart from the Temporal
 * worker, so the bench's BullMQ peer builds the very same ones without loading Temporal's worker.
 */
export function createWorkerActivities(config: WorkerConfig, pool: Pool): Activities {
  return createActivities({
    db: createJobStore(pool),
    storage: createImageStore(createStorageClient(config.storage), config.storage.bucket),
    gemini: createImageGenerator(createGeminiClient(config.gemini), config.gemini),
    sourceMode: config.gemini.sourceMode,
    geminiTimeoutMs: config.gemini.timeoutMs,
    maxImagesPerJob: config.pipeline.maxImagesPerJob,
    imageConcurrency: config.pipeline.imageConcurrency,
    maxSourceBytes: config.pipeline.maxSourceBytes,
    sourcePathPrefix: config.pipeline.sourcePathPrefix,
    deadlineSeconds: config.pipeline.deadlineSeconds,
    fairness: {
      weights: config.fairness.weights,
      oldestJobAhead: config.gemini.requestsPerMinutePerUser === undefined,
    },
    secrets: secretsOf(config).map((secret) => secret.reveal()),
  });
}
