import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { geminiTaskQueue } from '../../src/contract';
import { runEntryPoint } from '../../src/process/entry-point';
import { createLogger, temporalLoggerFor } from '../../src/process/logger';
import { floorImageGeneration, floorJobSteps } from './floor-activities';

/**
 * The floor's worker as its own process, like the product's: its workflow (a prebuilt bundle, WORKFLOW_BUNDLE_PATH)
 * with its database steps on TEMPORAL_TASK_QUEUE, and its Gemini step on the Gemini queue with
 * GEMINI_MAX_CONCURRENT_CALLS slots, against the dev server at TEMPORAL_ADDRESS. Stops on SIGINT or SIGTERM.
 */
runEntryPoint(async () => {
  const { TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, WORKFLOW_BUNDLE_PATH, GEMINI_MAX_CONCURRENT_CALLS } = process.env;
  if (!TEMPORAL_ADDRESS || !TEMPORAL_TASK_QUEUE || !WORKFLOW_BUNDLE_PATH || !GEMINI_MAX_CONCURRENT_CALLS) {
    throw new Error(
      'TEMPORAL_ADDRESS, TEMPORAL_TASK_QUEUE, WORKFLOW_BUNDLE_PATH and GEMINI_MAX_CONCURRENT_CALLS must be set',
    );
  }
  const log = createLogger(process.env.LOG_LEVEL ?? 'info', 'floor-worker');
  Runtime.install({ logger: temporalLoggerFor(log) });
  const connection = await NativeConnection.connect({ address: TEMPORAL_ADDRESS });
  try {
    const workers = await Promise.all([
      Worker.create({
        connection,
        taskQueue: TEMPORAL_TASK_QUEUE,
        activities: floorJobSteps,
        workflowBundle: { codePath: WORKFLOW_BUNDLE_PATH },
      }),
      Worker.create({
        connection,
        taskQueue: geminiTaskQueue(TEMPORAL_TASK_QUEUE),
        activities: floorImageGeneration,
        maxConcurrentActivityTaskExecutions: Number(GEMINI_MAX_CONCURRENT_CALLS),
      }),
    ]);
    log.info({ taskQueue: TEMPORAL_TASK_QUEUE }, 'worker started');
    // The runtime stops every worker on SIGINT or SIGTERM.
    await Promise.all(workers.map((worker) => worker.run()));
  } finally {
    await connection.close();
  }
});
