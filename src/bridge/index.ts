import { checkDatabaseTls, createDatabasePool, createJobStore } from '../activities/database';
import type { BridgeConfig } from '../process/config';
import type { Logger } from '../process/logger';
import { checkTemporalCredentials, lazyClient } from '../process/temporal-connection';
import { TRACING_OFF, type Tracing } from '../process/tracing';
import { createBridge } from './bridge';
import { createJobStartPriority } from './job-start-priority';
import { createJobStarter } from './job-starter';
import { createJobQueue } from './queue';
import { messageOf } from '../process/errors';
import { retryUntilStopped } from './retry';
import { ensureSweepSchedule } from './sweep-schedule';

/**
 * The bridge as a process needs it: Redis and Temporal, and Postgres (when DATABASE_URL is set) to start each job's
 * workflow with its user's fairness key. Resolves when `signal` aborts and the starts in flight have finished.
 */
export async function runBridge(
  config: BridgeConfig,
  log: Logger,
  signal: AbortSignal,
  tracing: Tracing = TRACING_OFF,
): Promise<void> {
  const unchecked = await checkTemporalCredentials(config.temporal);
  if (unchecked) {
    log.warn(
      { address: config.temporal.address, err: unchecked },
      'Temporal did not answer the start-up check; the bridge starts and its starts retry until it does',
    );
  }
  const client = lazyClient(config.temporal, tracing.clientInterceptors);
  const queue = createJobQueue(config.queue);
  const pool = config.database && createDatabasePool(config.database);
  try {
    await queue.checkAccess();
    if (pool) await checkDatabaseTls(pool);
    else log.warn('DATABASE_URL is not set: job workflows start without their user, first in, first out');
    // The schedule is not needed to move ids, so the bridge serves while this waits for Temporal.
    void retryUntilStopped(
      () => ensureSweepSchedule(client, { taskQueue: config.temporal.taskQueue, ...config.sweep }),
      {
        signal,
        firstDelayMs: 1_000,
        maxDelayMs: 60_000,
        onFailure: (error, attempt, delayMs) =>
          log.warn({ attempt, delayMs, err: messageOf(error) }, 'creating the sweep schedule failed; retrying'),
      },
    ).then((scheduleId) => scheduleId && log.info({ scheduleId }, 'sweep schedule in place'));
    const bridge = createBridge({
      queue,
      startJob: createJobStarter(client, {
        taskQueue: config.temporal.taskQueue,
        rerunFailed: config.bridge.rerunFailed,
        ...(pool ? { priority: createJobStartPriority(createJobStore(pool), config.fairness.weights, log) } : {}),
      }),
      log,
      jobIdFormat: config.queue.jobIdFormat,
      concurrency: config.bridge.concurrency,
      stopGraceMs: config.bridge.stopGraceSeconds * 1000,
    });
    signal.addEventListener('abort', () => bridge.stop(), { once: true });
    log.info({ queue: queue.keys, taskQueue: config.temporal.taskQueue, tls: config.temporal.tls }, 'bridge started');
    await bridge.run();
    log.info('bridge stopped');
  } finally {
    queue.close();
    await pool?.end();
    await client.connection.close();
  }
}
