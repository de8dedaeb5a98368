import { ApplicationFailure, defaultPayloadConverter } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Activities, ImageTarget, JobPlan, JobSteps, LoadedJob, StoredImage } from '../src/activities';
import { FailureType, workflowIdForJob, type ImageJobResult } from '../src/contract';
import { imageJob, progressQuery } from '../src/workflows';
import { keepHistory } from './support/histories';
import { startTemporal } from '../dev/temporal-dev-server';
import { uniqueTaskQueue, withWorkers } from '../dev/workers';

/**
 * Workflow logic alone, on the real dev server, with stub activities that keep their "rows" in memory:
 * the status policy, invalid data, retry classification, the concurrency cap, progress and cancellation.
 */

type Outcome = 'ok' | ((target: ImageTarget, attempt: number) => Error | 'ok');

interface Stub {
  activities: Activities;
  calls: {
    generate: Map<string, number>;
    markedFailed: string[];
    progress: Array<{ attachIds: number[]; failedImages: number }>;
  };
  finished: Parameters<JobSteps['finishJob']>[0][];
  maxInFlight: number;
  release: () => void;
}

function plan(overrides: Partial<JobPlan> = {}): JobPlan {
  return {
    jobId: 'job-1',
    productionId: 'prod-1',
    prompt: 'a cat',
    quantity: 3,
    userId: 'user-1',
    restart: false,
    source: { path: 'sources/cat.png', mimeType: 'image/png', size: 1234 },
    outputFolder: 'generated-images/user-1',
    imageConcurrency: 4,
    ...overrides,
  };
}

function stubActivities(options: { load: () => LoadedJob; outcome?: Outcome; holdGeneration?: boolean }): Stub {
  const outcome = options.outcome ?? 'ok';
  let inFlight = 0;
  let nextAttachId = 100;
  let releaseHeld: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (releaseHeld = resolve));
  const stub: Stub = {
    calls: { generate: new Map(), markedFailed: [], progress: [] },
    finished: [],
    maxInFlight: 0,
    release: () => releaseHeld(),
    activities: {
      jobSteps: {
        loadJob: async () => options.load(),
        markJobProcessing: async () => undefined,
        recordImage: async ({ failedImages }) => {
          const attachId = nextAttachId++;
          stub.calls.progress.push({ attachIds: [attachId], failedImages });
          return attachId;
        },
        recordProgress: async (progress) => void stub.calls.progress.push(progress),
        finishJob: async (finish) => void stub.finished.push(finish),
        markJobFailed: async (jobId) => void stub.calls.markedFailed.push(jobId),
        findStalePendingJobs: async () => [],
      },
      imageGeneration: {
        generateImage: async ({ target }): Promise<StoredImage> => {
          const attempt = (stub.calls.generate.get(target.stem) ?? 0) + 1;
          stub.calls.generate.set(target.stem, attempt);
          inFlight += 1;
          stub.maxInFlight = Math.max(stub.maxInFlight, inFlight);
          try {
            await new Promise((resolve) => setTimeout(resolve, 50));
            if (options.holdGeneration) await held;
            const result = outcome === 'ok' ? 'ok' : outcome(target, attempt);
            if (result !== 'ok') throw result;
            const fileName = `${target.stem}.png`;
            return { path: `${target.folder}/${fileName}`, fileName, mimeType: 'image/png', size: 10 };
          } finally {
            inFlight -= 1;
          }
        },
      },
    },
  };
  return stub;
}

