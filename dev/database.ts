import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { applyMigrations } from './migrate';

export interface TestDatabase {
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TEST_DATABASE_URL;
  if (!url) throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` (jest global setup sets it)');
  return url;
}

/** A fresh database with the product's migrations, private to one test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();

  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 20 });
  // As in production (createDatabasePool): a connection the server closes (here, DROP ... WITH (FORCE) of a
  // client still closing) must not surface as an unhandled 'error' event.
  pool.on('error', () => undefined);
  await applyMigrations(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      const client = new Client({ connectionString: adminUrl() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
