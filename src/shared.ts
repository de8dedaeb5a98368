/**
 * What the worker, the bridge and the tools agree on. Nothing else crosses the worker/bridge line,
 * and this module stays free of Node built-ins because workflow code imports it.
 */

export const DEFAULT_TASK_QUEUE = 'image-jobs';

/** Gemini calls run on their own task queue so the fleet's quota can be enforced per queue. */
export function geminiTaskQueue(taskQueue: string): string {
  return `${taskQueue}-gemini`;
}

/** One workflow per job: the id is derived from the job id, so a second start finds the first. */
export function workflowIdForJob(jobId: string): string {
  return `image-job-${jobId}`;
}

export interface ImageJobInput {
  jobId: string;
  /** Images of this job generated at once, overriding the worker's IMAGE_CONCURRENCY_PER_JOB; 1 is sequential. */
  imageConcurrency?: number;
}

export type JobStatus = 'pending' | 'processing' | 'completed' | 'failed';

export interface ImageJobResult {
  jobId: string;
  status: 'completed' | 'failed';
  totalImages: number;
  completedImages: number;
  failedImages: number;
  attachIds: number[];
  /** True when the job row was already completed and nothing was done. */
  alreadyFinished?: boolean;
}

export interface ImageJobProgress {
  phase: 'loading' | 'generating' | 'finishing' | 'done';
  totalImages: number;
  completedImages: number;
  failedImages: number;
  attachIds: number[];
}

/** Failure types the workflow branches on and operators see in the Web UI. */
export const FailureType = {
  jobNotFound: 'JobNotFound',
  invalidJobData: 'InvalidJobData',
  noImagesGenerated: 'NoImagesGenerated',
  geminiBlocked: 'GeminiBlocked',
  geminiNoImage: 'GeminiNoImage',
  geminiRejected: 'GeminiRejected',
  geminiRateLimited: 'GeminiRateLimited',
  geminiUnavailable: 'GeminiUnavailable',
  storageUnavailable: 'StorageUnavailable',
  storageRejected: 'StorageRejected',
  databasePermanent: 'DatabasePermanentError',
} as const;
