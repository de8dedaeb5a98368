import {
  ActivityFailure,
  type ActivityOptions,
  ApplicationFailure,
  CancellationScope,
  defineQuery,
  isCancellation,
  log,
  metricMeter,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  setWorkflowOptions,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ImageGeneration, ImageTarget, JobPlan, JobSteps } from '../activities';
import {
  FailureType,
  geminiTaskQueue,
  JobIdAttribute,
  ProductionIdAttribute,
  UserIdAttribute,
  type ImageJobInput,
  type ImageJobProgress,
  type ImageJobResult,
} from '../contract';
import { onVersionedWorkers } from './versioning';

export const progressQuery = defineQuery<ImageJobProgress>('progress');

/** patched() id: a cancel waits for an image's record under way instead of abandoning it. */
const RECORD_COMPLETES_ON_CANCEL = 'record-completes-on-cancel';

/** patched() id: the database steps run as local activities, in the workflow's own worker. */
const LOCAL_JOB_STEPS = 'local-job-steps';

/** patched() id: phase 3 ends at the job's deadline, and the row is still finished. */
const JOB_DEADLINE = 'job-deadline';

/** The deadline of a plan loaded before JOB_DEADLINE_SECONDS existed: that variable's default. */
const DEFAULT_DEADLINE_SECONDS = 3600;

// Postgres and Storage: short calls, retried patiently (a restart or failover is waited out); errors that repeat on
// every try (bad data, a missing table), which the activities throw non-retryable, stop them at once. The timeout
// bounds one try; a crashed worker costs the workflow task's timeout (10 s) for a local step, after which another
// worker replays the run and tries again, and this timeout for an activity. The two steps that end a row (finishJob,
// markJobFailed) keep trying for as long as the run may live (JOB_RUN_TIMEOUT): giving up would leave the front end
// polling for good.
const FINISHING_STEP_OPTIONS = {
  startToCloseTimeout: '20 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
} as const;
// Every other step gives up after an hour, and the job goes on to end its row.
const JOB_STEP_OPTIONS = { ...FINISHING_STEP_OPTIONS, scheduleToCloseTimeout: '1 hour' } as const;

// Each step as a local activity saves a round trip through the server (an activity task and the workflow task
// after it) per step: a few milliseconds of database work otherwise cost tens in dispatch. A crash re-runs the
// step with the workflow task, which its idempotence allows. A wait of over 10 s between tries becomes a timer,
// so a long database outage does not grow the history with a workflow task heartbeat every 8 s.
const LOCAL_STEP_OPTIONS = { localRetryThreshold: '10 seconds' } as const;

/**
 * The job's database steps, each call labelled with `summary` in the Web UI's event history; `finishing` for the two
 * that end its row. Runs started before the local steps keep their steps as activities, so their histories replay. A
 * summary is metadata on the command, which replay does not compare, so labelling needs no patch.
 */
type JobStepsLabelled = (summary: string, retry?: 'finishing') => JobSteps;
const jobStepsLabelled =
  (local: boolean): JobStepsLabelled =>
  (summary, retry) => {
    const options = { ...(retry === 'finishing' ? FINISHING_STEP_OPTIONS : JOB_STEP_OPTIONS), summary };
    return local
      ? proxyLocalActivities<JobSteps>({ ...options, ...LOCAL_STEP_OPTIONS })
      : proxyActivities<JobSteps>(options);
  };

/** Load → mark processing → generate, store, record and report each image → finish by the status policy. */
export async function imageJob(input: ImageJobInput): Promise<ImageJobResult> {
  const progress: ImageJobProgress = {
    phase: 'loading',
    totalImages: 0,
    completedImages: 0,
    failedImages: 0,
    attachIds: [],
  };
  setHandler(progressQuery, () => progress);
  const jobSteps = jobStepsLabelled(patched(LOCAL_JOB_STEPS));

  const plan = await loadJob(jobSteps, input.jobId);
  if (!plan)
    return {
      jobId: input.jobId,
      status: 'completed',
      totalImages: 0,
      completedImages: 0,
      failedImages: 0,
      attachIds: [],
      alreadyFinished: true,
    };
  progress.totalImages = plan.quantity;
  upsertSearchAttributes([
    { key: JobIdAttribute, value: plan.jobId },
    { key: ProductionIdAttribute, value: plan.productionId },
    { key: UserIdAttribute, value: plan.userId },
  ]);
  const metrics = jobMetrics();
  metrics.started.add(1);

  try {
    await jobSteps('mark the job processing').markJobProcessing(plan);
    progress.phase = 'generating';
    describeProgress(plan, progress);
    const images = () => makeImages(jobSteps, plan, input.imageConcurrency ?? plan.imageConcurrency, progress);
    if (!patched(JOB_DEADLINE)) await images();
    else if (await endedByDeadline(plan, images)) {
      metrics.pastDeadline.add(1);
      log.warn('job deadline passed: images not made by then count as failed', { jobId: plan.jobId });
    }
  } finally {
    // Runs however phase 3 ended (done, cancelled, failed) so the polled row never stays `processing`;
    // images already made stay recorded and count, images not made count as failed.
    progress.phase = 'finishing';
    progress.failedImages = plan.quantity - progress.attachIds.length;
    const status = progress.attachIds.length > 0 ? 'completed' : 'failed';
    await CancellationScope.nonCancellable(() =>
      jobSteps(
        `finish the job: ${status}, ${progress.attachIds.length} of ${plan.quantity} images`,
        'finishing',
      ).finishJob({
        jobId: plan.jobId,
        productionId: plan.productionId,
        status,
        attachIds: progress.attachIds,
        failedImages: progress.failedImages,
      }),
    );
    progress.phase = 'done';
    describeProgress(plan, progress);
    (progress.attachIds.length > 0 ? metrics.completed : metrics.failed).add(1);
  }

  if (progress.attachIds.length === 0) {
    throw ApplicationFailure.nonRetryable(
      `none of the ${plan.quantity} images of job ${plan.jobId} could be generated`,
      FailureType.noImagesGenerated,
    );
  }
  return {
    jobId: plan.jobId,
    status: 'completed',
    totalImages: plan.quantity,
    completedImages: progress.attachIds.length,
    failedImages: progress.failedImages,
    attachIds: progress.attachIds,
  };
}