describe('imageJob workflow', () => {
  let env: TestWorkflowEnvironment;
  beforeAll(async () => {
    env = await startTemporal();
  });
  afterAll(async () => {
    await env?.teardown();
  });

  async function run(stub: Stub, jobId = 'job-1', imageConcurrency?: number): Promise<ImageJobResult> {
    const taskQueue = uniqueTaskQueue('workflow');
    return withWorkers(env, taskQueue, stub.activities, () =>
      env.client.workflow.execute(imageJob, {
        taskQueue,
        workflowId: `${workflowIdForJob(jobId)}-${taskQueue}`,
        args: [{ jobId, imageConcurrency }],
      }),
    );
  }

  async function runExpectingFailure(stub: Stub, jobId = 'job-1'): Promise<ApplicationFailure> {
    const error = await run(stub, jobId).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkflowFailedError);
    const cause = (error as WorkflowFailedError).cause;
    expect(cause).toBeInstanceOf(ApplicationFailure);
    return cause as ApplicationFailure;
  }

  test('every image made: completed, each id once, job finished once', async () => {
    const stub = stubActivities({ load: () => ({ state: 'ready', plan: plan({ quantity: 3 }) }) });
    const result = await run(stub);
    const ids = result.attachIds; // in the order the workflow saw the images recorded
    expect([...ids].sort()).toEqual([100, 101, 102]);
    expect(result).toEqual({
      jobId: 'job-1',
      status: 'completed',
      totalImages: 3,
      completedImages: 3,
      failedImages: 0,
      attachIds: ids,
    });
    expect(stub.finished).toEqual([
      { jobId: 'job-1', productionId: 'prod-1', status: 'completed', attachIds: ids, failedImages: 0 },
    ]);
    // Each image reported its own id with its record, once; no separate progress write was needed.
    expect(stub.calls.progress.map((p) => p.attachIds[0]).sort()).toEqual([...ids].sort());
    expect(stub.calls.progress.every((p) => p.attachIds.length === 1)).toBe(true);
    // Each image has its own deterministic stem in the user's folder, generated_{timestamp}_{random6}.
    const stems = [...stub.calls.generate.keys()];
    expect(new Set(stems).size).toBe(3);
    for (const stem of stems) expect(stem).toMatch(/^generated_\d{13}_[0-9a-z]{6}$/);
  });

  test('some made: completed with the failures counted, and a blocked image is not retried', async () => {
    let index = 0;
    const blocked = new Set<string>();
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 4 }) }),
      outcome: (target) => {
        if (!blocked.has(target.stem) && blocked.size < 2 && index++ % 2 === 0) blocked.add(target.stem);
        return blocked.has(target.stem) ? ApplicationFailure.nonRetryable('blocked', FailureType.geminiBlocked) : 'ok';
      },
    });
    const result = await run(stub, 'job-1', 1);
    expect(result.status).toBe('completed');
    expect(result.completedImages).toBe(2);
    expect(result.failedImages).toBe(2);
    expect(stub.finished[0]).toMatchObject({ status: 'completed', failedImages: 2 });
    for (const stem of blocked) expect(stub.calls.generate.get(stem)).toBe(1);
  });

  test('a 429 is retried after the server-given delay and then succeeds', async () => {
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 2 }) }),
      outcome: (_target, attempt) =>
        attempt < 3
          ? ApplicationFailure.create({ message: 'quota', type: FailureType.geminiRateLimited, nextRetryDelay: 100 })
          : 'ok',
    });
    const result = await run(stub);
    expect(result.completedImages).toBe(2);
    expect([...stub.calls.generate.values()]).toEqual([3, 3]);
  });

  test('none made: the job is finished failed and the workflow fails with NoImagesGenerated', async () => {
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 2 }) }),
      outcome: () => ApplicationFailure.nonRetryable('text only', FailureType.geminiNoImage),
    });
    const failure = await runExpectingFailure(stub);
    expect(failure.type).toBe(FailureType.noImagesGenerated);
    expect(failure.message).toBe('none of the 2 images of job job-1 could be generated');
    expect(stub.finished).toEqual([
      { jobId: 'job-1', productionId: 'prod-1', status: 'failed', attachIds: [], failedImages: 2 },
    ]);
  });

  test('invalid job data fails at once, marks the row failed and retries nothing', async () => {
    let loads = 0;
    const stub = stubActivities({
      load: () => {
        loads += 1;
        throw ApplicationFailure.nonRetryable('job job-9: quantity must be at least 1', FailureType.invalidJobData);
      },
    });
    const failure = await runExpectingFailure(stub, 'job-9');
    expect(failure.type).toBe(FailureType.invalidJobData);
    expect(failure.message).toBe('job job-9: quantity must be at least 1');
    expect(loads).toBe(1);
    expect(stub.calls.markedFailed).toEqual(['job-9']);
    expect(stub.calls.generate.size).toBe(0);
    expect(stub.finished).toEqual([]);
  });

  test('a job that does not exist fails with JobNotFound and touches nothing', async () => {
    const stub = stubActivities({
      load: () => {
        throw ApplicationFailure.nonRetryable('job nope does not exist', FailureType.jobNotFound);
      },
    });
    const failure = await runExpectingFailure(stub, 'nope');
    expect(failure.type).toBe(FailureType.jobNotFound);
    expect(stub.calls.markedFailed).toEqual([]);
  });

  test('a statement the database rejects for good while loading still ends the row, with the error kept', async () => {
    const stub = stubActivities({
      load: () => {
        throw ApplicationFailure.nonRetryable('database rejected a statement (42703)', FailureType.databasePermanent);
      },
    });
    // A local activity's failure reaches the workflow, and so its result, as the activity threw it.
    const failure = await runExpectingFailure(stub, 'job-7');
    expect(failure.type).toBe(FailureType.databasePermanent);
    expect(failure.message).toBe('database rejected a statement (42703)');
    expect(stub.calls.markedFailed).toEqual(['job-7']);
    expect(stub.calls.generate.size).toBe(0);
  });

  test('an already completed job is left alone', async () => {
    const stub = stubActivities({ load: () => ({ state: 'completed', jobId: 'job-1' }) });
    const result = await run(stub);
    expect(result).toMatchObject({ status: 'completed', alreadyFinished: true });
    expect(stub.calls.generate.size).toBe(0);
    expect(stub.finished).toEqual([]);
  });

  test.each([
    [4, 8, 4],
    [1, 3, 1],
    [6, 2, 2],
  ])('with a per-job cap of %i, %i images run at most %i at once', async (cap, quantity, expected) => {
    const stub = stubActivities({ load: () => ({ state: 'ready', plan: plan({ quantity }) }) });
    const result = await run(stub, 'job-1', cap);
    expect(result.completedImages).toBe(quantity);
    expect(stub.maxInFlight).toBe(expected);
  });

  test('cancelled while loading, the row is still ended rather than left pending', async () => {
    const stub = stubActivities({ load: () => ({ state: 'ready', plan: plan() }) });
    let releaseLoad: () => void = () => undefined;
    let loadStarted: () => void = () => undefined;
    const loading = new Promise<void>((resolve) => (loadStarted = resolve));
    stub.activities.jobSteps.loadJob = () => {
      loadStarted();
      return new Promise((resolve) => (releaseLoad = () => resolve({ state: 'ready', plan: plan() })));
    };
    const taskQueue = uniqueTaskQueue('cancel-load');
    await withWorkers(env, taskQueue, stub.activities, async () => {
      const handle = await env.client.workflow.start(imageJob, {
        taskQueue,
        workflowId: taskQueue,
        args: [{ jobId: 'job-7' }],
        // While a local activity runs, its workflow task stays open and the cancel reaches the workflow only with
        // the task's heartbeat, at 80% of this timeout: 8 s at the default of 10, 1.6 s here.
        workflowTaskTimeout: '2 seconds',
      });
      await loading;
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      releaseLoad();
    });
    expect(stub.calls.markedFailed).toEqual(['job-7']);
    expect(stub.calls.generate.size).toBe(0);
  });

  test('cancelled while an image is being recorded: the record completes and the image counts as made', async () => {
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 3 }) }),
      holdGeneration: true,
    });
    const record = stub.activities.jobSteps.recordImage;
    let recordStarted = false;
    let commitRecord: () => void = () => undefined;
    const committed = new Promise<void>((resolve) => (commitRecord = resolve));
    // The first image is made at once and its record waits for the test; the others wait for a release that never
    // comes (they are cancelled).
    let made = 0;
    const generate = stub.activities.imageGeneration.generateImage;
    stub.activities.imageGeneration.generateImage = async (request) =>
      made++ === 0 ? { path: 'p/a.png', fileName: 'a.png', mimeType: 'image/png', size: 1 } : generate(request);
    stub.activities.jobSteps.recordImage = async (request) => {
      recordStarted = true;
      await committed;
      return record(request);
    };
    const taskQueue = uniqueTaskQueue('cancel-record');
    await withWorkers(env, taskQueue, stub.activities, async () => {
      const handle = await env.client.workflow.start(imageJob, {
        taskQueue,
        workflowId: `cancel-record-${taskQueue}`,
        args: [{ jobId: 'job-1', imageConcurrency: 1 }],
      });
      for (let i = 0; i < 100 && !recordStarted; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(recordStarted).toBe(true);
      await handle.cancel();
      await new Promise((resolve) => setTimeout(resolve, 500));
      commitRecord();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      stub.release();
      await keepHistory(handle, 'cancelled-while-recording');
    });
    expect(stub.finished).toEqual([
      { jobId: 'job-1', productionId: 'prod-1', status: 'completed', attachIds: [100], failedImages: 2 },
    ]);
  });

  test('the Web UI reads like the pipeline: every step labelled, the job and its progress in the details', async () => {
    const prompt = 'The same scene at another time of day, in another season, seen from the hill';
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 2, prompt, userId: 'user-7' }) }),
      // The second image is refused, so its failure is counted too.
      outcome: () =>
        stub.calls.generate.size === 2 ? ApplicationFailure.nonRetryable('blocked', FailureType.geminiBlocked) : 'ok',
    });
    const taskQueue = uniqueTaskQueue('labels');
    await withWorkers(env, taskQueue, stub.activities, async () => {
      const handle = await env.client.workflow.start(imageJob, {
        taskQueue,
        workflowId: `labels-${taskQueue}`,
        args: [{ jobId: 'job-1', imageConcurrency: 1 }],
      });
      await handle.result();
      const { events } = await handle.fetchHistory();
      const summaries = (events ?? []).flatMap((event) => {
        const summary = event.userMetadata?.summary;
        return summary ? [defaultPayloadConverter.fromPayload<string>(summary)] : [];
      });
      expect(summaries).toEqual([
        'load the job',
        'mark the job processing',
        'image 1 of 2: generate',
        'image 1 of 2: record',
        'image 2 of 2: generate',
        'image 2 of 2: count it failed',
        'finish the job: completed, 1 of 2 images',
      ]);
      const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
      expect(metadata.currentDetails).toBe(
        '2 images for user user-7: "The same scene at another time of day,…"\n\n1 of 2 images made, 1 failed (done)',
      );
    });
  });

  describe("the job's deadline (JOB_DEADLINE_SECONDS, counted from the run's start)", () => {
    /** The first image is made (or fails) at once; the others wait for a release that comes after the run ends. */
    async function runStuckAfterFirst(quantity: number, deadlineSeconds: number, first: 'made' | 'failed') {
      let made = 0;
      const stub = stubActivities({
        load: () => ({ state: 'ready', plan: plan({ quantity, deadlineSeconds }) }),
        holdGeneration: true,
      });
      const generate = stub.activities.imageGeneration.generateImage;
      stub.activities.imageGeneration.generateImage = async (request) => {
        if (made++ > 0) return generate(request);
        if (first === 'failed') throw ApplicationFailure.nonRetryable('blocked', FailureType.geminiBlocked);
        return { path: 'p/a.png', fileName: 'a.png', mimeType: 'image/png', size: 1 };
      };
      const taskQueue = uniqueTaskQueue('deadline');
      const outcome = await withWorkers(env, taskQueue, stub.activities, async () => {
        const handle = await env.client.workflow.start(imageJob, {
          taskQueue,
          workflowId: `deadline-${taskQueue}`,
          args: [{ jobId: 'job-1', imageConcurrency: 2 }],
        });
        const ended = await handle.result().catch((error: unknown) => error);
        stub.release();
        if (first === 'made') await keepHistory(handle, 'past-deadline');
        return ended;
      });
      return { stub, outcome };
    }

    test('ends the images still under way, then finishes the row by the policy with what was made', async () => {
      const { stub, outcome } = await runStuckAfterFirst(3, 3, 'made');
      expect(outcome).toEqual({
        jobId: 'job-1',
        status: 'completed',
        totalImages: 3,
        completedImages: 1,
        failedImages: 2,
        attachIds: [100],
      });
      expect(stub.finished).toEqual([
        { jobId: 'job-1', productionId: 'prod-1', status: 'completed', attachIds: [100], failedImages: 2 },
      ]);
    });

    test('with nothing made by then, the row ends failed and so does the workflow, as NoImagesGenerated', async () => {
      const { stub, outcome } = await runStuckAfterFirst(2, 2, 'failed');
      expect(outcome).toBeInstanceOf(WorkflowFailedError);
      expect((outcome as WorkflowFailedError).cause).toMatchObject({ type: FailureType.noImagesGenerated });
      expect(stub.finished).toEqual([
        { jobId: 'job-1', productionId: 'prod-1', status: 'failed', attachIds: [], failedImages: 2 },
      ]);
    });

    test('a job done before its deadline is not touched by it', async () => {
      const stub = stubActivities({
        load: () => ({ state: 'ready', plan: plan({ quantity: 2, deadlineSeconds: 2 }) }),
      });
      const taskQueue = uniqueTaskQueue('before-deadline');
      const result = await withWorkers(env, taskQueue, stub.activities, async () => {
        const handle = await env.client.workflow.start(imageJob, {
          taskQueue,
          workflowId: `before-deadline-${taskQueue}`,
          args: [{ jobId: 'job-1' }],
        });
        const ended = await handle.result();
        await keepHistory(handle, 'before-deadline');
        return ended;
      });
      expect(result).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 0 });
      // Long after the deadline's timer would have fired, nothing else happened.
      await new Promise((resolve) => setTimeout(resolve, 2_500));
      expect(stub.finished).toHaveLength(1);
    });
  });

  test("a worker runs at most 10 job steps (local activities) at once, not the SDK's 100", async () => {
    let inFlight = 0;
    let most = 0;
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const stub = stubActivities({ load: () => ({ state: 'ready', plan: plan({ quantity: 1 }) }) });
    stub.activities.jobSteps.loadJob = async (jobId) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      await released;
      inFlight -= 1;
      return { state: 'ready', plan: plan({ jobId, quantity: 1 }) };
    };
    const taskQueue = uniqueTaskQueue('step-slots');
    await withWorkers(env, taskQueue, stub.activities, async () => {
      const runs = Array.from({ length: 14 }, (_, i) =>
        env.client.workflow.execute(imageJob, {
          taskQueue,
          workflowId: `step-slots-${i}-${taskQueue}`,
          args: [{ jobId: `job-${i}` }],
        }),
      );
      for (let i = 0; i < 200 && inFlight < 10; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      // Given the time to start more, none does.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect({ inFlight, most }).toEqual({ inFlight: 10, most: 10 });
      release();
      expect(await Promise.all(runs)).toHaveLength(14);
    });
  });

  test('progress is queryable mid-job, and cancelling keeps made images and finishes by the policy', async () => {
    let made = 0;
    const stub = stubActivities({
      load: () => ({ state: 'ready', plan: plan({ quantity: 3 }) }),
      holdGeneration: true,
    });
    const generate = stub.activities.imageGeneration.generateImage;
    // The first image is made at once; the others wait until released (which never happens: they are cancelled).
    stub.activities.imageGeneration.generateImage = async (request) =>
      made++ === 0 ? { path: 'p/a.png', fileName: 'a.png', mimeType: 'image/png', size: 1 } : generate(request);
    const taskQueue = uniqueTaskQueue('cancel');
    await withWorkers(env, taskQueue, stub.activities, async () => {
      const handle = await env.client.workflow.start(imageJob, {
        taskQueue,
        workflowId: `cancel-${taskQueue}`,
        args: [{ jobId: 'job-1', imageConcurrency: 1 }],
      });
      let progress = await handle.query(progressQuery);
      for (let i = 0; i < 100 && progress.completedImages < 1; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        progress = await handle.query(progressQuery);
      }
      expect(progress).toEqual({
        phase: 'generating',
        totalImages: 3,
        completedImages: 1,
        failedImages: 0,
        attachIds: [100],
      });
      await handle.cancel();
      await expect(handle.result()).rejects.toThrow(WorkflowFailedError);
      stub.release();
      await keepHistory(handle, 'cancelled');
    });
    expect(stub.finished).toEqual([
      { jobId: 'job-1', productionId: 'prod-1', status: 'completed', attachIds: [100], failedImages: 2 },
    ]);
  });
});
