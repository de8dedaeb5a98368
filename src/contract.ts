import { defineSearchAttributeKey, type SearchAttributePair } from '@temporalio/common';

/**
 * What the worker, the bridge and the tools agree on. Nothing else crosses the worker/bridge line,
 * and this module stays free of Node built-ins because workflow code imports it.
 */

export const DEFAULT_TASK_QUEUE = 'image-jobs';

/** Gemini calls run on their own task queue so the fleet's quota can be enforced per queue. */
export function geminiTaskQueue(taskQueue: string): string {
  return `${taskQueue}-gemini`;
}

/**
 * A user id as the product accepts it: it becomes a folder name (`generated-images/user-{id}/`), so it must not be
 * able to climb out of it or produce a key Storage rejects. Supabase user ids are uuids.
 */
export const USER_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** One workflow per job: the id is derived from the job id, so a second start finds the first. */
export function workflowIdForJob(jobId: string): string {
  return `image-job-${jobId}`;
}

/** The job a workflow id names, or undefined for another workflow (the sweep's, say). */
export function jobIdOfWorkflowId(workflowId: string): string | undefined {
  return /^image-job-(.+)$/.exec(workflowId)?.[1];
}

/**
 * Operators find a job's workflow in the Web UI by any of these. They must be registered on the namespace
 * (the dev server started by the demo and the tests does it; see docs/operating.md for other namespaces).
 */
export const JobIdAttribute = defineSearchAttributeKey('JobId', 'KEYWORD');
export const ProductionIdAttribute = defineSearchAttributeKey('ProductionId', 'KEYWORD');
export const UserIdAttribute = defineSearchAttributeKey('UserId', 'KEYWORD');
export const SEARCH_ATTRIBUTES = [JobIdAttribute, ProductionIdAttribute, UserIdAttribute];

/**
 * The hard bound on a job's run, past anything a run can take by design (its deadline, JOB_DEADLINE_SECONDS, at most
 * 20 hours, then its finishing step): it ends a run that is stuck anyway. It ends it without its clean-up, leaving
 * the row as it was, so it is the last line, not the way a job ends (docs/operating.md).
 */
export const JOB_RUN_TIMEOUT = '24 hours';

/** What every start of a job's workflow carries: its id, as a search attribute, and a summary for the UI. */
export function jobStartOptions(jobId: string): {
  workflowId: string;
  typedSearchAttributes: SearchAttributePair[];
  staticSummary: string;
  workflowRunTimeout: typeof JOB_RUN_TIMEOUT;
} {
  return {
    workflowId: workflowIdForJob(jobId),
    typedSearchAttributes: [{ key: JobIdAttribute, value: jobId }],
    staticSummary: `Image job ${jobId}`,
    workflowRunTimeout: JOB_RUN_TIMEOUT,
  };
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
  /** Gemini could not use the source by its URL; the worker sends it inline instead, so this rarely leaves it. */
  geminiSourceUrlUnusable: 'GeminiSourceUrlUnusable',
  storageUnavailable: 'StorageUnavailable',
  storageRejected: 'StorageRejected',
  databasePermanent: 'DatabasePermanent',
} as const;
