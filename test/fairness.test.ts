import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { finishedBefore } from '../dev/flood';
import { DATA_DIR } from '../dev/setup-scripts';
import { startStack, type Stack } from '../dev/stack';
import { startDevServerProcess, type DevServerProcess } from '../dev/temporal-dev-server';
import { floodOneWorker, HEAVY, LIGHT } from './support/flood';

/**
 * One user's batch against another user's single job: with fairness (the project's dev server), the light user's job
 * ends before most of the heavy user's backlog; first in, first out (a dev server with fairness off, as Temporal
 * ships it), after nearly all of it. The order of the ends is asserted, not their times. cluster.test.ts runs the
 * same flood on the cluster.
 */

let stack: Stack;
let fifoServer: DevServerProcess;
let fifo: TestWorkflowEnvironment;

beforeAll(async () => {
  [stack, fifoServer] = await Promise.all([
    startStack({ temporal: true }),
    startDevServerProcess({
      cliPath: process.env.TEMPORAL_CLI_PATH!,
      port: 'free',
      logFile: path.join(DATA_DIR, 'temporal-fifo.log'),
      dynamicConfig: { 'matching.enableFairness': false },
    }),
  ]);
  fifo = await TestWorkflowEnvironment.createFromExistingServer({ address: fifoServer.address });
});
afterAll(async () => {
  await fifo?.teardown();
  await fifoServer?.stop();
  await stack?.stop();
});

test("with fairness, a light user's job ends before most of a heavy user's backlog", async () => {
  const jobs = await floodOneWorker(stack.temporal!, stack);
  expect(jobs.filter((job) => job.status === 'completed')).toHaveLength(HEAVY.jobs + LIGHT.jobs);
  expect(finishedBefore(jobs, HEAVY.userId, LIGHT.userId)).toBeLessThanOrEqual(HEAVY.jobs / 3);
});

test('first in, first out, the same job ends after nearly all of the backlog', async () => {
  const jobs = await floodOneWorker(fifo, stack);
  expect(jobs.filter((job) => job.status === 'completed')).toHaveLength(HEAVY.jobs + LIGHT.jobs);
  expect(finishedBefore(jobs, HEAVY.userId, LIGHT.userId)).toBeGreaterThanOrEqual((HEAVY.jobs * 3) / 4);
});
