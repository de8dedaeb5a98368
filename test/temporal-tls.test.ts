import { mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeTestCertificates, type TestCertificates } from '../dev/certificates';
import { spawnService } from '../dev/processes';
import { RedisServer } from '../dev/redis-server';
import { jobState } from '../dev/seed';
import { DATA_DIR } from '../dev/setup-scripts';
import { seedJob, startStack, workerEnvironment, type Stack } from '../dev/stack';
import { TemporalCluster } from '../dev/temporal-cluster';
import { uniqueTaskQueue } from '../dev/workers';
import { eventually } from './support/eventually';

/**
 * The worker and the bridge against a Temporal cluster whose frontend requires mutual TLS, as a self-hosted
 * production cluster or a Temporal Cloud mTLS namespace does; the CA and certificates are made here with openssl.
 * Each is configured only the Temporal way: TEMPORAL_TLS_* variables, or a profile of a TOML file.
 */

let stack: Stack;
let cluster: TemporalCluster;
let redis: RedisServer;
let certificates: TestCertificates;

beforeAll(async () => {
  certificates = makeTestCertificates(mkdtempSync(path.join(DATA_DIR, 'tls-')));
  const started = await Promise.allSettled([
    startStack().then((s) => (stack = s)),
    TemporalCluster.start({ tls: { certificates, requireClientAuth: true } }).then((c) => (cluster = c)),
    RedisServer.start().then((r) => (redis = r)),
  ]);
  for (const result of started) if (result.status === 'rejected') throw result.reason;
}, 240_000);

afterAll(async () => {
  await Promise.all([cluster?.drop(), stack?.stop(), redis?.stop()]);
}, 60_000);

const server = () => ({
  TEMPORAL_ADDRESS: cluster.address,
  TEMPORAL_NAMESPACE: cluster.namespace,
  TEMPORAL_TLS_SERVER_NAME: 'localhost',
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.caCert,
});

test('a worker configured by a TOML profile and a bridge by TEMPORAL_TLS_* variables finish a job over mTLS', async () => {
  const taskQueue = uniqueTaskQueue('mtls');
  const queueKey = `mtls-${taskQueue}`;
  const profile = path.join(certificates.dir, 'temporal.toml');
  writeFileSync(
    profile,
    [
      '[profile.production]',
      `address = "${cluster.address}"`,
      `namespace = "${cluster.namespace}"`,
      '[profile.production.tls]',
      'server_name = "localhost"',
      `server_ca_cert_path = "${certificates.caCert}"`,
      `client_cert_path = "${certificates.clientCert}"`,
      `client_key_path = "${certificates.clientKey}"`,
    ].join('\n'),
  );
  const worker = spawnService('worker', {
    ...workerEnvironment(stack),
    TEMPORAL_CONFIG_FILE: profile,
    TEMPORAL_PROFILE: 'production',
    TEMPORAL_TASK_QUEUE: taskQueue,
  });
  const bridge = spawnService('bridge', {
    ...server(),
    TEMPORAL_TLS_CLIENT_CERT_PATH: certificates.clientCert,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certificates.clientKey,
    TEMPORAL_TASK_QUEUE: taskQueue,
    REDIS_URL: redis.url,
    QUEUE_KEY: queueKey,
  });
  try {
    await Promise.all([worker.started, bridge.started]);
    expect(worker.output()).toContain('"tls":true');
    const job = await seedJob(stack, { quantity: 2 });
    const pusher = redis.client();
    await pusher.lpush(queueKey, job.jobId).finally(() => pusher.disconnect());
    const done = await eventually(
      async () => {
        const state = await jobState(stack.db.pool, job.jobId);
        return state.job_status === 'completed' && state;
      },
      'the job to complete over mTLS',
      60_000,
    );
    expect(done).toMatchObject({ total_images: 2, completed_images: 2, failed_images: 0 });
    expect(worker.output() + bridge.output()).not.toContain('PRIVATE KEY');
  } finally {
    for (const p of [worker, bridge]) p.child.kill('SIGTERM');
    await Promise.all([worker.exited, bridge.exited]);
  }
}, 120_000);

describe('a wrong or missing setting stops the process at start, naming what to fix', () => {
  const cases: [string, 'worker' | 'bridge', () => Record<string, string>, string][] = [
    [
      'no client certificate',
      'worker',
      server,
      'requires a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH',
    ],
    [
      'no client certificate',
      'bridge',
      server,
      'requires a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH',
    ],
    [
      'a CA that did not sign the server certificate',
      'worker',
      () => ({
        ...server(),
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.otherCaCert,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certificates.clientCert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certificates.clientKey,
      }),
      'shows a certificate we do not trust: set TEMPORAL_TLS_SERVER_CA_CERT_PATH',
    ],
    [
      'no TLS at all',
      'bridge',
      () => ({ TEMPORAL_ADDRESS: cluster.address }),
      'closed the connection during set-up; if it requires TLS, set TEMPORAL_TLS=true',
    ],
  ];
  test.each(cases)(
    '%s: the %s',
    async (_, kind, env, message) => {
      const extra = kind === 'worker' ? workerEnvironment(stack) : { REDIS_URL: redis.url };
      const service = spawnService(kind, { ...extra, ...env() });
      // A process that runs on instead fails here with what it said, not at the test's timeout with nothing.
      const stillRunning = setTimeout(() => service.child.kill('SIGKILL'), 45_000);
      const code = await service.exited.finally(() => clearTimeout(stillRunning));
      expect({ code, output: service.output() }).toMatchObject({ code: 1 });
      expect(service.output()).toContain(`Temporal at ${cluster.address} ${message}`);
      expect(service.output()).not.toContain('    at ');
    },
    60_000,
  );
});
