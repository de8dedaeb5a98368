import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_TASK_QUEUE } from './contract';

/**
 * Holds a credential so that it cannot reach a log line, an error message or a payload by accident:
 * every way of printing it prints `[redacted]`; only `reveal()` hands out the value.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

const required = z.string({ error: 'is required' }).trim().min(1, 'is required');
const secret = required.transform((value) => new Secret(value));
const httpUrl = required.regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL');
const postgresUrl = required
  .regex(/^postgres(ql)?:\/\/\S+$/, 'must be a postgres:// connection string')
  .transform((value) => new Secret(value));
const positiveInt = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a positive integer' })
    .int('must be a positive integer')
    .positive('must be a positive integer')
    .default(fallback);
const text = (fallback: string) => z.string().trim().min(1).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(fallback);
const redisUrl = z
  .string()
  .trim()
  .regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL')
  .default('redis://127.0.0.1:6379')
  .transform((value) => new Secret(value));
const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');

const temporalEnv = {
  TEMPORAL_ADDRESS: text('localhost:7233'),
  TEMPORAL_NAMESPACE: text('default'),
  TEMPORAL_TASK_QUEUE: text(DEFAULT_TASK_QUEUE),
};

const workerEnv = z.object({
  ...temporalEnv,
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_MAX: positiveInt(10),
  SUPABASE_URL: httpUrl,
  SUPABASE_SERVICE_ROLE_KEY: secret,
  STORAGE_BUCKET: text('attachments'),
  GEMINI_API_KEY: secret,
  GEMINI_MODEL: text('gemini-2.5-flash-image'),
  GEMINI_BASE_URL: httpUrl.optional(),
  // Image output (responseModalities, imageConfig) is served on v1beta; @google/genai 3 would default to v1.
  GEMINI_API_VERSION: required.regex(/^v\d+(alpha|beta)?$/, 'must be an API version such as v1beta').default('v1beta'),
  // Below the Gemini activity's 5-minute start-to-close timeout, so the SDK's timeout is the one that fires.
  GEMINI_TIMEOUT_MS: positiveInt(120_000).pipe(z.number().max(240_000, 'must be at most 240000 ms')),
  GEMINI_MAX_CONCURRENT_CALLS: positiveInt(8),
  // How the source image reaches Gemini: a signed Storage URL Gemini fetches itself, or base64 in the request
  // (for a Storage that Gemini cannot reach).
  GEMINI_SOURCE_MODE: z.enum(['url', 'inline'], { error: 'must be url or inline' }).default('url'),
  // The project's quota: enforced by the Temporal server for the Gemini task queue, across every worker.
  GEMINI_REQUESTS_PER_MINUTE: positiveInt(500),
  MAX_IMAGES_PER_JOB: positiveInt(10),
  IMAGE_CONCURRENCY_PER_JOB: positiveInt(4),
  LOG_LEVEL: logLevel,
  // A bundle prebuilt by `npm run build`; without it the worker bundles the workflows at start.
  WORKFLOW_BUNDLE_PATH: z.string().trim().min(1).optional(),
  // Prometheus scrape address of the Temporal runtime's metrics and the product's counters; unset: none.
  METRICS_BIND_ADDRESS: z
    .string()
    .trim()
    .regex(/^[^\s:]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464')
    .optional(),
});

const bridgeEnv = z.object({
  ...temporalEnv,
  REDIS_URL: redisUrl,
  QUEUE_KEY: text('image-jobs:queue'),
  QUEUE_PUSH_SIDE: z.enum(['left', 'right'], { error: 'must be left or right' }).default('left'),
  QUEUE_JOB_ID_FORMAT: z.enum(['uuid', 'text'], { error: 'must be uuid or text' }).default('uuid'),
  BRIDGE_ID: text(hostname()),
  BRIDGE_CONCURRENCY: positiveInt(32),
  BRIDGE_RERUN_FAILED: flag(false),
  SWEEP_STALE_AFTER_SECONDS: positiveInt(600),
  SWEEP_EVERY_SECONDS: positiveInt(300),
  LOG_LEVEL: logLevel,
});

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/** Parses every variable at once so the error names each missing or invalid one, never its value. */
function parseEnv<S extends z.ZodObject>(schema: S, env: Env): z.output<S> {
  // An empty variable means "unset", as it does in .env files and compose files.
  const present = Object.fromEntries(
    Object.entries(env).filter(([, value]) => value !== undefined && value.trim() !== ''),
  );
  const parsed = schema.safeParse(present);
  if (parsed.success) return parsed.data;
  throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`));
}

export function loadWorkerConfig(env: Env = process.env) {
  const e = parseEnv(workerEnv, env);
  return {
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX },
    storage: {
      url: e.SUPABASE_URL.replace(/\/+$/, ''),
      serviceKey: e.SUPABASE_SERVICE_ROLE_KEY,
      bucket: e.STORAGE_BUCKET,
    },
    gemini: {
      apiKey: e.GEMINI_API_KEY,
      model: e.GEMINI_MODEL,
      baseUrl: e.GEMINI_BASE_URL,
      apiVersion: e.GEMINI_API_VERSION,
      timeoutMs: e.GEMINI_TIMEOUT_MS,
      maxConcurrentCalls: e.GEMINI_MAX_CONCURRENT_CALLS,
      sourceMode: e.GEMINI_SOURCE_MODE,
      requestsPerMinute: e.GEMINI_REQUESTS_PER_MINUTE,
    },
    pipeline: { maxImagesPerJob: e.MAX_IMAGES_PER_JOB, imageConcurrency: e.IMAGE_CONCURRENCY_PER_JOB },
    metricsBindAddress: e.METRICS_BIND_ADDRESS,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    logLevel: e.LOG_LEVEL,
  };
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

export function loadBridgeConfig(env: Env = process.env) {
  const e = parseEnv(bridgeEnv, env);
  return {
    temporal: { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE },
    queue: {
      redisUrl: e.REDIS_URL,
      key: e.QUEUE_KEY,
      pushSide: e.QUEUE_PUSH_SIDE,
      jobIdFormat: e.QUEUE_JOB_ID_FORMAT,
      bridgeId: e.BRIDGE_ID,
    },
    bridge: { concurrency: e.BRIDGE_CONCURRENCY, rerunFailed: e.BRIDGE_RERUN_FAILED },
    sweep: { staleAfterSeconds: e.SWEEP_STALE_AFTER_SECONDS, everySeconds: e.SWEEP_EVERY_SECONDS },
    logLevel: e.LOG_LEVEL,
  };
}

export type BridgeConfig = ReturnType<typeof loadBridgeConfig>;

/** For tools that only talk to Temporal (replay, search attribute registration). */
export function loadTemporalConfig(env: Env = process.env) {
  const e = parseEnv(z.object(temporalEnv), env);
  return { address: e.TEMPORAL_ADDRESS, namespace: e.TEMPORAL_NAMESPACE, taskQueue: e.TEMPORAL_TASK_QUEUE };
}

/** Every secret value of a config, for scrubbing text that leaves the process. */
export function secretsOf(config: WorkerConfig): Secret[] {
  return [config.database.url, config.storage.serviceKey, config.gemini.apiKey];
}
