import { mkdtempSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { checkDatabaseTls, createDatabasePool } from '../src/activities/database';
import { ConfigError } from '../src/process/errors';
import { Secret } from '../src/process/secret';
import { makeTestCertificates, type TestCertificates } from '../dev/certificates';
import { PostgresServer } from '../dev/postgres-server';
import { spawnService } from '../dev/processes';
import { DATA_DIR } from '../dev/setup-scripts';
import { startStack, workerEnvironment, type Stack } from '../dev/stack';
import { runJobInWorkerProcess } from './support/job-in-worker-process';

/**
 * PostgreSQL with TLS on and a certificate from a private CA, as Supabase serves it. Connection strings mean what
 * libpq (and Supabase's docs) say they mean: `sslmode=require` encrypts without verifying, `verify-full` with the
 * CA (DATABASE_CA_CERT) verifies, and a wrong CA stops the worker at start with a sentence.
 */

let certificates: TestCertificates;
let server: PostgresServer;
let stack: Stack;

beforeAll(async () => {
  certificates = makeTestCertificates(mkdtempSync(path.join(DATA_DIR, 'tls-')));
  // The whole chain, as Supabase sends it: a client that does not trust the CA sees a self-signed one in it.
  server = await PostgresServer.start(undefined, { ...certificates, serverCert: certificates.serverChain });
  stack = await startStack({ temporal: true, databaseAdminUrl: server.url });
}, 120_000);

afterAll(async () => {
  await stack?.stop();
  await server?.remove();
}, 60_000);

const withMode = (mode: string) => `${stack.db.url}?sslmode=${mode}`;

async function encrypted(pool: Pool): Promise<boolean> {
  try {
    await checkDatabaseTls(pool);
    const { rows } = await pool.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
    return rows[0]!.ssl;
  } finally {
    await pool.end();
  }
}

test('node-postgres alone takes sslmode=require for verify-full, and fails on a private CA', async () => {
  const plain = new Pool({ connectionString: withMode('require') });
  await expect(plain.query('SELECT 1')).rejects.toThrow('self-signed certificate in certificate chain');
  await plain.end();
});

test('sslmode=require: encrypted, not verified, as libpq means it', async () => {
  expect(await encrypted(createDatabasePool({ url: new Secret(withMode('require')), poolMax: 1 }))).toBe(true);
  // Without sslmode the connection is plain, as before.
  expect(await encrypted(createDatabasePool({ url: new Secret(stack.db.url), poolMax: 1 }))).toBe(false);
});

test('DATABASE_CA_CERT verifies: with verify-full, and on its own', async () => {
  const caCert = readFileSync(certificates.caCert, 'utf8');
  for (const url of [withMode('verify-full'), stack.db.url]) {
    expect(await encrypted(createDatabasePool({ url: new Secret(url), poolMax: 1, caCert }))).toBe(true);
  }
});

test('a wrong CA stops the worker at start with a clear message', async () => {
  const pool = createDatabasePool({
    url: new Secret(withMode('verify-full')),
    poolMax: 1,
    caCert: readFileSync(certificates.otherCaCert, 'utf8'),
  });
  const refused = await checkDatabaseTls(pool).then(
    () => undefined,
    (error: unknown) => error,
  );
  await pool.end();
  expect(refused).toBeInstanceOf(ConfigError);
  expect((refused as ConfigError).problems).toEqual([
    "DATABASE_URL: the database's certificate is not trusted (SELF_SIGNED_CERT_IN_CHAIN); set DATABASE_CA_CERT to " +
      'the CA that signed it, or use sslmode=require to encrypt without verifying',
  ]);

  const worker = spawnService('worker', {
    ...workerEnvironment(stack),
    DATABASE_URL: withMode('verify-full'),
    DATABASE_CA_CERT: certificates.otherCaCert,
  });
  expect(await worker.exited).toBe(1);
  expect(worker.output()).toContain("DATABASE_URL: the database's certificate is not trusted");
  expect(worker.output()).not.toContain(stack.db.url);
}, 30_000);

test('a worker on sslmode=require runs a job to the end', async () => {
  const { result, rows, attachments } = await runJobInWorkerProcess(stack, {
    env: { DATABASE_URL: withMode('require') },
  });
  expect(result).toMatchObject({ status: 'completed', completedImages: 2, failedImages: 0 });
  expect(rows.job).toMatchObject({ job_status: 'completed', completed_images: 2 });
  expect(attachments).toHaveLength(2);
}, 60_000);
