import { proxyActivities, proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import { geminiTaskQueue } from '../../src/contract';
import type { floorImageGeneration, floorJobSteps } from './floor-activities';

export interface FloorJobInput {
  quantity: number;
  /** Images at once, as the product's per-job concurrency. */
  imageConcurrency: number;
  latencyMs: number;
}

// The product's options for the same steps (src/workflows/image-job.ts): database steps as local activities, the
// Gemini step an activity on the Gemini queue, where the worker's slots are.
const RETRY = { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' } as const;
const steps = proxyLocalActivities<typeof floorJobSteps>({
  startToCloseTimeout: '20 seconds',
  retry: RETRY,
  localRetryThreshold: '10 seconds',
});

/**
 * The floor: a workflow of the product's shape (load, mark, then each image's Gemini step and record, a few at
 * once, then finish) whose activities only wait L. Returns each image's record.
 */
export async function floorJob(input: FloorJobInput): Promise<number[]> {
  const generation = proxyActivities<typeof floorImageGeneration>({
    taskQueue: geminiTaskQueue(workflowInfo().taskQueue),
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '10 seconds',
    retry: { ...RETRY, initialInterval: '2 seconds', maximumAttempts: 5 },
  });
  await steps.loadJob();
  await steps.markJobProcessing();
  const records: number[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < input.quantity) {
      const index = next++;
      await generation.generateImage(input.latencyMs);
      records.push(await steps.recordImage(index));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(input.imageConcurrency, input.quantity)) }, lane));
  await steps.finishJob();
  return records;
}
