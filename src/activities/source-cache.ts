import { ApplicationFailure } from '@temporalio/common';
import { LRUCache } from 'lru-cache';
import { FailureType } from '../contract';
import { base64Length } from './source-size';
import type { ImageStore } from './storage';

/**
 * Sources kept ready for Gemini (base64) between calls, shared by every image of a job: one download and one
 * encoding per source while its job runs, however many of its images are in flight (concurrent fetches share one).
 * A call holds its source while it runs whether or not it stays cached, so this bounds only what is kept for calls
 * yet to come: enough for the jobs of 16 calls in flight at 1.5 MB, and idle entries leave after a short while. It
 * always holds at least one source of the largest size accepted, or such a source would be downloaded and encoded
 * again for every call.
 */
const SOURCE_CACHE_BYTES = 32 * 1024 * 1024;
const SOURCE_IDLE_MS = 2 * 60_000;

export interface SourceCache {
  /** The source's base64, downloaded on a miss; undefined when the object is gone. */
  fetch(path: string): Promise<string | undefined>;
  /** Filled by the job's loading, which has just read the bytes anyway. */
  set(path: string, base64: string): void;
}

export function createSourceCache(storage: ImageStore, maxSourceBytes: number): SourceCache {
  const cache = new LRUCache<string, string>({
    maxSize: Math.max(SOURCE_CACHE_BYTES, base64Length(maxSourceBytes)),
    sizeCalculation: (base64) => Math.max(1, base64.length),
    ttl: SOURCE_IDLE_MS,
    updateAgeOnGet: true,
    ttlAutopurge: true,
    fetchMethod: async (path) => {
      const download = await storage.download(path, maxSourceBytes);
      if (download.state === 'too-large') {
        throw ApplicationFailure.nonRetryable(
          `source image ${path} is now larger than the limit of ${maxSourceBytes} bytes (MAX_SOURCE_IMAGE_BYTES)`,
          FailureType.invalidJobData,
        );
      }
      return download.state === 'found' ? download.bytes.toString('base64') : undefined;
    },
  });
  return {
    fetch: (path) => cache.fetch(path),
    set: (path, base64) => void cache.set(path, base64),
  };
}
