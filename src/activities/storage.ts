import { ApplicationFailure } from '@temporalio/common';
import { createClient, StorageApiError, type SupabaseClient } from '@supabase/supabase-js';
import { FailureType } from '../contract';
import { objectKeyProblem, quotedKey } from './object-key';
import { isCrossOriginRedirect, sdkFetch } from './sdk-fetch';

/** The one module that knows Supabase Storage. */

export interface StorageSettings {
  /** The Supabase project URL; Storage lives under `/storage/v1`. */
  url: string;
  serviceKey: { reveal(): string };
  bucket: string;
}

export interface StoredObject {
  path: string;
  size: number;
  mimeType: string;
}

/** An object read whole, or why not. */
export type Download = { state: 'found'; bytes: Buffer } | { state: 'missing' } | { state: 'too-large' };

/**
 * The bucket's objects, as the worker uses them. Every path and folder must be a plain key inside the bucket
 * (object-key.ts): any other is refused before a request is made.
 */
export interface ImageStore {
  /** The object's bytes, read while they stay within `maxBytes`. */
  download(path: string, maxBytes: number): Promise<Download>;
  /** Upserts, so a retried upload of the same path replaces rather than duplicates. */
  upload(path: string, bytes: Buffer, mimeType: string): Promise<void>;
  /** The object `folder/stem.<any extension>`, if one is stored. */
  findByStem(folder: string, stem: string): Promise<StoredObject | undefined>;
  /** A URL that reads the object without a key until it expires; undefined when there is no such object. */
  signedUrl(path: string, expiresInSeconds: number): Promise<string | undefined>;
}

export type StorageClient = SupabaseClient['storage'];

/**
 * Storage through the Supabase client, with everything a server process must not do switched off: no session
 * kept or refreshed (the service key is the credential), and no realtime socket, which opens only on subscribe.
 */
export function createStorageClient(settings: StorageSettings): StorageClient {
  return createClient(settings.url, settings.serviceKey.reveal(), {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: { fetch: sdkFetch },
  }).storage;
}

export function createImageStore(client: StorageClient, bucket: string): ImageStore {
  const objects = (operation: string, path: string) => {
    const problem = objectKeyProblem(path);
    if (problem) {
      throw ApplicationFailure.nonRetryable(
        `storage ${operation} of ${quotedKey(path)} refused: the path ${problem}, so it is not a plain key inside the bucket`,
        FailureType.storageRejected,
      );
    }
    return client.from(bucket);
  };

  return {
    /**
     * Streamed, and given up on once it passes `maxBytes`: an object larger than any source the worker accepts
     * never sits in memory whole, even one replaced by a larger one after its size was checked.
     */
    async download(path: string, maxBytes: number): Promise<Download> {
      const { data, error } = await objects('download', path).download(path).asStream();
      if (error) {
        if (isNotFound(error)) return { state: 'missing' };
        throw storageFailure('download', path, error);
      }
      const bytes = await readAtMost(data as AsyncIterable<Uint8Array>, maxBytes).catch((error: unknown) => {
        throw storageFailure('download', path, error as Error);
      });
      return bytes ? { state: 'found', bytes } : { state: 'too-large' };
    },

    /** Upserts, so a retried upload of the same path replaces rather than duplicates. */
    async upload(path: string, bytes: Buffer, mimeType: string): Promise<void> {
      const { error } = await objects('upload', path).upload(path, bytes, {
        contentType: mimeType,
        cacheControl: '3600',
        upsert: true,
      });
      if (error) throw storageFailure('upload', path, error);
    },

    /**
     * Finds the object `folder/stem.<any extension>`: an image's extension is only known once Gemini answers,
     * so a retry looks the stem up to learn whether an earlier attempt already stored it.
     */
    async findByStem(folder: string, stem: string): Promise<StoredObject | undefined> {
      const { data, error } = await objects('list', folder).list(folder, { search: stem, limit: 100 });
      if (error) {
        if (isNotFound(error)) return undefined;
        throw storageFailure('list', folder, error);
      }
      const match = data.find((entry) => entry.id !== null && entry.name.startsWith(`${stem}.`));
      if (!match?.metadata) return undefined;
      return {
        path: `${folder}/${match.name}`,
        size: Number(match.metadata.size),
        mimeType: String(match.metadata.mimetype),
      };
    },

    /** The URL carries its own credential (a token): it is handed to Gemini only, never logged or returned. */
    async signedUrl(path: string, expiresInSeconds: number): Promise<string | undefined> {
      const { data, error } = await objects('signing', path).createSignedUrl(path, expiresInSeconds);
      if (error) {
        if (isNotFound(error)) return undefined;
        throw storageFailure('signing', path, error);
      }
      return data.signedUrl;
    },
  };
}

/**
 * The stream's bytes, or undefined once they pass `maxBytes`: leaving the loop early ends the stream (its iterator
 * destroys a Node stream, cancels a web one), so the rest is never read.
 */
async function readAtMost(body: AsyncIterable<Uint8Array>, maxBytes: number): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += chunk.length;
    if (length > maxBytes) return undefined;
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, length);
}

function isNotFound(error: Error): boolean {
  return error instanceof StorageApiError && (error.statusCode === '404' || error.status === 404);
}

/**
 * Storage answers most errors with HTTP 400 and the real code in `statusCode`. Server faults and network
 * errors may pass; a denied, oversized or malformed request will not, so it is not retried.
 */
function storageFailure(operation: string, path: string, error: Error): ApplicationFailure {
  const code = error instanceof StorageApiError ? Number(error.statusCode) || error.status : undefined;
  const transient =
    !isCrossOriginRedirect(error) && (code === undefined || code >= 500 || code === 429 || code === 408);
  const message = `storage ${operation} of ${path} failed${code ? ` (${code})` : ''}: ${error.message}`;
  return transient
    ? ApplicationFailure.retryable(message, FailureType.storageUnavailable)
    : ApplicationFailure.nonRetryable(message, FailureType.storageRejected);
}
