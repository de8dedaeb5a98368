import { readFileSync } from 'node:fs';
import path from 'node:path';
import { spawnService, type ImageRuntime, type ServiceProcess } from '../dev/processes';
import { workerEnvironment, type Stack } from '../dev/stack';

/**
 * The worker as the benches run it: compiled, with the prebuilt bundle and the image's runtime settings (or a
 * variant's), `slots` Gemini calls at once and no rate limit of its own; resolves once it serves. A peer's worker
 * (`kind`, bench/peers/) gets the same variables and settings, and reads those it needs.
 */
export async function startBenchWorker(
  stack: Stack,
  options: {
    taskQueue: string;
    sourceMode: 'url' | 'inline';
    slots: number;
    /** The stack's dev server unless given (the scale bench's cluster). */
    temporalAddress?: string;
    namespace?: string;
    runtime?: ImageRuntime;
    /** More of the worker's variables (GEMINI_REQUESTS_PER_MINUTE_PER_USER, FAIRNESS_WEIGHTS). */
    env?: Record<string, string>;
    kind?: 'built-worker' | 'bullmq-worker' | 'floor-worker';
  },
): Promise<ServiceProcess> {
  const worker = spawnService(
    options.kind ?? 'built-worker',
    {
      WORKFLOW_BUNDLE_PATH: path.join(__dirname, '..', 'dist', 'workflow-bundle.js'),
      TEMPORAL_ADDRESS: options.temporalAddress ?? stack.temporal!.address,
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      ...(options.namespace ? { TEMPORAL_NAMESPACE: options.namespace } : {}),
      ...workerEnvironment(stack),
      DATABASE_POOL_MAX: '20',
      GEMINI_MAX_CONCURRENT_CALLS: String(options.slots),
      GEMINI_SOURCE_MODE: options.sourceMode,
      GEMINI_REQUESTS_PER_MINUTE: '100000',
      LOG_LEVEL: 'info', // its 'worker started' line says when it serves
      ...options.env,
    },
    [],
    options.runtime,
  );
  await Promise.race([worker.started, worker.exited.then(() => Promise.reject(new Error(worker.output())))]);
  return worker;
}

export async function stopBenchWorker(worker: ServiceProcess): Promise<void> {
  worker.child.kill('SIGTERM');
  await worker.exited;
}

/** A process's resident memory now (`VmRSS`) or at its peak (`VmHWM`), in MB. */
export function residentMb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)![1]) / 1024;
}
