import { ApplicationFailure } from '@temporalio/common';
import { createClient, StorageApiError, type SupabaseClient } from '@supabase/supabase-js';
import { FailureType } from '../contract';
import { sdkFetch } from './sdk-fetch';

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

/** The bucket's objects, as the worker uses them. */
export interface ImageStore {
  /** The object's bytes, or undefined when there is no such object. */
  download(path: string): Promise<Buffer | undefined>;
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
  const objects = () => client.from(bucket);

  return {
    /** The object's bytes, or undefined when there is no such object. */
    async download(path: string): Promise<Buffer | undefined> {
      const { data, error } = await objects().download(path);
      if (error) {
        if (isNotFound(error)) return undefined;
        throw storageFailure('download', path, error);
      }
      return Buffer.from(await data.arrayBuffer());
    },

    /** Upserts, so a retried upload of the same path replaces rather than duplicates. */
    async upload(path: string, bytes: Buffer, mimeType: string): Promise<void> {
      const { error } = await objects().upload(path, bytes, {
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
      const { data, error } = await objects().list(folder, { search: stem, limit: 100 });
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
      const { data, error } = await objects().createSignedUrl(path, expiresInSeconds);
      if (error) {
        if (isNotFound(error)) return undefined;
        throw storageFailure('signing', path, error);
      }
      return data.signedUrl;
    },
  };
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
  const transient = code === undefined || code >= 500 || code === 429 || code === 408;
  const message = `storage ${operation} of ${path} failed${code ? ` (${code})` : ''}: ${error.message}`;
  return transient
    ? ApplicationFailure.retryable(message, FailureType.storageUnavailable)
    : ApplicationFailure.nonRetryable(message, FailureType.storageRejected);
}