// On versioned workers (TEMPORAL_DEPLOYMENT_NAME), a job runs to its end on the build that started it, its Gemini
// calls included: a later build's change to this code never meets its history. Jobs last seconds to minutes, so
// keeping a build's workers until its jobs have drained costs little. Runs started on unversioned workers move to
// the current build at their next task, so a change still needs patched() while such runs may be in flight.
setWorkflowOptions(onVersionedWorkers('PINNED'), imageJob);

/** Phase 1. Data that can never be processed fails the job at once and marks its row, so polling stops. */
async function loadJob(jobSteps: JobStepsLabelled, jobId: string): Promise<JobPlan | undefined> {
  const markFailed = () => jobSteps('mark the job failed', 'finishing').markJobFailed(jobId);
  try {
    const loaded = await jobSteps('load the job').loadJob(jobId);
    return loaded.state === 'ready' ? loaded.plan : undefined;
  } catch (error) {
    if (isCancellation(error)) {
      // Cancelled before anything was done: end the row too, or it would stay `pending` for good.
      await CancellationScope.nonCancellable(markFailed);
      throw error;
    }
    const cause = causeOf(error);
    // Whatever stopped loading for good (bad data, a statement the database rejects), the row must not stay
    // `pending` for the front end to poll forever. A job that does not exist has no row to end.
    if (!(cause instanceof ApplicationFailure && cause.type === FailureType.jobNotFound)) {
      await markFailed();
    }
    if (
      cause instanceof ApplicationFailure &&
      (cause.type === FailureType.invalidJobData || cause.type === FailureType.jobNotFound)
    ) {
      throw ApplicationFailure.nonRetryable(cause.message, cause.type);
    }
    throw error;
  }
}

/** Phase 3: at most `concurrency` images at once, each one generated, stored, recorded and reported. */
async function makeImages(
  jobSteps: JobStepsLabelled,
  plan: JobPlan,
  concurrency: number,
  progress: ImageJobProgress,
): Promise<void> {
  const metrics = jobMetrics();
  const geminiOptions: ActivityOptions = {
    taskQueue: geminiTaskQueue(workflowInfo().taskQueue),
    // The Gemini queue is where a backlog forms (every job's images wait there for the fleet's slots and quota), so
    // that is where the user's fair share applies. Only the job knows its user, once loaded: the bridge starts it
    // knowing the job id alone, and the steps before are local activities, which never wait in a task queue.
    // Priority changes no command, so runs in flight replay without a patch.
    priority: plan.priority,
    // Above the worker's Gemini client timeout (GEMINI_TIMEOUT_MS), so the SDK's own timeout fires first.
    startToCloseTimeout: '5 minutes',
    // A crashed worker's Gemini call is retried elsewhere this long after its last heartbeat.
    heartbeatTimeout: '10 seconds',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      // Five tries at most: each may be a paid call. A refusal, a bad answer or a rejected upload is thrown
      // non-retryable by the activity and is not tried again at all.
      maximumAttempts: 5,
    },
  };

  // Decided here, from workflow time and randomness, so every retry and replay writes the same objects.
  const targets: ImageTarget[] = Array.from({ length: plan.quantity }, () => ({
    folder: plan.outputFolder,
    stem: `generated_${Date.now()}_${Math.random().toString(36).slice(2, 8).padEnd(6, '0')}`,
  }));

  const makeImage = async (target: ImageTarget, index: number): Promise<void> => {
    // Which image this is, for the Web UI's labels and the log's lines.
    const position = { image: index + 1, images: plan.quantity };
    const label = `image ${position.image} of ${position.images}`;
    try {
      const gemini = proxyActivities<ImageGeneration>({ ...geminiOptions, summary: `${label}: generate` });
      const image = await gemini.generateImage({
        jobId: plan.jobId,
        prompt: plan.prompt,
        source: plan.source,
        target,
        ...position,
      });
      const record = () =>
        jobSteps(`${label}: record`).recordImage({ jobId: plan.jobId, image, failedImages: progress.failedImages });
      // A cancel cannot stop a record already under way (it commits in one short transaction), so the workflow
      // waits for it: otherwise the image's id would be in the polled row, yet counted failed and left out of the
      // production photo. Runs recorded before this change keep cancelling the record.
      const attachId = patched(RECORD_COMPLETES_ON_CANCEL)
        ? await CancellationScope.nonCancellable(record)
        : await record();
      progress.attachIds.push(attachId);
      progress.completedImages = progress.attachIds.length;
      metrics.imagesMade.add(1);
    } catch (error) {
      if (isCancellation(error)) throw error;
      progress.failedImages += 1;
      metrics.imagesFailed.add(1);
      log.warn('image failed', { jobId: plan.jobId, ...position, stem: target.stem, reason: reasonOf(error) });
      await jobSteps(`${label}: count it failed`).recordProgress({
        jobId: plan.jobId,
        attachIds: progress.attachIds,
        failedImages: progress.failedImages,
      });
    }
    describeProgress(plan, progress);
  };

  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < targets.length) {
      const index = next++;
      await makeImage(targets[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, targets.length)) }, lane));
}

