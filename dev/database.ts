import { randomBytes } from 'node:crypto';
import { Client, Pool } from 'pg';
import { applyMigrations } from './migrate';

export interface LocalDatabase {
  url: string;
  pool: Pool;
  /** Closes the pool and deletes the database. */
  drop(): Promise<void>;
}

/**
 * A database on the project's PostgreSQL, created when missing, with the product's tables (`migrations/`). The pool's
 * connections carry `applicationName` when given, so a run can tell them from the product's.
 */
export async function openDatabase(adminUrl: string, name: string, applicationName?: string): Promise<LocalDatabase> {
  await withAdmin(adminUrl, async (admin) => {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) await admin.query(`CREATE DATABASE "${name}"`);
  });
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new Pool({ connectionString: url.toString(), max: 20, application_name: applicationName });
  // As in production (createDatabasePool): a connection the server closes (here, DROP ... WITH (FORCE) of a
  // client still closing) must not surface as an unhandled 'error' event.
  pool.on('error', () => undefined);
  await applyMigrations(pool);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      await withAdmin(adminUrl, (admin) => admin.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
    },
  };
}

/** A fresh database private to one test file, by default on the server jest's global set-up started. */
export function createTestDatabase(adminUrl = process.env.TEST_DATABASE_URL): Promise<LocalDatabase> {
  if (!adminUrl)
    throw new Error('TEST_DATABASE_URL is not set: run the tests with `npm test` (jest global setup sets it)');
  return openDatabase(adminUrl, `test_${randomBytes(6).toString('hex')}`);
}

async function withAdmin<T>(adminUrl: string, work: (admin: Client) => Promise<T>): Promise<T> {
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.end();
  }
}
