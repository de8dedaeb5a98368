import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';

const MIGRATIONS_DIR = path.resolve(__dirname, '..', 'migrations');

/**
 * Applies every migration file in name order. They are idempotent (`IF NOT EXISTS`), so this runs on each
 * start of a local or test database; production's tables already exist and are never touched by it.
 */
export async function applyMigrations(pool: Pool): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((name) => name.endsWith('.sql')).sort();
  for (const file of files) {
    await pool.query(await readFile(path.join(MIGRATIONS_DIR, file), 'utf8'));
  }
  return files;
}
