import { ApplicationFailure } from '@temporalio/common';
import { Context, log } from '@temporalio/activity';
import { LRUCache } from 'lru-cache';
import { FailureType } from '../contract';
import {
  isSourceUrlUnusable,
  type GeneratedImage,
  type ImageGenerator,
  type SourceImage,
  type SourceMode,
} from './gemini';
import type { SourceCache } from './source-cache';
import type { ImageStore } from './storage';
import type { ImageTarget, JobPlan, StoredImage } from './types';

/** What every log line of an image names: its job, and its number there. */
interface LogFields {
  jobId: string;
  image: number | undefined;
  images: number | undefined;
}

/** 429s waited out within one attempt before it fails (and Temporal retries after the server's delay). */
const RATE_LIMIT_WAITS_PER_ATTEMPT = 3;
/** A longer wait than this is left to Temporal's retry, so the attempt does not hold a slot for it. */
const MAX_RATE_LIMIT_WAIT_MS = 60_000;
/** Well inside the Gemini activity's 10 s heartbeat timeout. */
const HEARTBEAT_EVERY_MS = 2_000;
/** A signed URL outlives the call it is made for by this much, for clock skew between Storage and Gemini. */
const SIGNED_URL_MARGIN_SECONDS = 60;

export interface ImageGenerationDependencies {
  storage: ImageStore;
  gemini: ImageGenerator;
  sources: SourceCache;
  sourceMode: SourceMode;
  /** Gemini's per-call timeout: a signed URL must stay valid for the whole call. */
  geminiTimeoutMs: number;
}

/**
 * The Gemini step, served on its own task queue so the fleet's quota can be enforced there. Generation and upload
 * share one activity because the image exists only in this worker's memory until it is stored.
 */
export function createImageGeneration(deps: ImageGenerationDependencies) {
  const { storage, gemini, sources } = deps;
  const signedUrlSeconds = Math.ceil(deps.geminiTimeoutMs / 1000) + SIGNED_URL_MARGIN_SECONDS;

  // Images Gemini made whose upload failed: the retry stores these instead of paying for a new one.
  const unstored = new LRUCache<string, GeneratedImage>({
    maxSize: 256 * 1024 * 1024,
    sizeCalculation: (image) => Math.max(1, image.bytes.length),
    ttl: 30 * 60_000,
  });

  return {
    /**
     * Phase 3, generate and store. Paid for at most once: a stored image is found by its stem before Gemini is
     * asked again, and one whose upload failed waits in memory for the retry.
     */
    async generateImage(request: {
      jobId: string;
      prompt: string;
      source: JobPlan['source'];
      target: ImageTarget;
      /** The image's number in its job, and the job's count of images: for the log (absent in older runs). */
      image?: number;
      images?: number;
    }): Promise<StoredImage> {
      const { target } = request;
      const about = { jobId: request.jobId, image: request.image, images: request.images };
      const found = await storage.findByStem(target.folder, target.stem);
      if (found) {
        log.info('image already stored', { ...about, path: found.path });
        return { ...found, fileName: found.path.slice(target.folder.length + 1) };
      }
      const key = `${target.folder}/${target.stem}`;
      const image =
        unstored.get(key) ?? (await generate({ ...request, imageKey: `${request.jobId}/${target.stem}` }, about));
      unstored.set(key, image);
      const fileName = `${target.stem}.${image.extension}`;
      const path = `${target.folder}/${fileName}`;
      await storage.upload(path, image.bytes, image.mimeType);
      unstored.delete(key);
      log.info('image stored', { ...about, path, bytes: image.bytes.length });
      return { path, fileName, mimeType: image.mimeType, size: image.bytes.length };
    },
  };

  async function generate(
    request: { prompt: string; source: JobPlan['source']; imageKey: string },
    about: LogFields,
  ): Promise<GeneratedImage> {
    const context = Context.current();
    const call = (source: SourceImage) =>
      timedCall(() =>
        gemini.generateVariation(request.prompt, source, {
          imageKey: request.imageKey,
          signal: context.cancellationSignal,
        }),
      );
    // Fetched once per attempt, by the first call that sends the source inline, and reused by any later one (after
    // a rate-limit wait) even if the cache let it go meanwhile.
    let inline: Promise<SourceImage> | undefined;
    const inlined = () => (inline ??= inlineSource(request.source));
    // Heartbeats carry cancellation to this attempt and tell Temporal a slow Gemini call is still alive.
    const heartbeat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      for (let waits = 0; ; waits++) {
        try {
          if (deps.sourceMode === 'inline') return await call(await inlined());
          // Signed for this call alone, so a retry (or a call after a rate-limit wait) never holds a stale URL.
          const url = await storage.signedUrl(request.source.path, signedUrlSeconds);
          if (!url) throw vanished(request.source.path);
          try {
            return await call({ url, mimeType: request.source.mimeType });
          } catch (error) {
            if (!isSourceUrlUnusable(error)) throw error;
            // Refused before the model ran, so unpaid: the same attempt sends the bytes instead.
            log.warn('Gemini could not use the source by its URL: sending it inline', {
              ...about,
              imageKey: request.imageKey,
              reason: (error as Error).message,
            });
            return await call(await inlined());
          }
        } catch (error) {
          // A 429 says when to come back: waiting here, up to a few times, spares the retry attempts for failures.
          const delay = rateLimitDelay(error);
          if (delay === undefined || waits >= RATE_LIMIT_WAITS_PER_ATTEMPT) throw error;
          log.info('Gemini rate limit: waiting as asked', { ...about, delayMs: delay, waits: waits + 1 });
          await context.sleep(delay);
        }
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  async function inlineSource(source: JobPlan['source']): Promise<SourceImage> {
    const base64 = await sources.fetch(source.path);
    if (!base64) throw vanished(source.path);
    return { base64, mimeType: source.mimeType };
  }
}

function vanished(path: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(`source image ${path} vanished from storage`, FailureType.invalidJobData);
}

/** The activities of the Gemini task queue. */
export type ImageGeneration = ReturnType<typeof createImageGeneration>;

function rateLimitDelay(error: unknown): number | undefined {
  if (!(error instanceof ApplicationFailure) || error.type !== FailureType.geminiRateLimited) return undefined;
  const delay = typeof error.nextRetryDelay === 'number' ? error.nextRetryDelay : 1_000;
  return delay <= MAX_RATE_LIMIT_WAIT_MS ? delay : undefined;
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
