import { inspect } from 'node:util';
import { loadBridgeConfig, loadDeploymentConfig, loadWorkerConfig } from '../src/process/config';
import { ConfigError } from '../src/process/errors';

const complete = {
  DATABASE_URL: 'postgresql://app:s3cret-db-password@db.example.test:6543/postgres',
  SUPABASE_URL: 'http://127.0.0.1:54321/',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-value',
  GEMINI_API_KEY: 'gemini-key-value',
};

describe('loadWorkerConfig', () => {
  test('fills every default', () => {
    const config = loadWorkerConfig(complete);
    expect(config.temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'image-jobs' });
    expect(config.storage).toMatchObject({ url: 'http://127.0.0.1:54321', bucket: 'attachments' });
    expect(config.gemini).toMatchObject({
      model: 'gemini-2.5-flash-image',
      baseUrl: undefined,
      apiVersion: 'v1beta',
      timeoutMs: 120000,
      maxConcurrentCalls: 8,
      sourceMode: 'url',
    });
    expect(config.pipeline).toEqual({
      maxImagesPerJob: 10,
      imageConcurrency: 4,
      maxSourceBytes: 20 * 1024 * 1024,
      sourcePathPrefix: undefined,
      deadlineSeconds: 3600,
    });
    expect(config.tracing).toEqual({ otlpEndpoint: undefined });
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT switches tracing on, for the worker and the bridge alike', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example.test:4318' };
    expect(loadWorkerConfig({ ...complete, ...endpoint }).tracing).toEqual({
      otlpEndpoint: endpoint.OTEL_EXPORTER_OTLP_ENDPOINT,
    });
    expect(loadBridgeConfig(endpoint).tracing).toEqual({ otlpEndpoint: endpoint.OTEL_EXPORTER_OTLP_ENDPOINT });
    expect(() => loadBridgeConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
  });

  test("the source's size limit goes up to Gemini's inline limit, and its folder must be one inside the bucket", () => {
    const pipeline = (env: Record<string, string>) => loadWorkerConfig({ ...complete, ...env }).pipeline;
    expect(pipeline({ MAX_SOURCE_IMAGE_BYTES: '78594048' }).maxSourceBytes).toBe(78594048);
    expect(() => pipeline({ MAX_SOURCE_IMAGE_BYTES: '78594049' })).toThrow(
      "MAX_SOURCE_IMAGE_BYTES must be at most 78594048 (Gemini's inline limit)",
    );
    expect(pipeline({ SOURCE_PATH_PREFIX: 'merged-images/user-{userId}/' }).sourcePathPrefix).toBe(
      'merged-images/user-{userId}/',
    );
    for (const prefix of ['/merged-images/', '../{userId}/', 'a/%2e%2e/', 'a?b/']) {
      expect(() => pipeline({ SOURCE_PATH_PREFIX: prefix })).toThrow(/SOURCE_PATH_PREFIX must be a folder inside/);
    }
  });

  test("a job's deadline fits inside its run's 24-hour backstop", () => {
    const pipeline = (env: Record<string, string>) => loadWorkerConfig({ ...complete, ...env }).pipeline;
    expect(pipeline({ JOB_DEADLINE_SECONDS: '72000' }).deadlineSeconds).toBe(72000);
    expect(() => pipeline({ JOB_DEADLINE_SECONDS: '72001' })).toThrow('JOB_DEADLINE_SECONDS must be at most 72000');
  });

  test('the source goes to Gemini inline when asked to', () => {
    expect(loadWorkerConfig({ ...complete, GEMINI_SOURCE_MODE: 'inline' }).gemini.sourceMode).toBe('inline');
  });

  test('names each missing or invalid variable, and never prints a value', () => {
    let error: unknown;
    try {
      loadWorkerConfig({
        DATABASE_URL: 'mysql://root:hunter2@x/y',
        GEMINI_TIMEOUT_MS: '-5',
        GEMINI_API_VERSION: 'latest',
        GEMINI_SOURCE_MODE: 'files',
        SUPABASE_URL: '   ',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      'DATABASE_URL must be a postgres:// connection string',
      'SUPABASE_URL is required',
      'SUPABASE_SERVICE_ROLE_KEY is required',
      'GEMINI_API_KEY is required',
      'GEMINI_API_VERSION must be an API version such as v1beta',
      'GEMINI_TIMEOUT_MS must be a positive integer',
      'GEMINI_SOURCE_MODE must be url or inline',
    ]);
    expect((error as Error).message).not.toContain('hunter2');
  });

  test('every URL is parsed at start: a malformed one is named with what is wrong, never its value', () => {
    let error: unknown;
    try {
      loadWorkerConfig({
        ...complete,
        DATABASE_URL: 'postgresql://postgres.ref:S3cr/etPassw0rd@db.example.test:6543/postgres',
        SUPABASE_URL: 'https://project.example.test:54a21',
        GEMINI_BASE_URL: 'https://',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector.example.test:4318/v1 traces',
      });
    } catch (e) {
      error = e;
    }
    expect((error as ConfigError).problems).toEqual([
      'OTEL_EXPORTER_OTLP_ENDPOINT must not contain spaces',
      'DATABASE_URL is not a valid URL: percent-encode any of / ? # @ : in its user name or password',
      'SUPABASE_URL is not a valid URL',
      'GEMINI_BASE_URL is not a valid URL',
    ]);
    expect(() => loadBridgeConfig({ REDIS_URL: 'redis://' })).toThrow(new ConfigError(['REDIS_URL has no host']));
    // libpq's Unix socket: a connection string without a host.
    expect(loadWorkerConfig({ ...complete, DATABASE_URL: 'postgresql:///postgres' }).database.url.reveal()).toBe(
      'postgresql:///postgres',
    );
  });

  test('fairness: weights per user and a per-user rate, both off unless set', () => {
    expect(loadWorkerConfig(complete).fairness).toEqual({ weights: {} });
    expect(loadWorkerConfig(complete).gemini.requestsPerMinutePerUser).toBeUndefined();
    const config = loadWorkerConfig({
      ...complete,
      FAIRNESS_WEIGHTS: ' user-1=3, user_2=0.5 ,',
      GEMINI_REQUESTS_PER_MINUTE_PER_USER: '20',
    });
    expect(config.fairness.weights).toEqual({ 'user-1': 3, user_2: 0.5 });
    expect(config.gemini.requestsPerMinutePerUser).toBe(20);
    for (const weights of ['user-1', 'user-1=0', 'user-1=-2', 'user-1=x', 'us/er=2', 'a=1=2', 'a=1001']) {
      expect(() => loadWorkerConfig({ ...complete, FAIRNESS_WEIGHTS: weights })).toThrow(
        new ConfigError([
          'FAIRNESS_WEIGHTS must be user=weight pairs separated by commas, each weight a number above 0 and at most 1000',
        ]),
      );
    }
    expect(() => loadWorkerConfig({ ...complete, GEMINI_REQUESTS_PER_MINUTE_PER_USER: '0' })).toThrow(
      new ConfigError(['GEMINI_REQUESTS_PER_MINUTE_PER_USER must be a positive integer']),
    );
  });

  test('Worker Versioning: off unless TEMPORAL_DEPLOYMENT_NAME is set, which needs TEMPORAL_BUILD_ID', () => {
    expect(loadWorkerConfig(complete).deployment).toBeUndefined();
    // The image always carries its commit as the build id; without a deployment name the worker stays unversioned.
    expect(loadWorkerConfig({ ...complete, TEMPORAL_BUILD_ID: '3f2c9ab' }).deployment).toBeUndefined();
    expect(
      loadWorkerConfig({ ...complete, TEMPORAL_DEPLOYMENT_NAME: 'image-jobs', TEMPORAL_BUILD_ID: '3f2c9ab' })
        .deployment,
    ).toEqual({ deploymentName: 'image-jobs', buildId: '3f2c9ab' });
    expect(() => loadWorkerConfig({ ...complete, TEMPORAL_DEPLOYMENT_NAME: 'image-jobs' })).toThrow(
      new ConfigError([
        'TEMPORAL_BUILD_ID is required with TEMPORAL_DEPLOYMENT_NAME: the id of this build, such as the commit it was built from',
      ]),
    );
    // Temporal joins the two with `:` (and used to with `.`), so neither may be in the name.
    for (const name of ['image.jobs', 'image:jobs', '__image-jobs', 'image jobs']) {
      expect(() => loadWorkerConfig({ ...complete, TEMPORAL_DEPLOYMENT_NAME: name, TEMPORAL_BUILD_ID: 'b1' })).toThrow(
        new ConfigError([
          'TEMPORAL_DEPLOYMENT_NAME must be 1 to 100 letters, digits, - or _ (not starting with __), such as image-jobs',
        ]),
      );
    }
    for (const buildId of ['__b1', 'b 1', '-b1', 'x'.repeat(129)]) {
      expect(() =>
        loadWorkerConfig({ ...complete, TEMPORAL_DEPLOYMENT_NAME: 'image-jobs', TEMPORAL_BUILD_ID: buildId }),
      ).toThrow(
        new ConfigError(['TEMPORAL_BUILD_ID must be 1 to 128 letters, digits, ., _, + or -, such as a commit hash']),
      );
    }
    expect(loadDeploymentConfig({ TEMPORAL_DEPLOYMENT_NAME: 'image-jobs' })).toMatchObject({
      deploymentName: 'image-jobs',
      temporal: { address: 'localhost:7233', namespace: 'default' },
    });
    expect(() => loadDeploymentConfig({})).toThrow(new ConfigError(['TEMPORAL_DEPLOYMENT_NAME is required']));
  });

  test('DATABASE_CA_CERT must name a PEM certificate file', () => {
    const notPem = __filename;
    expect(() => loadWorkerConfig({ ...complete, DATABASE_CA_CERT: '/nowhere/ca.pem' })).toThrow(
      new ConfigError(['DATABASE_CA_CERT names a file that does not exist']),
    );
    expect(() => loadWorkerConfig({ ...complete, DATABASE_CA_CERT: notPem })).toThrow(
      new ConfigError(['DATABASE_CA_CERT must be a PEM certificate file']),
    );
  });

  test('secrets print as [redacted] however the config is printed', () => {
    const config = loadWorkerConfig(complete);
    const printed = [JSON.stringify(config), inspect(config, { depth: 5 }), String(config.gemini.apiKey)].join('\n');
    for (const secret of ['s3cret-db-password', 'service-role-key-value', 'gemini-key-value'])
      expect(printed).not.toContain(secret);
    expect(config.gemini.apiKey.reveal()).toBe('gemini-key-value');
  });
});