/**
 * Phase 3 until it ends or the job's deadline passes, counted from the run's start (JOB_DEADLINE_SECONDS, carried by
 * the plan); true when the deadline ended it. What is under way is cancelled as a cancel of the job would cancel it
 * (a record in progress completes), and the workflow goes on to finish the row by the status policy. A cancel of the
 * job itself is not the deadline's and passes through.
 */
async function endedByDeadline(plan: JobPlan, work: () => Promise<void>): Promise<boolean> {
  const deadline = workflowInfo().runStartTime.getTime() + (plan.deadlineSeconds ?? DEFAULT_DEADLINE_SECONDS) * 1000;
  try {
    // At least 1 ms: a timeout of 0 would mean none.
    await CancellationScope.withTimeout(Math.max(1, deadline - Date.now()), work);
    return false;
  } catch (error) {
    if (isCancellation(error) && !CancellationScope.current().consideredCancelled) return true;
    throw error;
  }
}

/**
 * What an activity threw. An activity's failure arrives wrapped in an ActivityFailure; a local activity's arrives
 * as it was thrown (Temporal's core records it unwrapped).
 */
function causeOf(error: unknown): unknown {
  return error instanceof ActivityFailure && error.cause ? error.cause : error;
}

/** The activity's own message, not the wrapper's "Activity task failed". */
function reasonOf(error: unknown): string {
  const failure = causeOf(error);
  return failure instanceof Error ? failure.message : String(failure);
}

/**
 * Shown as the workflow's current details in the Web UI, from the moment the job is loaded: whose job it is, how many
 * images and the prompt's first words (what the bridge, which starts the run knowing only the job's id, could not put
 * in its summary), then the progress.
 */
function describeProgress(plan: JobPlan, progress: ImageJobProgress): void {
  setCurrentDetails(
    `${plan.quantity === 1 ? '1 image' : `${plan.quantity} images`} for user ${plan.userId}: ` +
      `"${firstWords(plan.prompt)}"\n\n` +
      `${progress.completedImages} of ${progress.totalImages} images made, ${progress.failedImages} failed (${progress.phase})`,
  );
}

/** The prompt's first few words, enough to recognise the job by. */
function firstWords(prompt: string, words = 8, maxLength = 60): string {
  const all = prompt.trim().split(/\s+/);
  const head = all.slice(0, words).join(' ').slice(0, maxLength);
  return head.length < all.join(' ').length ? `${head}…` : head;
}

/** The product's counters, exported with the Temporal runtime's metrics; workflow metrics are not repeated on replay. */
function jobMetrics() {
  return {
    started: metricMeter.createCounter('image_jobs_started', 'jobs', 'Jobs whose processing began'),
    completed: metricMeter.createCounter('image_jobs_completed', 'jobs', 'Jobs finished with at least one image'),
    failed: metricMeter.createCounter('image_jobs_failed', 'jobs', 'Jobs finished with no image'),
    imagesMade: metricMeter.createCounter('images_made', 'images', 'Images generated, stored and recorded'),
    imagesFailed: metricMeter.createCounter('images_failed', 'images', 'Images given up on after their retries'),
    pastDeadline: metricMeter.createCounter(
      'image_jobs_past_deadline',
      'jobs',
      'Jobs whose images were cut short by their deadline (JOB_DEADLINE_SECONDS): alert on any',
    ),
  };
}
