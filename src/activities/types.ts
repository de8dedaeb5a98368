import type { Priority } from '@temporalio/common';

/** What crosses the workflow boundary: paths, ids and small metadata, never image bytes. */

export interface SourceRef {
  path: string;
  mimeType: string;
  size: number;
}

export interface JobPlan {
  jobId: string;
  productionId: string;
  prompt: string;
  quantity: number;
  userId: string;
  /** The row was `failed` and this run starts it over. */
  restart: boolean;
  source: SourceRef;
  /** `generated-images/user-{userId}`: every image of the job is stored in it. */
  outputFolder: string;
  /** Images generated at once, from the worker's config (IMAGE_CONCURRENCY_PER_JOB) unless the start overrides it. */
  imageConcurrency: number;
  /** The user's fair share of the Gemini queue (job-priority.ts). Absent in runs loaded before fairness. */
  priority?: Priority;
  /**
   * Seconds from the run's start after which its images stop and the job is finished with what it has
   * (JOB_DEADLINE_SECONDS). Absent in runs loaded before the deadline.
   */
  deadlineSeconds?: number;
}

export type LoadedJob = { state: 'ready'; plan: JobPlan } | { state: 'completed'; jobId: string };

/** Where one image goes: `{folder}/{stem}.{extension}`, the extension being whatever type Gemini answers with. */
export interface ImageTarget {
  folder: string;
  stem: string;
}

export interface StoredImage {
  path: string;
  fileName: string;
  mimeType: string;
  size: number;
}
