import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { objectKeyProblem } from '../activities/object-key';
import { DEFAULT_MAX_SOURCE_IMAGE_BYTES, GEMINI_INLINE_SOURCE_LIMIT } from '../activities/source-size';
import { DEFAULT_TASK_QUEUE, USER_ID_PATTERN } from '../contract';
import { ConfigError } from './errors';
import { Secret } from './secret';
import { loadTemporalSettings, type TemporalSettings } from './temporal-config';

const required = z.string({ error: 'is required' }).trim().min(1, 'is required');
const secret = required.transform((value) => new Secret(value));

/**
 * A URL variable, parsed here as its client will parse it, so that a malformed one stops the start with a sentence
 * naming the variable. The parsers' own errors quote the whole input, password and all (`new URL()`'s TypeError
 * carries it as `input`), so none of them may reach a log.
 */
function url(protocols: readonly string[], expected: string, needsHost = true) {
  return required.superRefine((value, ctx) => {
    const problem = urlProblem(value, protocols, expected, needsHost);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
}

function urlProblem(value: string, protocols: readonly string[], expected: string, needsHost: boolean) {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (!scheme || !protocols.includes(`${scheme}:`)) return `must be ${expected}`;
  if (/\s/.test(value)) return 'must not contain spaces';
  if (!URL.canParse(value)) {
    return value.includes('@')
      ? 'is not a valid URL: percent-encode any of / ? # @ : in its user name or password'
      : 'is not a valid URL';
  }
  if (needsHost && !new URL(value).hostname) return 'has no host';
  return undefined;
}

const httpUrl = url(['http:', 'https:'], 'an http(s) URL');
// No host is libpq's way of naming a Unix socket.
const postgresUrl = url(['postgres:', 'postgresql:'], 'a postgres:// connection string', false).transform(
  (value) => new Secret(value),
);
const pemFile = required
  .refine((file) => existsSync(file), 'names a file that does not exist')
  .transform((file) => readFileSync(file, 'utf8'))
  .refine((pem) => pem.includes('-----BEGIN CERTIFICATE-----'), 'must be a PEM certificate file');
const positiveInteger = z.coerce
  .number({ error: 'must be a positive integer' })
  .int('must be a positive integer')
  .positive('must be a positive integer');
const positiveInt = (fallback: number) => positiveInteger.default(fallback);
const text = (fallback: string) => z.string().trim().min(1).default(fallback);
const flag = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
    .transform((value) => value === 'true' || value === '1')
    .default(fallback);
const redisUrl = url(['redis:', 'rediss:'], 'a redis:// or rediss:// URL')
  .default('redis://127.0.0.1:6379')
  .transform((value) => new Secret(value));
/**
 * `user-1=2,user-2=0.5`: a user's share of the Gemini queue against the default of 1, so `2` gets twice the calls of
 * a user without a weight while both wait.
 */
const fairnessWeights = z.string().transform((text, ctx) => {
  const weights: Record<string, number> = {};
  for (const entry of text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)) {
    const [userId = '', weight = '', ...rest] = entry.split('=').map((part) => part.trim());
    const value = Number(weight);
    if (rest.length > 0 || !USER_ID_PATTERN.test(userId) || !(value > 0 && value <= 1000)) {
      ctx.addIssue({
        code: 'custom',
        message: 'must be user=weight pairs separated by commas, each weight a number above 0 and at most 1000',
      });
      return z.NEVER;
    }
    weights[userId] = value;
  }
  return weights;
});
/** A folder prefix inside the bucket, `{userId}` standing for the job's user: a plain key once filled in. */
const sourcePathPrefix = required.refine(
  (prefix) => !objectKeyProblem(`${prefix.replaceAll('{userId}', 'u')}x`),
  'must be a folder inside the bucket, such as merged-images/user-{userId}/ (no leading /, no . or .. segment, none of ? # % \\)',
);
/**
 * Worker Versioning names (docs/deploying.md, "Deploying a new version"). Temporal refuses `.` and `:` in a deployment
 * name (they join it to a build id) and a leading `__` in either; a build id is usually a commit hash or a tag.
 */
const deploymentName = required.regex(
  /^(?!__)[A-Za-z0-9_-]{1,100}$/,
  'must be 1 to 100 letters, digits, - or _ (not starting with __), such as image-jobs',
);
const buildId = required.regex(
  /^(?!__)[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/,
  'must be 1 to 128 letters, digits, ., _, + or -, such as a commit hash',
);
const logLevel = z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info');

// Where Temporal is and how to connect (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS_*,
// TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) is read by Temporal's envconfig in temporal-config.ts.
const temporalEnv = {
  TEMPORAL_TASK_QUEUE: text(DEFAULT_TASK_QUEUE),
};

// OpenTelemetry's own variable: the collector that receives traces over OTLP/HTTP; unset, tracing is off.
const tracingEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional() };

// The worker's variables, and the bridge's below: exported so that test/configuration-doc.test.ts holds
// docs/configuration.md to them.
export const workerEnv = z.object({
  ...temporalEnv,
  ...tracingEnv,
  DATABASE_URL: postgresUrl,
  DATABASE_POOL_MAX: positiveInt(10),
  DATABASE_CA_CERT: pemFile.optional(),
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
  // One user's Gemini calls per minute, across the fleet: Temporal's per-fairness-key rate limit. Unset: no limit.
  GEMINI_REQUESTS_PER_MINUTE_PER_USER: positiveInteger.optional(),
  FAIRNESS_WEIGHTS: fairnessWeights.default({}),
  MAX_IMAGES_PER_JOB: positiveInt(10),
  IMAGE_CONCURRENCY_PER_JOB: positiveInt(4),
  // A larger source fails its job before it is read whole (activities/source-size.ts says why 20 MiB).
  MAX_SOURCE_IMAGE_BYTES: positiveInt(DEFAULT_MAX_SOURCE_IMAGE_BYTES).pipe(
    z.number().max(GEMINI_INLINE_SOURCE_LIMIT, `must be at most ${GEMINI_INLINE_SOURCE_LIMIT} (Gemini's inline limit)`),
  ),
  // Where a job's source must lie; unset, anywhere in the bucket.
  SOURCE_PATH_PREFIX: sourcePathPrefix.optional(),
  // From a run's start, when its images stop and the job is finished with what it has. At most 20 hours, inside the
  // run's 24-hour backstop (JOB_RUN_TIMEOUT), with room for the finishing step.
  JOB_DEADLINE_SECONDS: positiveInt(3600).pipe(z.number().max(72_000, 'must be at most 72000 (20 hours)')),
  LOG_LEVEL: logLevel,
  // A bundle prebuilt by `npm run build`; without it the worker bundles the workflows at start.
  WORKFLOW_BUNDLE_PATH: z.string().trim().min(1).optional(),
  // Prometheus scrape address of the Temporal runtime's metrics and the product's counters; unset: none.
  METRICS_BIND_ADDRESS: z
    .string()
    .trim()
    .regex(/^[^\s:]+:\d+$/, 'must be host:port, e.g. 0.0.0.0:9464')
    .optional(),
  // Worker Versioning: the Worker Deployment this worker belongs to. Unset, the worker is unversioned.
  TEMPORAL_DEPLOYMENT_NAME: deploymentName.optional(),
  // This build's id in the deployment. No default here: the Docker image sets it to the commit it was built from
  // (its GIT_COMMIT build argument), so every image that differs has its own and two builds can never share one.
  TEMPORAL_BUILD_ID: buildId.optional(),
});

// A deployment name needs a build id; a build id alone (every image carries one) leaves the worker unversioned.
const checkedWorkerEnv = workerEnv.refine((e) => !e.TEMPORAL_DEPLOYMENT_NAME || e.TEMPORAL_BUILD_ID, {
  path: ['TEMPORAL_BUILD_ID'],
  error: 'is required with TEMPORAL_DEPLOYMENT_NAME: the id of this build, such as the commit it was built from',
});

export const bridgeEnv = z
  .object({
    ...temporalEnv,
    ...tracingEnv,
    REDIS_URL: redisUrl,
    REDIS_CA_CERT: pemFile.optional(),
    QUEUE_KEY: text('image-jobs:queue'),
    // Where the bridge reads each job's user, the fairness key of its workflow; unset, starts carry no user.
    DATABASE_URL: postgresUrl.optional(),
    DATABASE_CA_CERT: pemFile.optional(),
    // The same weights as the worker's: they weigh each job's workflow tasks, as the worker's weigh its Gemini calls.
    FAIRNESS_WEIGHTS: fairnessWeights.default({}),
    QUEUE_PUSH_SIDE: z.enum(['left', 'right'], { error: 'must be left or right' }).default('left'),
    QUEUE_JOB_ID_FORMAT: z.enum(['uuid', 'text'], { error: 'must be uuid or text' }).default('uuid'),
    BRIDGE_ID: text(hostname()),
    BRIDGE_CONCURRENCY: positiveInt(32),
    BRIDGE_RERUN_FAILED: flag(false),
    // Below the 10 s that Docker (and compose) waits between SIGTERM and SIGKILL.
    BRIDGE_STOP_GRACE_SECONDS: positiveInt(8),
    SWEEP_STALE_AFTER_SECONDS: positiveInt(600),
    SWEEP_EVERY_SECONDS: positiveInt(300),
    LOG_LEVEL: logLevel,
  })
  .refine((e) => !e.REDIS_CA_CERT || e.REDIS_URL.reveal().startsWith('rediss://'), {
    path: ['REDIS_CA_CERT'],
    error: 'needs a rediss:// REDIS_URL (TLS)',
  });

type Env = Record<string, string | undefined>;

/**
 * Parses every variable at once, the Temporal connection's among them, so the error names each missing or
 * invalid one, never its value.
 */
function parseEnv<S extends z.ZodObject<typeof temporalEnv>>(
  schema: S,
  env: Env,
): { e: z.output<S>; temporal: TemporalSettings } {
  // An empty variable means "unset", as it does in .env files and compose files.
  const present = Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined && entry[1].trim() !== ''),
  );
  const parsed = schema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`);
  const temporal = loadTemporalSettings(present, parsed.data?.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE);
  problems.push(...(temporal.problems ?? []));
  if (problems.length > 0 || !parsed.success || !temporal.settings) throw new ConfigError(problems);
  return { e: parsed.data, temporal: temporal.settings };
}

export function loadWorkerConfig(env: Env = process.env) {
  const { e, temporal } = parseEnv(checkedWorkerEnv, env);
  return {
    temporal,
    database: { url: e.DATABASE_URL, poolMax: e.DATABASE_POOL_MAX, caCert: e.DATABASE_CA_CERT },
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
      requestsPerMinutePerUser: e.GEMINI_REQUESTS_PER_MINUTE_PER_USER,
    },
    fairness: { weights: e.FAIRNESS_WEIGHTS },
    pipeline: {
      maxImagesPerJob: e.MAX_IMAGES_PER_JOB,
      imageConcurrency: e.IMAGE_CONCURRENCY_PER_JOB,
      maxSourceBytes: e.MAX_SOURCE_IMAGE_BYTES,
      sourcePathPrefix: e.SOURCE_PATH_PREFIX,
      deadlineSeconds: e.JOB_DEADLINE_SECONDS,
    },
    metricsBindAddress: e.METRICS_BIND_ADDRESS,
    deployment:
      e.TEMPORAL_DEPLOYMENT_NAME && e.TEMPORAL_BUILD_ID
        ? { deploymentName: e.TEMPORAL_DEPLOYMENT_NAME, buildId: e.TEMPORAL_BUILD_ID }
        : undefined,
    workflowBundlePath: e.WORKFLOW_BUNDLE_PATH,
    tracing: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT },
    logLevel: e.LOG_LEVEL,
  };
}

export type WorkerConfig = ReturnType<typeof loadWorkerConfig>;

/** One primary-key read per start, each about a millisecond: a few connections keep up with any bridge. */
const BRIDGE_DATABASE_POOL_MAX = 4;

export function loadBridgeConfig(env: Env = process.env) {
  const { e, temporal } = parseEnv(bridgeEnv, env);
  return {
    temporal,
    queue: {
      redisUrl: e.REDIS_URL,
      caCert: e.REDIS_CA_CERT,
      key: e.QUEUE_KEY,
      pushSide: e.QUEUE_PUSH_SIDE,
      jobIdFormat: e.QUEUE_JOB_ID_FORMAT,
      bridgeId: e.BRIDGE_ID,
    },
    database: e.DATABASE_URL && { url: e.DATABASE_URL, poolMax: BRIDGE_DATABASE_POOL_MAX, caCert: e.DATABASE_CA_CERT },
    fairness: { weights: e.FAIRNESS_WEIGHTS },
    bridge: {
      concurrency: e.BRIDGE_CONCURRENCY,
      rerunFailed: e.BRIDGE_RERUN_FAILED,
      stopGraceSeconds: e.BRIDGE_STOP_GRACE_SECONDS,
    },
    sweep: { staleAfterSeconds: e.SWEEP_STALE_AFTER_SECONDS, everySeconds: e.SWEEP_EVERY_SECONDS },
    tracing: { otlpEndpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT },
    logLevel: e.LOG_LEVEL,
  };
}

export type BridgeConfig = ReturnType<typeof loadBridgeConfig>;

/** For tools that only talk to Temporal (replay, search attribute registration). */
export function loadTemporalConfig(env: Env = process.env): TemporalSettings {
  return parseEnv(z.object(temporalEnv), env).temporal;
}

/** For `npm run deploy`: Temporal, and the Worker Deployment it acts on. */
export function loadDeploymentConfig(env: Env = process.env): { temporal: TemporalSettings; deploymentName: string } {
  const { e, temporal } = parseEnv(z.object({ ...temporalEnv, TEMPORAL_DEPLOYMENT_NAME: deploymentName }), env);
  return { temporal, deploymentName: e.TEMPORAL_DEPLOYMENT_NAME };
}

/** The variables whose values are credentials, or hold one. */
const SECRET_VARIABLES = [
  'DATABASE_URL',
  'REDIS_URL',
  'SUPABASE_SERVICE_ROLE_KEY',
  'GEMINI_API_KEY',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
];

/**
 * Every secret the environment holds, valid or not, and the password of each URL among them as it is written: for
 * scrubbing what a process prints when it fails before (or without) a configuration.
 */
export function secretValuesIn(env: Env = process.env): string[] {
  const values = SECRET_VARIABLES.map((name) => env[name]?.trim()).filter((value) => !!value) as string[];
  const passwords = values.map((value) => /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@]+)@/i.exec(value)?.[1]);
  return [...values, ...passwords.filter((password) => password !== undefined)];
}

/** Every secret value of a config, for scrubbing text that leaves the process. */
export function secretsOf(config: WorkerConfig): Secret[] {
  return [config.database.url, config.storage.serviceKey, config.gemini.apiKey, config.temporal.apiKey].filter(
    (secret) => secret !== undefined,
  );
}
