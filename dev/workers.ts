import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../src/activities';
import { geminiTaskQueue } from '../src/contract';
import { createWorkers, runWorkers } from '../src/worker/worker';

const noop = () => undefined;
/** Bundler and SDK chatter is not test output. */
export const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

let tracedBundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling takes seconds; a process does it once. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger });
  return bundle;
}

/** The bundle with tracing's workflow interceptors, as `npm run build` makes it for a tracing worker. */
export function tracedWorkflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  tracedBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../src/workflows'),
    workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
    logger: quietLogger,
  });
  return tracedBundle;
}

export function uniqueTaskQueue(name: string): string {
  return `${name}-${randomUUID()}`;
}

/**
 * Runs the product's workers (main and Gemini queues) on `taskQueue` while `body` runs, then drains them; as a
 * deployment version's, when `deployment` names one.
 */
export async function withWorkers<T>(
  env: Pick<TestWorkflowEnvironment, 'nativeConnection' | 'namespace'>,
  taskQueue: string,
  activities: Activities,
  body: () => Promise<T>,
  maxConcurrentGeminiCalls = 16,
  deployment?: WorkerDeploymentVersion,
): Promise<T> {
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities,
    maxConcurrentGeminiCalls,
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
    deployment,
  });
  const running = runWorkers(workers);
  try {
    return await body();
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  }
}

/**
 * Waits until the server lists a deployment version with pollers on both of the product's task queues: until then
 * it refuses to make the version current or ramping.
 */
export async function untilVersionPolls(
  client: Client,
  namespace: string,
  version: WorkerDeploymentVersion,
  taskQueue: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const polled = await client.workflowService
      .describeWorkerDeploymentVersion({ namespace, deploymentVersion: version })
      .then(({ workerDeploymentVersionInfo: info }) => new Set((info?.taskQueueInfos ?? []).map((queue) => queue.name)))
      .catch(() => new Set<string | null | undefined>()); // not known yet: no worker of it has polled
    if (polled.has(taskQueue) && polled.has(geminiTaskQueue(taskQueue))) return;
    if (Date.now() > deadline) throw new Error(`build ${version.buildId} not polling ${taskQueue} in time`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
