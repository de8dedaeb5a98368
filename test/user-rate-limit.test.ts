import { temporal } from '@temporalio/proto';
import { geminiTaskQueue, jobStartOptions } from '../src/contract';
import { imageJob } from '../src/workflows';
import { spawnService, type ServiceProcess } from '../dev/processes';
import { seedJob, startStack, workerEnvironment, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { eventually } from './support/eventually';

/**
 * GEMINI_REQUESTS_PER_MINUTE_PER_USER, as a deployment sets it: the worker process puts it on the Gemini queue at
 * start (Temporal's rate limit per fairness key), a user with a burst of calls is held to it, another user is not
 * slowed by it, and a worker started without it takes it off again.
 */

const PER_MINUTE = 12; // one call every 5 s
let stack: Stack;
const workers: ServiceProcess[] = [];
const taskQueue = uniqueTaskQueue('user-rate');

beforeAll(async () => {
  stack = await startStack({ temporal: true });
});
afterAll(async () => {
  for (const worker of workers) worker.child.kill('SIGKILL');
  await Promise.all(workers.map((worker) => worker.exited));
  await stack?.stop();
});

async function startWorker(extra: Record<string, string>): Promise<ServiceProcess> {
  const worker = spawnService('worker', {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...workerEnvironment(stack),
    LOG_LEVEL: 'info',
    ...extra,
  });
  workers.push(worker);
  await Promise.race([worker.started, worker.exited.then(() => Promise.reject(new Error(worker.output())))]);
  return worker;
}

async function stopWorker(worker: ServiceProcess): Promise<void> {
  worker.child.kill('SIGTERM');
  await worker.exited;
}

async function perUserLimit(): Promise<number | undefined> {
  const { config } = await stack.temporal!.client.workflowService.describeTaskQueue({
    namespace: 'default',
    taskQueue: { name: geminiTaskQueue(taskQueue) },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
    reportConfig: true,
  });
  return config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond ?? undefined;
}

test("a user is held to the per-user rate, another user's calls are not slowed, and unset takes it off", async () => {
  const limited = await startWorker({ GEMINI_REQUESTS_PER_MINUTE_PER_USER: String(PER_MINUTE) });
  expect(limited.output()).toContain('per-user Gemini rate limit set');
  expect(await perUserLimit()).toBeCloseTo(PER_MINUTE / 60, 5);

  // The held user's three calls go first; the other user's one call is asked for once the first of them is made.
  const held = await seedJob(stack, { userId: 'rate-held', quantity: 3 });
  const other = await seedJob(stack, { userId: 'rate-other', quantity: 1 });
  const start = (jobId: string) =>
    stack.temporal!.client.workflow.start(imageJob, { taskQueue, ...jobStartOptions(jobId), args: [{ jobId }] });
  const callTimes = (jobId: string) =>
    stack.gemini.requests.filter((request) => request.imageKey?.startsWith(`${jobId}/`)).map((request) => request.at);
  const heldJob = await start(held.jobId);
  await eventually(async () => callTimes(held.jobId).length > 0, "the held user's first call");
  const otherJob = await start(other.jobId);
  await Promise.all([heldJob.result(), otherJob.result()]);

  const heldCalls = callTimes(held.jobId).sort((a, b) => a - b);
  const [otherCall] = callTimes(other.jobId);
  expect(heldCalls).toHaveLength(3);
  // Held to the rate: three calls at one every 5 s cannot all pass within 6 s, a first one or two let through at once.
  expect(heldCalls[2]! - heldCalls[0]!).toBeGreaterThanOrEqual(6_000);
  // The other user has a budget of its own: its call is not queued behind the held ones.
  expect(otherCall).toBeLessThan(heldCalls[1]!);
  await stopWorker(limited);

  const unlimited = await startWorker({});
  expect(unlimited.output()).toContain('per-user Gemini rate limit removed');
  expect(await perUserLimit()).toBeUndefined();
  await stopWorker(unlimited);
});
