import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { Activities } from '../src/activities';
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

/** Runs the product's workers (main and Gemini queues) on `taskQueue` while `body` runs, then drains them. */
export async function withWorkers<T>(
  env: Pick<TestWorkflowEnvironment, 'nativeConnection' | 'namespace'>,
  taskQueue: string,
  activities: Activities,
  body: () => Promise<T>,
  maxConcurrentGeminiCalls = 16,
): Promise<T> {
  const workers = await createWorkers({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    activities,
    maxConcurrentGeminiCalls,
    workflowBundle: await workflowBundle(),
    shutdownGraceTime: '1 second',
  });
  const running = runWorkers(workers);
  try {
    return await body();
  } finally {
    for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await running;
  }
}
