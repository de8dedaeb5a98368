import type { JobStore } from './database';
import { databaseFailure } from './database';
import type { ImageGenerator, SourceMode } from './gemini';
import { createImageGeneration, type ImageGeneration } from './image-generation';
import { EQUAL_SHARES, type FairnessPolicy } from './job-priority';
import { createJobSteps, type JobSteps } from './job-steps';
import { scrubSecrets } from '../process/secret';
import { createSourceCache } from './source-cache';
import { DEFAULT_MAX_SOURCE_IMAGE_BYTES } from './source-size';
import type { ImageStore } from './storage';

export interface ActivityDependencies {
  db: JobStore;
  storage: ImageStore;
  gemini: ImageGenerator;
  /** How the source reaches Gemini (GEMINI_SOURCE_MODE). */
  sourceMode: SourceMode;
  /** Gemini's per-call timeout (GEMINI_TIMEOUT_MS), which a signed source URL must outlast. */
  geminiTimeoutMs: number;
  /** MAX_SOURCE_IMAGE_BYTES; default 20 MiB. */
  maxSourceBytes?: number;
  /** SOURCE_PATH_PREFIX; default: anywhere in the bucket. */
  sourcePathPrefix?: string;
  /** JOB_DEADLINE_SECONDS; default an hour. */
  deadlineSeconds?: number;
  maxImagesPerJob: number;
  imageConcurrency: number;
  /** Default: every user has the same share. */
  fairness?: FairnessPolicy;
  /** Values scrubbed from every error an activity throws. */
  secrets?: readonly string[];
}

/** Every activity of the worker, by the task queue that serves it. */
export interface Activities {
  /** Main task queue: the job's database and storage steps. */
  jobSteps: JobSteps;
  /** Gemini task queue. */
  imageGeneration: ImageGeneration;
}

/** The worker's activities over their dependencies; one source cache joins a job's loading to its Gemini calls. */
export function createActivities(deps: ActivityDependencies): Activities {
  const maxSourceBytes = deps.maxSourceBytes ?? DEFAULT_MAX_SOURCE_IMAGE_BYTES;
  const sources = createSourceCache(deps.storage, maxSourceBytes);
  const secrets = deps.secrets ?? [];
  return {
    jobSteps: guardErrors(
      createJobSteps({
        ...deps,
        maxSourceBytes,
        deadlineSeconds: deps.deadlineSeconds ?? 3600,
        fairness: deps.fairness ?? EQUAL_SHARES,
        sources,
      }),
      secrets,
    ),
    imageGeneration: guardErrors(createImageGeneration({ ...deps, sources }), secrets),
  };
}

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
