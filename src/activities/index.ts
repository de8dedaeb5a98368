import { ApplicationFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { LRUCache } from 'lru-cache';
import { FailureType } from '../contract';
import { databaseFailure, type JobFinish, type JobStore } from './database';
import type { GeneratedImage, ImageGenerator } from './gemini';
import { sniffImageType, SUPPORTED_IMAGE_TYPES } from './image-type';
import { checkJobInput } from './job-input';
import type { ImageStore } from './storage';
import { scrubSecrets } from './scrub-secrets';
import type { ImageTarget, JobPlan, LoadedJob, StoredImage } from './types';

export type * from './types';

/** Gemini takes at most 20 MB of inline data per request, and base64 makes the source 4/3 larger. */
export const MAX_SOURCE_IMAGE_BYTES = Math.floor(((20 * 1024 * 1024 - 64 * 1024) * 3) / 4);

export interface ActivityDependencies {
  db: JobStore;
  storage: ImageStore;
  gemini: ImageGenerator;
  maxImagesPerJob: number;
  imageConcurrency: number;
  /** Values scrubbed from every error an activity throws. */
  secrets?: readonly string[];
}

/**
 * Sources kept ready for Gemini (base64) between calls, shared by every image of a job. A call holds its source
 * while it runs whether or not it stays cached, so this bounds only what is kept for calls yet to come: enough for
 * the jobs of 16 calls in flight at 1.5 MB, and idle entries leave after a short while.
 */
const SOURCE_CACHE_BYTES = 32 * 1024 * 1024;
const SOURCE_IDLE_MS = 2 * 60_000;

/** 429s waited out within one attempt before it fails (and Temporal retries after the server's delay). */
const RATE_LIMIT_WAITS_PER_ATTEMPT = 3;
/** A longer wait than this is left to Temporal's retry, so the attempt does not hold a slot for it. */
const MAX_RATE_LIMIT_WAIT_MS = 60_000;

function rateLimitDelay(error: unknown): number | undefined {
  if (!(error instanceof ApplicationFailure) || error.type !== FailureType.geminiRateLimited) return undefined;
  const delay = typeof error.nextRetryDelay === 'number' ? error.nextRetryDelay : 1_000;
  return delay <= MAX_RATE_LIMIT_WAIT_MS ? delay : undefined;
}

/** Well inside the Gemini activity's 10 s heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 2_000;

export function createActivities(deps: ActivityDependencies) {
  const { db, storage, gemini } = deps;

  // One download and one encoding per source while its job runs, however many of its images are in flight
  // (concurrent fetches share one).
  const sources = new LRUCache<string, string>({
    maxSize: SOURCE_CACHE_BYTES,
    sizeCalculation: (base64) => Math.max(1, base64.length),
    ttl: SOURCE_IDLE_MS,
    updateAgeOnGet: true,
    ttlAutopurge: true,
    fetchMethod: async (path) => (await storage.download(path))?.toString('base64'),
  });

  // Images Gemini made whose upload failed: the retry stores these instead of paying for a new one.
  const unstored = new LRUCache<string, GeneratedImage>({
    maxSize: 256 * 1024 * 1024,
    sizeCalculation: (image) => Math.max(1, image.bytes.length),
    ttl: 30 * 60_000,
  });

  const activities = {
    /** Phase 1: the job row, its data checked, its source image found, read and recognised. */
    async loadJob(jobId: string): Promise<LoadedJob> {
      const row = await db.findJob(jobId);
      if (!row) throw ApplicationFailure.nonRetryable(`job ${jobId} does not exist`, FailureType.jobNotFound);
      if (row.status === 'completed') return { state: 'completed', jobId };

      const invalid = (reason: string) =>
        ApplicationFailure.nonRetryable(`job ${jobId}: ${reason}`, FailureType.invalidJobData);
      const checked = checkJobInput(row.input, deps.maxImagesPerJob);
      if (!checked.ok) throw invalid(checked.reason);
      const { prompt, quantity, userId, sourceAttachId } = checked.input;

      if (!(await db.productionExists(row.productionId))) {
        throw invalid(`production photo ${row.productionId} does not exist`);
      }
      const attachment = await db.findAttachment(sourceAttachId);
      if (!attachment?.filePath) throw invalid(`source image attachment ${sourceAttachId} does not exist`);
      const bytes = await storage.download(attachment.filePath);
      if (!bytes) throw invalid(`source image ${attachment.filePath} is missing from storage`);
      if (bytes.length > MAX_SOURCE_IMAGE_BYTES) {
        throw invalid(
          `source image is ${bytes.length} bytes, above Gemini's inline limit of ${MAX_SOURCE_IMAGE_BYTES}`,
        );
      }
      const type = await sniffImageType(bytes);
      if (!type.supported) throw invalid(`source image is not a ${SUPPORTED_IMAGE_TYPES} image (${type.seen})`);

      // Ready for this job's images, should they run on this worker.
      sources.set(attachment.filePath, bytes.toString('base64'));
      const plan: JobPlan = {
        jobId,
        productionId: row.productionId,
        prompt,
        quantity,
        userId,
        restart: row.status === 'failed',
        source: { path: attachment.filePath, mimeType: type.mimeType, size: bytes.length },
        outputFolder: `generated-images/user-${userId}`,
        imageConcurrency: deps.imageConcurrency,
      };
      log.info('job loaded', { jobId, quantity, sourceMimeType: type.mimeType, sourceBytes: bytes.length });
      return { state: 'ready', plan };
    },

    /** Phase 2. */
    async markJobProcessing(plan: Pick<JobPlan, 'jobId' | 'productionId' | 'quantity' | 'restart'>): Promise<void> {
      await db.markJobProcessing(plan.jobId, plan.productionId, plan.quantity, plan.restart);
    },

    /**
     * Phase 3, generate and store. Both happen in one activity because the image exists only in this worker's
     * memory until it is stored. Paid for at most once: a stored image is found by its stem before Gemini is
     * asked again, and one whose upload failed waits in memory for the retry.
     */
    async generateImage(request: {
      jobId: string;
      prompt: string;
      source: JobPlan['source'];
      target: ImageTarget;
    }): Promise<StoredImage> {
      const { target } = request;
      const found = await storage.findByStem(target.folder, target.stem);
      if (found) {
        log.info('image already stored', { jobId: request.jobId, path: found.path });
        return { ...found, fileName: found.path.slice(target.folder.length + 1) };
      }
      const key = `${target.folder}/${target.stem}`;
      const image = unstored.get(key) ?? (await generate({ ...request, imageKey: `${request.jobId}/${target.stem}` }));
      unstored.set(key, image);
      const fileName = `${target.stem}.${image.extension}`;
      const path = `${target.folder}/${fileName}`;
      await storage.upload(path, image.bytes, image.mimeType);
      unstored.delete(key);
      log.info('image stored', { jobId: request.jobId, path, bytes: image.bytes.length });
      return { path, fileName, mimeType: image.mimeType, size: image.bytes.length };
    },

    /** Phase 3, record and report: the image's row and the polled progress, in one transaction. */
    async recordImage(record: { jobId: string; image: StoredImage; failedImages: number }): Promise<number> {
      const { image } = record;
      return db.recordImage(
        record.jobId,
        { fileName: image.fileName, path: image.path, size: image.size, mimeType: image.mimeType },
        record.failedImages,
      );
    },

    /** Phase 3, report an image given up on: progress merged, so it never goes backwards. */
    async recordProgress(progress: { jobId: string; attachIds: number[]; failedImages: number }): Promise<void> {
      await db.recordProgress(progress.jobId, progress.attachIds, progress.failedImages);
    },

    /** Phase 4. */
    async finishJob(finish: JobFinish): Promise<void> {
      await db.finishJob(finish);
      log.info('job finished', { jobId: finish.jobId, status: finish.status, images: finish.attachIds.length });
    },

    /** For the safety-net sweep. */
    async findStalePendingJobs(query: { olderThanSeconds: number; limit: number }): Promise<string[]> {
      return db.findStalePendingJobs(query.olderThanSeconds, query.limit);
    },

    /** A job whose data can never be processed ends `failed` at once. */
    async markJobFailed(jobId: string): Promise<void> {
      await db.markJobFailed(jobId);
    },
  };

  async function generate(request: {
    prompt: string;
    source: JobPlan['source'];
    imageKey: string;
  }): Promise<GeneratedImage> {
    const context = Context.current();
    const base64 = await sources.fetch(request.source.path);
    if (!base64) {
      throw ApplicationFailure.nonRetryable(
        `source image ${request.source.path} vanished from storage`,
        FailureType.invalidJobData,
      );
    }
    // Heartbeats carry cancellation to this attempt and tell Temporal a slow Gemini call is still alive.
    const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      for (let waits = 0; ; waits++) {
        try {
          return await timedCall(() =>
            gemini.generateVariation(
              request.prompt,
              { base64, mimeType: request.source.mimeType },
              { imageKey: request.imageKey, signal: context.cancellationSignal },
            ),
          );
        } catch (error) {
          // A 429 says when to come back: waiting here, up to a few times, spares the retry attempts for failures.
          const delay = rateLimitDelay(error);
          if (delay === undefined || waits >= RATE_LIMIT_WAITS_PER_ATTEMPT) throw error;
          log.info('Gemini rate limit: waiting as asked', { delayMs: delay, waits: waits + 1 });
          await context.sleep(delay);
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** Each Gemini call's latency, by outcome, on the worker's metrics endpoint. */
  async function timedCall<T>(call: () => Promise<T>): Promise<T> {
    const latency = Context.current().metricMeter.createHistogram(
      'gemini_request_latency',
      'int',
      'ms',
      'Gemini calls, by outcome',
    );
    const startedAt = Date.now();
    let outcome = 'image';
    try {
      return await call();
    } catch (error) {
      outcome = error instanceof ApplicationFailure && error.type ? error.type : 'error';
      throw error;
    } finally {
      latency.record(Date.now() - startedAt, { outcome });
    }
  }

  return guardErrors(activities, deps.secrets ?? []);
}

export type Activities = ReturnType<typeof createActivities>;

/** Every activity's errors: permanent database errors made non-retryable, then scrubbed of secrets. */
function guardErrors<T extends Record<string, (...args: never[]) => Promise<unknown>>>(
  activities: T,
  secrets: readonly string[],
): T {
  const guarded = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      try {
        return await activity(...args);
      } catch (error) {
        throw scrubSecrets(databaseFailure(error), secrets);
      }
    },
  ]);
  return Object.fromEntries(guarded) as T;
}
