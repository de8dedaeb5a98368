import { randomUUID } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type Redis from 'ioredis';
import { queueKeys } from '../src/bridge/queue';
import { loadBridgeConfig } from '../src/process/config';
import { ConfigError } from '../src/process/errors';
import { workflowIdForJob } from '../src/contract';
import { makeTestCertificates, type TestCertificates } from '../dev/certificates';
import { spawnService } from '../dev/processes';
import { RedisServer } from '../dev/redis-server';
import { DATA_DIR } from '../dev/setup-scripts';
import { startTemporal } from '../dev/temporal-dev-server';
import { uniqueTaskQueue } from '../dev/workers';
import { eventually } from './support/eventually';

/**
 * The bridge on a Redis that serves TLS only and wants a password, as managed Redis services do
 * (`rediss://:password@host:port`), with the server's CA given by REDIS_CA_CERT.
 */

const PASSWORD = 'redis-pass-Zq81-never-printed';
let certificates: TestCertificates;
let redis: RedisServer;
let client: Redis;
let temporal: TestWorkflowEnvironment;

beforeAll(async () => {
  certificates = makeTestCertificates(mkdtempSync(path.join(DATA_DIR, 'tls-')));
  [redis, temporal] = await Promise.all([
    RedisServer.start({ tls: certificates, password: PASSWORD }),
    startTemporal(),
  ]);
  client = redis.client();
});

afterAll(async () => {
  client?.disconnect();
  await Promise.all([redis?.stop(), temporal?.teardown()]);
});

function bridge(env: Record<string, string>) {
  return spawnService('bridge', {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('redis-tls'),
    REDIS_URL: redis.url,
    REDIS_CA_CERT: certificates.caCert,
    BRIDGE_ID: 'tls-bridge',
    ...env,
  });
}

test('the bridge takes ids over TLS with a password and starts their workflows; the password is never printed', async () => {
  const key = `jobs-${randomUUID()}`;
  const ids = [randomUUID(), randomUUID()];
  const process = bridge({ QUEUE_KEY: key });
  try {
    await process.started;
    await client.lpush(key, ...ids);
    for (const id of ids) {
      await eventually(
        () =>
          temporal.client.workflow
            .getHandle(workflowIdForJob(id))
            .describe()
            .then(() => true),
        `the workflow of ${id}`,
      );
    }
    await eventually(
      async () => (await client.llen(queueKeys({ key, bridgeId: 'tls-bridge' }).processing)) === 0,
      'the processing list to empty',
    );
  } finally {
    process.child.kill('SIGTERM');
    expect(await process.exited).toBe(0);
  }
  expect(process.output()).toContain('"msg":"bridge stopped"');
  expect(process.output()).not.toContain(PASSWORD);
}, 60_000);

test.each([
  [
    'a wrong password',
    () => ({ REDIS_URL: redis.url.replace(encodeURIComponent(PASSWORD), 'not-the-password') }),
    'REDIS_URL: Redis refused the password (or asks for one): check the password in the URL',
  ],
  [
    'no password',
    () => ({ REDIS_URL: redis.url.replace(`:${encodeURIComponent(PASSWORD)}@`, '') }),
    'REDIS_URL: Redis refused the password (or asks for one): check the password in the URL',
  ],
  [
    'a CA that did not sign its certificate',
    () => ({ REDIS_CA_CERT: certificates.otherCaCert }),
    "REDIS_URL: Redis's certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN); set REDIS_CA_CERT",
  ],
])(
  '%s stops the bridge at start with a clear message',
  async (_, env, message) => {
    const process = bridge({ QUEUE_KEY: `jobs-${randomUUID()}`, ...env() });
    expect(await process.exited).toBe(1);
    expect(process.output()).toContain(message);
    expect(process.output()).not.toContain(PASSWORD);
  },
  30_000,
);

test('REDIS_CA_CERT needs a rediss:// URL', () => {
  expect(() => loadBridgeConfig({ REDIS_URL: 'redis://127.0.0.1:6379', REDIS_CA_CERT: certificates.caCert })).toThrow(
    new ConfigError(['REDIS_CA_CERT needs a rediss:// REDIS_URL (TLS)']),
  );
});
