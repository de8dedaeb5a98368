import { ApplicationFailure } from '@temporalio/common';
import { log } from '@temporalio/activity';
import { FailureType } from '../contract';
import type { JobFinish, JobStore } from './database';
import type { SourceMode } from './gemini';
import { sniffImageType, SUPPORTED_IMAGE_TYPES } from './image-type';
import { checkJobInput } from './job-input';
import { jobPriority, type FairnessPolicy } from './job-priority';
import { objectKeyProblem, quotedKey } from './object-key';
import type { SourceCache } from './source-cache';
import type { ImageStore } from './storage';
import type { JobPlan, LoadedJob, StoredImage } from './types';

export interface JobStepDependencies {
  db: JobStore;
  storage: ImageStore;
  sources: SourceCache;
  sourceMode: SourceMode;
  /** MAX_SOURCE_IMAGE_BYTES: a larger source fails its job before it is read whole. */
  maxSourceBytes: number;
  /**
   * SOURCE_PATH_PREFIX: where a job's source must lie, `{userId}` standing for the job's user (the front end's
   * `merged-images/user-{userId}/`); unset, anywhere in the bucket.
   */
  sourcePathPrefix?: string;
  /** JOB_DEADLINE_SECONDS, carried by each plan. */
  deadlineSeconds: number;
  maxImagesPerJob: number;
  imageConcurrency: number;
  fairness: FairnessPolicy;
}

/**
 * The job's database and storage steps, served on the main task queue: short calls, each safe to run twice
 * (the store's statements are idempotent, and loading only reads).
 */
export function createJobSteps(deps: JobStepDependencies) {
  const { db, storage, sources } = deps;
  return {
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
      const unsafe = sourcePathProblem(attachment.filePath, userId, deps.sourcePathPrefix);
      if (unsafe) throw invalid(`source image attachment ${sourceAttachId} has the path ${unsafe}`);
      const download = await storage.download(attachment.filePath, deps.maxSourceBytes);
      if (download.state === 'missing') throw invalid(`source image ${attachment.filePath} is missing from storage`);
      if (download.state === 'too-large') {
        throw invalid(`source image is larger than the limit of ${deps.maxSourceBytes} bytes (MAX_SOURCE_IMAGE_BYTES)`);
      }
      const { bytes } = download;
      const type = await sniffImageType(bytes);
      if (!type.supported) throw invalid(`source image is not a ${SUPPORTED_IMAGE_TYPES} image (${type.seen})`);

      // Ready for this job's images, should they run on this worker; by URL, Gemini reads the source itself.
      if (deps.sourceMode === 'inline') sources.set(attachment.filePath, bytes.toString('base64'));
      // Asked only where the policy uses the answer: one query less for every job while a per-user rate is set.
      const oldestActive = deps.fairness.oldestJobAhead && !(await db.userHasOlderActiveJob(jobId, userId));
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
        priority: jobPriority({ userId, quantity, oldestActive }, deps.fairness),
        deadlineSeconds: deps.deadlineSeconds,
      };
      log.info('job loaded', { jobId, quantity, sourceMimeType: type.mimeType, sourceBytes: bytes.length });
      return { state: 'ready', plan };
    },

    /** Phase 2. */
    async markJobProcessing(plan: Pick<JobPlan, 'jobId' | 'productionId' | 'quantity' | 'restart'>): Promise<void> {
      await db.markJobProcessing(plan.jobId, plan.productionId, plan.quantity, plan.restart);
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
      log.info('job finished', {
        jobId: finish.jobId,
        status: finish.status,
        completedImages: finish.attachIds.length,
        failedImages: finish.failedImages,
      });
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
}

/**
 * What is wrong with a source's path, quoted, or undefined when it is a plain key inside the bucket, and under the
 * job's user's folder where one is required.
 */
function sourcePathProblem(path: string, userId: string, prefix: string | undefined): string | undefined {
  const problem = objectKeyProblem(path);
  if (problem) return `${quotedKey(path)}, which ${problem}: not a plain key inside the bucket`;
  const folder = prefix?.replaceAll('{userId}', userId);
  if (folder && !path.startsWith(folder)) {
    return `${quotedKey(path)}, outside the job's user's folder ${folder} (SOURCE_PATH_PREFIX)`;
  }
  return undefined;
}

/** The activities of the main task queue. */
export type JobSteps = ReturnType<typeof createJobSteps>;
