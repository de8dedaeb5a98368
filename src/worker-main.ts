import 'dotenv/config';
import { Runtime } from '@temporalio/worker';
import { createActivities } from './activities';
import { createDatabasePool, createJobStore } from './activities/database';
import { createGeminiClient, createImageGenerator } from './activities/gemini';
import { createImageStore, createStorageClient } from './activities/storage';
import { ConfigError, loadWorkerConfig, secretsOf } from './config';
import { createLogger, temporalLoggerFor } from './logger';
import { connectWorkerConnection } from './temporal';
import { createWorkers, runWorkers } from './worker';

/** `npm run start:worker`: runs workflows and activities until SIGINT/SIGTERM, then drains and exits. */
async function main(): Promise<void> {
  const config = loadWorkerConfig();
  const logger = createLogger(config.logLevel, 'worker');
  Runtime.install({ logger: temporalLoggerFor(logger) });

  const pool = createDatabasePool(config.database);
  const activities = createActivities({
    db: createJobStore(pool),
    storage: createImageStore(createStorageClient(config.storage), config.storage.bucket),
    gemini: createImageGenerator(createGeminiClient(config.gemini), config.gemini),
    maxImagesPerJob: config.pipeline.maxImagesPerJob,
    imageConcurrency: config.pipeline.imageConcurrency,
    secrets: secretsOf(config).map((secret) => secret.reveal()),
  });
  const connection = await connectWorkerConnection(config.temporal);
  try {
    const workers = await createWorkers({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      activities,
      maxConcurrentGeminiCalls: config.gemini.maxConcurrentCalls,
    });
    logger.info({ taskQueue: config.temporal.taskQueue, namespace: config.temporal.namespace }, 'worker started');
    await runWorkers(workers);
  } finally {
    await connection.close();
    await pool.end();
  }
  logger.info('worker stopped');
}

main().catch((error: unknown) => {
  // A config error is already a complete, secret-free sentence per variable.
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(1);
});
