import { LRUCache } from 'lru-cache';
import type { ImageStore } from './storage';

/**
 * Sources kept ready for Gemini (base64) between calls, shared by every image of a job: one download and one
 * encoding per source while its job runs, however many of its images are in flight (concurrent fetches share one).
 * A call holds its source while it runs whether or not it stays cached, so this bounds only what is kept for calls
 * yet to come: enough for the jobs of 16 calls in flight at 1.5 MB, and idle entries leave after a short while.
 */
const SOURCE_CACHE_BYTES = 32 * 1024 * 1024;
const SOURCE_IDLE_MS = 2 * 60_000;

export interface SourceCache {
  /** The source's base64, downloaded on a miss; undefined when the object is gone. */
  fetch(path: string): Promise<string | undefined>;
  /** Filled by the job's loading, which has just read the bytes anyway. */
  set(path: string, base64: string): void;
}

export function createSourceCache(storage: ImageStore): SourceCache {
  const cache = new LRUCache<string, string>({
    maxSize: SOURCE_CACHE_BYTES,
    sizeCalculation: (base64) => Math.max(1, base64.length),
    ttl: SOURCE_IDLE_MS,
    updateAgeOnGet: true,
    ttlAutopurge: true,
    fetchMethod: async (path) => (await storage.download(path))?.toString('base64'),
  });
  return {
    fetch: (path) => cache.fetch(path),
    set: (path, base64) => void cache.set(path, base64),
  };
}
