import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { UnrecoverableError, type Processor } from 'bullmq';
import type { Activities, ImageTarget, JobPlan } from '../../src/activities';
import { FailureType } from '../../src/contract';
import type { Logger } from '../../src/process/logger';
import type { ActivityCaller } from './activity-context';

/** What the bench's BullMQ queue holds: a job id, as the product's Redis list does. */
export interface ImageJobData {
  jobId: string;
}

export interface ImageJobOutcome {
  completedImages: number;
  failedImages: number;
}

/**
 * The product's pipeline as a BullMQ user would write it, with the product's own activity functions called directly:
 * load → mark processing → each image generated and stored (in one of the worker's Gemini slots), recorded and
 * reported, `imageConcurrency` of a job at once → finish by the status policy (completed with at least one image).
 * A failure that may pass fails the attempt, and BullMQ retries the whole job after its backoff: the images stored
 * by then are found by their stems (the same on every attempt) and not paid for again, and every record is
 * idempotent. One that will not pass (the activities throw those non-retryable), or any on the last attempt, fails
 * the image, or the job if it came before its images.
 */
export function createImageJobProcessor(deps: {
  activities: Activities;
  call: ActivityCaller;
  geminiSlot: <T>(call: () => Promise<T>) => Promise<T>;
  log: Logger;
}): Processor<ImageJobData, ImageJobOutcome> {
  const { jobSteps, imageGeneration } = deps.activities;
  return async (job, _token, signal) => {
    const attempt = job.attemptsMade + 1;
    const lastAttempt = attempt >= (job.opts.attempts ?? 1);
    const run = <A extends unknown[], R>(activity: (...args: A) => Promise<R>, ...args: A) =>
      deps.call({ attempt, signal }, activity, ...args);
    const { jobId } = job.data;

    let plan: JobPlan;
    try {
      const loaded = await run(jobSteps.loadJob, jobId);
      if (loaded.state === 'completed') return { completedImages: 0, failedImages: 0 };
      plan = loaded.plan;
    } catch (error) {
      if (!isPermanent(error)) throw error;
      // The row must not stay `pending` for the front end to poll forever; a job that does not exist has none.
      if (error.type !== FailureType.jobNotFound) await run(jobSteps.markJobFailed, jobId);
      throw new UnrecoverableError(error.message);
    }
    await run(jobSteps.markJobProcessing, plan);

    const attachIds: number[] = [];
    let failedImages = 0;
    let retry: unknown;
    const makeImage = async (target: ImageTarget): Promise<void> => {
      let image;
      try {
        const request = { jobId, prompt: plan.prompt, source: plan.source, target };
        image = await deps.geminiSlot(() => run(imageGeneration.generateImage, request));
      } catch (error) {
        if (!lastAttempt && !isPermanent(error)) {
          retry ??= error;
          return;
        }
        failedImages += 1;
        deps.log.warn({ jobId, stem: target.stem, reason: (error as Error).message }, 'image failed');
        await run(jobSteps.recordProgress, { jobId, attachIds, failedImages });
        return;
      }
      attachIds.push(await run(jobSteps.recordImage, { jobId, image, failedImages }));
    };
    const targets = Array.from({ length: plan.quantity }, (_, index) => ({
      folder: plan.outputFolder,
      stem: `generated_${job.timestamp}_${createHash('sha256').update(`${job.id}/${index}`).digest('hex').slice(0, 6)}`,
    }));
    let next = 0;
    const lane = async () => {
      while (next < targets.length && retry === undefined) await makeImage(targets[next++]!);
    };
    const lanes = Array.from({ length: Math.max(1, Math.min(plan.imageConcurrency, targets.length)) }, lane);
    const failedLane = (await Promise.allSettled(lanes)).find((lane) => lane.status === 'rejected');
    if (failedLane) throw failedLane.reason;
    if (retry !== undefined) throw retry;

    await run(jobSteps.finishJob, {
      jobId,
      productionId: plan.productionId,
      status: attachIds.length > 0 ? 'completed' : 'failed',
      attachIds,
      failedImages: plan.quantity - attachIds.length,
    });
    if (attachIds.length === 0) {
      throw new UnrecoverableError(`none of the ${plan.quantity} images of job ${jobId} could be generated`);
    }
    return { completedImages: attachIds.length, failedImages: plan.quantity - attachIds.length };
  };
}

function isPermanent(error: unknown): error is ApplicationFailure {
  return error instanceof ApplicationFailure && error.nonRetryable === true;
}
