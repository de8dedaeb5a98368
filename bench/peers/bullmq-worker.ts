import { Worker } from 'bullmq';
import { createDatabasePool } from '../../src/activities/database';
import { loadWorkerConfig } from '../../src/process/config';
import { abortOnSignals, runEntryPoint } from '../../src/process/entry-point';
import { createLogger, temporalLoggerFor } from '../../src/process/logger';
import { createWorkerActivities } from '../../src/worker/activities';
import { activityCaller } from './activity-context';
import { createImageJobProcessor, type ImageJobData, type ImageJobOutcome } from './bullmq-image-job';
import { connectionTo, WORKER_OPTIONS } from './bullmq-queue';
import { createSlots } from './slots';

/**
 * The bench's BullMQ peer as its own process, like the product's worker: configured by the worker's variables
 * (database, Storage, Gemini, GEMINI_MAX_CONCURRENT_CALLS slots, IMAGE_CONCURRENCY_PER_JOB, LOG_LEVEL), plus
 * REDIS_URL and BULLMQ_QUEUE. Runs jobs until SIGINT or SIGTERM, then lets those in hand finish and exits.
 */
runEntryPoint(async () => {
  const config = loadWorkerConfig();
  const redisUrl = process.env.REDIS_URL;
  const queueName = process.env.BULLMQ_QUEUE;
  if (!redisUrl || !queueName) throw new Error('REDIS_URL and BULLMQ_QUEUE must be set');
  const log = createLogger(config.logLevel, 'bullmq-worker');
  const pool = createDatabasePool(config.database);
  const processor = createImageJobProcessor({
    activities: createWorkerActivities(config, pool),
    call: activityCaller(temporalLoggerFor(log)),
    geminiSlot: createSlots(config.gemini.maxConcurrentCalls),
    log,
  });
  const stop = abortOnSignals();
  const worker = new Worker<ImageJobData, ImageJobOutcome>(queueName, processor, {
    connection: connectionTo(redisUrl),
    ...WORKER_OPTIONS,
  });
  worker.on('error', (error) => log.error({ err: error.message }, 'worker error'));
  try {
    await worker.waitUntilReady();
    log.info({ queueName }, 'worker started');
    await new Promise((resolve) => stop.signal.addEventListener('abort', resolve, { once: true }));
  } finally {
    await worker.close();
    await pool.end();
  }
  log.info('worker stopped');
});
