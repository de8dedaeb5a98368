import { Runtime, Worker, type NativeConnection, type WorkflowBundleOption } from '@temporalio/worker';
import type { Duration, WorkerDeploymentVersion } from '@temporalio/common';
import type { Activities } from '../activities';
import { checkDatabaseTls, createDatabasePool } from '../activities/database';
import type { WorkerConfig } from '../process/config';
import { temporalLoggerFor, type Logger } from '../process/logger';
import { geminiTaskQueue } from '../contract';
import { connectWorkerConnection, holdFairnessKeyRateLimit } from '../process/temporal-connection';
import { TRACING_OFF, type Tracing } from '../process/tracing';
import { createWorkerActivities } from './activities';
import { prebuiltBundle } from './workflow-bundle';

export interface WorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: Activities;
  /** Gemini calls this worker makes at once; the fleet's share of the quota. */
  maxConcurrentGeminiCalls: number;
  /**
   * The job's database and storage steps (local activities) this worker runs at once, and with its polls, its
   * workflow tasks; default 10. Each step holds a database connection and loading holds a source, so more would wait
   * for the pool and hold more sources.
   */
  maxConcurrentJobSteps?: number;
  /** Gemini calls per minute for the whole fleet: a server-side limit on the Gemini task queue. */
  geminiRequestsPerMinute?: number;
  /** A prebuilt bundle (tests, images); otherwise the workflows are bundled from source at start. */
  workflowBundle?: WorkflowBundleOption;
  /** How long a shutdown waits for activities in flight before cancelling them. */
  shutdownGraceTime?: Duration;
  /** The tracing's plugin, when tracing is on. */
  plugins?: Tracing['workerPlugins'];
  /** Worker Versioning: the deployment version both workers belong to; unset, they are unversioned. */
  deployment?: WorkerDeploymentVersion;
}

/** Workflow task polls at once: the SDK's default, named because the workflow task slots count them. */
const WORKFLOW_TASK_POLLS = 10;

/**
 * Two workers in one process: workflows with the short database/storage activities on the main task queue,
 * and Gemini calls on their own queue, where slots per worker bound this worker's share of the quota.
 *
 * Versioned, both poll as the same deployment version, so the server sends a pinned job's Gemini calls to the Gemini
 * workers of the build that runs the job, never to another build's.
 */
export async function createWorkers(options: WorkerOptions): Promise<Worker[]> {
  const { connection, namespace, taskQueue, activities, shutdownGraceTime = '30 seconds', plugins = [] } = options;
  const jobSteps = options.maxConcurrentJobSteps ?? 10;
  const workflows = options.workflowBundle
    ? { workflowBundle: options.workflowBundle }
    : { workflowsPath: require.resolve('../workflows') };
  const versioning = options.deployment
    ? {
        workerDeploymentOptions: {
          version: options.deployment,
          useWorkerVersioning: true,
          // Each workflow type declares its own behavior (imageJob pinned, the sweep auto-upgrading); one that did
          // not would be pinned, the choice that never runs a history on code it did not start on.
          defaultVersioningBehavior: 'PINNED',
        } as const,
      }
    : {};
  return Promise.all([
    Worker.create({
      connection,
      namespace,
      taskQueue,
      activities: activities.jobSteps,
      // The SDK's defaults are 100 steps and 40 workflow tasks at once. A workflow task holds its slot while its job's
      // steps run, so tasks beyond the steps that can run only share them: under a burst every job's first step then
      // slows, and the tasks wait here, where no user is ahead of another. Left in Temporal's queue instead, they are
      // served by user (fairness) and each taken one runs at full speed. Each poll holds a slot while it waits, so
      // the polls get slots of their own on top of the steps'.
      maxConcurrentLocalActivityExecutions: jobSteps,
      maxConcurrentWorkflowTaskPolls: WORKFLOW_TASK_POLLS,
      maxConcurrentWorkflowTaskExecutions: jobSteps + WORKFLOW_TASK_POLLS,
      shutdownGraceTime,
      plugins,
      ...versioning,
      ...workflows,
    }),
    Worker.create({
      connection,
      namespace,
      taskQueue: geminiTaskQueue(taskQueue),
      activities: activities.imageGeneration,
      maxConcurrentActivityTaskExecutions: options.maxConcurrentGeminiCalls,
      ...(options.geminiRequestsPerMinute
        ? { maxTaskQueueActivitiesPerSecond: options.geminiRequestsPerMinute / 60 }
        : {}),
      shutdownGraceTime,
      plugins,
      ...versioning,
    }),
  ]);
}

/** Runs until every worker has stopped; one failing stops the others, so the process never half-serves. */
export async function runWorkers(workers: Worker[]): Promise<void> {
  const runs = workers.map((worker) => worker.run());
  try {
    await Promise.all(runs);
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(runs);
  }
}

/**
 * Once per process, before any worker: SDK, workflow and activity logs through pino, and (when configured) a
 * Prometheus endpoint with the runtime's metrics and the product's counters and Gemini latency.
 */
export function installTemporalRuntime(log: Logger, metricsBindAddress: string | undefined): void {
  Runtime.install({
    logger: temporalLoggerFor(log),
    ...(metricsBindAddress
      ? { telemetryOptions: { metrics: { prometheus: { bindAddress: metricsBindAddress } } } }
      : {}),
  });
}

/**
 * The worker as a process needs it: Postgres, Storage, Gemini and Temporal. Runs until the Temporal Runtime's
 * shutdown signals (SIGINT, SIGTERM), or `stop`, drain it, then closes its connections.
 */
export async function runWorker(
  config: WorkerConfig,
  log: Logger,
  stop?: AbortSignal,
  tracing: Tracing = TRACING_OFF,
): Promise<void> {
  const pool = createDatabasePool(config.database);
  const activities = createWorkerActivities(config, pool);
  let connection: NativeConnection;
  try {
    await checkDatabaseTls(pool);
    connection = await connectWorkerConnection(config.temporal);
  } catch (error) {
    await pool.end();
    throw error;
  }
  try {
    const perUser = config.gemini.requestsPerMinutePerUser;
    const rateLimit = await holdFairnessKeyRateLimit(
      connection,
      {
        namespace: config.temporal.namespace,
        taskQueue: geminiTaskQueue(config.temporal.taskQueue),
        variable: 'GEMINI_REQUESTS_PER_MINUTE_PER_USER',
      },
      perUser && perUser / 60,
    );
    if (rateLimit !== 'unchanged')
      log.info({ requestsPerMinute: perUser ?? null }, `per-user Gemini rate limit ${rateLimit}`);
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities,
      maxConcurrentGeminiCalls: config.gemini.maxConcurrentCalls,
      maxConcurrentJobSteps: config.database.poolMax,
      geminiRequestsPerMinute: config.gemini.requestsPerMinute,
      workflowBundle: prebuiltBundle(config.workflowBundlePath, tracing.workerPlugins.length > 0),
      plugins: tracing.workerPlugins,
      deployment: config.deployment,
    });
    const shutdown = () =>
      workers.filter((worker) => worker.getState() === 'RUNNING').forEach((worker) => worker.shutdown());
    stop?.addEventListener('abort', shutdown, { once: true });
    const { taskQueue, namespace, tls } = config.temporal;
    const { deploymentName, buildId } = config.deployment ?? {};
    log.info({ taskQueue, namespace, tls, deploymentName, buildId }, 'worker started');
    await runWorkers(workers);
  } finally {
    await connection.close();
    await pool.end();
  }
  log.info('worker stopped');
}