describe('loadBridgeConfig', () => {
  test('needs nothing but has a default for everything, and only Redis and Temporal in it', () => {
    const config = loadBridgeConfig({ BRIDGE_ID: 'bridge-1' });
    expect(config.queue).toMatchObject({
      key: 'image-jobs:queue',
      pushSide: 'left',
      jobIdFormat: 'uuid',
      bridgeId: 'bridge-1',
    });
    expect(config.queue.redisUrl.reveal()).toBe('redis://127.0.0.1:6379');
    expect(config.bridge).toEqual({ concurrency: 32, rerunFailed: false, stopGraceSeconds: 8 });
    expect(config.sweep).toEqual({ staleAfterSeconds: 600, everySeconds: 300 });
    expect(config.database).toBeUndefined();
    expect(config.fairness).toEqual({ weights: {} });
    expect(Object.keys(config).sort()).toEqual([
      'bridge',
      'database',
      'fairness',
      'logLevel',
      'queue',
      'sweep',
      'temporal',
      'tracing',
    ]);
  });

  test("FAIRNESS_WEIGHTS: the worker's weights, read and refused alike", () => {
    const weights = 'user-1=2, user-2=0.5';
    expect(loadBridgeConfig({ FAIRNESS_WEIGHTS: weights }).fairness.weights).toEqual({ 'user-1': 2, 'user-2': 0.5 });
    expect(loadBridgeConfig({ FAIRNESS_WEIGHTS: weights }).fairness).toEqual(
      loadWorkerConfig({ ...complete, FAIRNESS_WEIGHTS: weights }).fairness,
    );
    expect(() => loadBridgeConfig({ FAIRNESS_WEIGHTS: 'user-1=0' })).toThrow(
      /FAIRNESS_WEIGHTS must be user=weight pairs/,
    );
  });

  test("with DATABASE_URL, a small pool to read each job's user; the URL stays a secret", () => {
    const url = 'postgresql://bridge_reader:S3cret@db.example.test:5432/postgres?sslmode=require';
    const config = loadBridgeConfig({ DATABASE_URL: url });
    expect(config.database?.url.reveal()).toBe(url);
    expect(config.database?.poolMax).toBe(4);
    expect(JSON.stringify(config)).not.toContain('S3cret');
  });

  test('names each invalid variable', () => {
    expect(() =>
      loadBridgeConfig({
        REDIS_URL: 'http://x',
        QUEUE_PUSH_SIDE: 'middle',
        BRIDGE_RERUN_FAILED: 'yes',
        BRIDGE_CONCURRENCY: '0',
      }),
    ).toThrow(
      new ConfigError([
        'REDIS_URL must be a redis:// or rediss:// URL',
        'QUEUE_PUSH_SIDE must be left or right',
        'BRIDGE_CONCURRENCY must be a positive integer',
        'BRIDGE_RERUN_FAILED must be true or false',
      ]),
    );
  });
});
