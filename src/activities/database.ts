import { ApplicationFailure } from '@temporalio/common';
import { DatabaseError, Pool, type ClientConfig, type PoolClient } from 'pg';
import { parse, toClientConfig } from 'pg-connection-string';
import { FailureType } from '../contract';
import { ConfigError, untrustedCertificateCode } from '../process/errors';

/**
 * The one module that knows SQL. Every statement is parameterized and unnamed, so it runs through
 * Supabase's pooler in transaction mode (which has no named prepared statements) as well as directly.
 * Every write is idempotent: an activity that runs twice leaves the rows as one run would.
 */

export interface DatabaseSettings {
  url: { reveal(): string };
  poolMax: number;
  /** PEM of the CA that signed the server's certificate (DATABASE_CA_CERT): verify against it. */
  caCert?: string;
}

export interface JobRow {
  jobId: string;
  productionId: string;
  status: string;
  input: unknown;
}

export interface AttachmentRow {
  attachId: number;
  filePath: string | null;
}

export interface NewAttachment {
  fileName: string;
  path: string;
  size: number;
  mimeType: string;
}

export interface JobFinish {
  jobId: string;
  productionId: string;
  status: 'completed' | 'failed';
  attachIds: number[];
  failedImages: number;
}

/** What the worker reads and writes in the front end's tables; every write is idempotent. */
export interface JobStore {
  findJob(jobId: string): Promise<JobRow | undefined>;
  /**
   * The bridge's one read: a job's `job_input_data`, or undefined without a row. It touches `job_id` and
   * `job_input_data` alone, so a role granted SELECT on those two columns is all the bridge needs.
   */
  findJobInput(jobId: string): Promise<{ input: unknown } | undefined>;
  /** Whether `userId` has a job older than this one still pending or processing (the fairness of its calls). */
  userHasOlderActiveJob(jobId: string, userId: string): Promise<boolean>;
  productionExists(productionId: string): Promise<boolean>;
  findAttachment(attachId: number): Promise<AttachmentRow | undefined>;
  /** The job and its production photo go `processing`. */
  markJobProcessing(jobId: string, productionId: string, totalImages: number, restart: boolean): Promise<void>;
  /** The image's `quel_attach` row (one per path) and the job's progress; returns the row's id. */
  recordImage(jobId: string, attachment: NewAttachment, failedImages: number): Promise<number>;
  /** Progress alone, merged so that it never goes backwards. */
  recordProgress(jobId: string, attachIds: number[], failedImages: number): Promise<void>;
  /** The job's final status and counts, and the production photo's ids and count. */
  finishJob(finish: JobFinish): Promise<void>;
  findStalePendingJobs(olderThanSeconds: number, limit: number): Promise<string[]>;
  markJobFailed(jobId: string): Promise<void>;
}

export function createDatabasePool(settings: DatabaseSettings): Pool {
  // Bounded waits: a lost server fails the attempt in seconds and Temporal retries it, instead of a hung
  // attempt holding a slot until its start-to-close timeout.
  const pool = new Pool({
    ...connectionConfig(settings),
    max: settings.poolMax,
    connectionTimeoutMillis: 5_000,
    query_timeout: 10_000,
  });
  // An idle client losing its server (restart, pooler failover) must not crash the worker; the next query reconnects.
  pool.on('error', () => undefined);
  return pool;
}

/**
 * The connection string read with libpq's meaning of `sslmode`, the one every Postgres tool and Supabase's docs
 * use: `require` encrypts without verifying (node-postgres on its own takes it for `verify-full`, which a
 * private CA such as Supabase's fails), `verify-full` verifies. A CA given apart (DATABASE_CA_CERT) is verified
 * against, by `verify-full` unless the string asks for another mode.
 */
function connectionConfig(settings: DatabaseSettings): ClientConfig {
  const url = new URL(settings.url.reveal());
  if (settings.caCert && !url.searchParams.has('sslmode')) url.searchParams.set('sslmode', 'verify-full');
  const compat = url.searchParams.has('uselibpqcompat') ? {} : { useLibpqCompat: true };
  let config: ReturnType<typeof parse>;
  try {
    config = parse(url.toString(), compat);
  } catch (error) {
    // Such as verify-ca without a CA; the message names the mode, never the string.
    throw new ConfigError([`DATABASE_URL: ${(error as Error).message}`]);
  }
  if (settings.caCert && typeof config.ssl === 'object') config.ssl.ca = settings.caCert;
  return toClientConfig(config);
}

/**
 * One connection at start, so that a server whose certificate we cannot trust stops the worker with a sentence
 * naming the setting, instead of failing every activity. A server that is merely down is not an error here.
 */
export async function checkDatabaseTls(pool: Pool): Promise<void> {
  const client = await pool.connect().catch((error: unknown) => {
    const code = untrustedCertificateCode(error);
    if (code) {
      throw new ConfigError([
        `DATABASE_URL: the database's certificate is not trusted (${code}); set DATABASE_CA_CERT to the CA that ` +
          'signed it, or use sslmode=require to encrypt without verifying',
      ]);
    }
    if (/does not support SSL/i.test((error as Error).message ?? '')) {
      throw new ConfigError(['DATABASE_URL: the database does not accept TLS; remove sslmode, or check the host']);
    }
  });
  client?.release();
}

/**
 * The live schema may let the id lists and counters be NULL, or have no defaults: every statement reads a NULL
 * (or a JSON null) list as empty and a NULL counter as 0, so that adding to one never leaves NULL behind.
 */
const idsOrEmpty = (column: string) => `COALESCE(NULLIF(${column}, 'null'::jsonb), '[]'::jsonb)`;
const countOrZero = (column: string) => `COALESCE(${column}, 0)`;

/**
 * `column` with each id of the jsonb array `added` it lacks appended (in order, once), and how many that is:
 * the shape of every id-list write below. Existing entries are left exactly as they are.
 */
const appendMissingIds = (column: string, added: string) => `(
  SELECT ${idsOrEmpty(column)} || COALESCE(jsonb_agg(a.id ORDER BY a.pos), '[]'::jsonb) AS ids,
         count(a.id)::int AS appended
    FROM (SELECT DISTINCT ON (id) id, pos FROM jsonb_array_elements(${added}) WITH ORDINALITY AS e(id, pos)
           ORDER BY id, pos) AS a
   WHERE NOT ${idsOrEmpty(column)} @> jsonb_build_array(a.id)
) AS merged`;

/**
 * Progress as absolute values merged into what is there: ids are added once, counts follow the ids, and a late
 * or repeated write can never make the numbers the front end polls go backwards.
 */
const PROGRESS_UPDATE = `
  UPDATE quel_production_jobs
     SET (generated_attach_ids, completed_images) =
           (SELECT ids, jsonb_array_length(ids) FROM ${appendMissingIds('generated_attach_ids', '$2::jsonb')}),
         failed_images = GREATEST(${countOrZero('failed_images')}, $3),
         updated_at = now()
   WHERE job_id = $1`;

export function createJobStore(pool: Pool): JobStore {
  return {
    async findJob(jobId: string): Promise<JobRow | undefined> {
      const rows = await queryTolerantOfIdType<JobRow>(
        pool,
        `SELECT job_id::text AS "jobId", production_id::text AS "productionId", job_status AS status,
                job_input_data AS input
           FROM quel_production_jobs WHERE job_id = $1`,
        [jobId],
      );
      return rows[0];
    },

    async findJobInput(jobId: string): Promise<{ input: unknown } | undefined> {
      const rows = await queryTolerantOfIdType<{ input: unknown }>(
        pool,
        'SELECT job_input_data AS input FROM quel_production_jobs WHERE job_id = $1',
        [jobId],
      );
      return rows[0];
    },

    async userHasOlderActiveJob(jobId: string, userId: string): Promise<boolean> {
      // Another user's malformed row must not fail this job: Postgres cannot read a json \u0000 as text, so a row
      // holding one is passed over unread (its own job fails on it, and leaves the active set).
      const rows = await queryTolerantOfIdType<{ older: boolean }>(
        pool,
        `SELECT EXISTS (
           SELECT 1 FROM quel_production_jobs other
            WHERE other.job_status IN ('pending', 'processing')
              AND (other.created_at, other.job_id) < (job.created_at, job.job_id)
              AND CASE WHEN strpos(other.job_input_data::text, '\\u0000') > 0 THEN false
                       ELSE other.job_input_data->>'userId' = $2 END) AS older
           FROM quel_production_jobs job WHERE job.job_id = $1`,
        [jobId, userId],
      );
      return rows[0]?.older ?? false;
    },

    async productionExists(productionId: string): Promise<boolean> {
      const rows = await queryTolerantOfIdType(pool, 'SELECT 1 FROM quel_production_photo WHERE production_id = $1', [
        productionId,
      ]);
      return rows.length > 0;
    },

    async findAttachment(attachId: number): Promise<AttachmentRow | undefined> {
      const rows = await queryTolerantOfIdType<AttachmentRow>(
        pool,
        'SELECT attach_id AS "attachId", attach_file_path AS "filePath" FROM quel_attach WHERE attach_id = $1',
        [attachId],
      );
      return rows[0];
    },

    /**
     * Job and production photo go `processing` together. A completed job is never reopened; a failed one is
     * only when this run restarts it, so a late duplicate of this call cannot undo a failure.
     */
    async markJobProcessing(jobId: string, productionId: string, totalImages: number, restart: boolean): Promise<void> {
      await inTransaction(pool, async (client) => {
        await client.query(
          `UPDATE quel_production_jobs
              SET job_status = 'processing', total_images = $2, started_at = COALESCE(started_at, now()),
                  completed_at = NULL, updated_at = now()
            WHERE job_id = $1 AND (job_status IN ('pending', 'processing') OR ($3 AND job_status = 'failed'))`,
          [jobId, totalImages, restart],
        );
        await client.query(
          `UPDATE quel_production_photo SET production_status = 'processing', updated_at = now()
            WHERE production_id = $1`,
          [productionId],
        );
      });
    },

    /**
     * An image's `quel_attach` row and its share of the job's progress, in one transaction, so the polled ids
     * never name a row that does not exist. One row per object path however often this runs: the advisory lock
     * serialises attempts racing on one path (quel_attach has no unique key on it) and ends with the
     * transaction, as a pooler needs. Returns the row's id.
     */
    async recordImage(jobId: string, attachment: NewAttachment, failedImages: number): Promise<number> {
      return inTransaction(pool, async (client) => {
        await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [attachment.path]);
        const existing = await client.query<{ attachId: number }>(
          'SELECT attach_id AS "attachId" FROM quel_attach WHERE attach_file_path = $1 ORDER BY attach_id LIMIT 1',
          [attachment.path],
        );
        const attachId =
          existing.rows[0]?.attachId ??
          (
            await client.query<{ attachId: number }>(
              `INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path, attach_file_size,
                                        attach_file_type, attach_directory, attach_storage_type)
               VALUES ($1, $1, $2, $3, $4, $2, 'supabase')
               RETURNING attach_id AS "attachId"`,
              [attachment.fileName, attachment.path, attachment.size, attachment.mimeType],
            )
          ).rows[0]!.attachId;
        await client.query(PROGRESS_UPDATE, [jobId, JSON.stringify([attachId]), failedImages]);
        return attachId;
      });
    },

    /** Progress alone, for an image given up on. */
    async recordProgress(jobId: string, attachIds: number[], failedImages: number): Promise<void> {
      await pool.query(PROGRESS_UPDATE, [jobId, JSON.stringify(attachIds), failedImages]);
    },

    /**
     * The job's final state and the production photo's share of it, in one transaction. The production's
     * append is one statement: each id lands once and the count grows by the ids newly appended, so a repeat
     * adds nothing and two jobs of one production finishing together both land (the row lock orders them).
     */
    async finishJob(finish: JobFinish): Promise<void> {
      const ids = JSON.stringify(finish.attachIds);
      await inTransaction(pool, async (client) => {
        await client.query(
          `UPDATE quel_production_jobs
              SET (generated_attach_ids, completed_images) =
                  (SELECT ids, jsonb_array_length(ids) FROM ${appendMissingIds('generated_attach_ids', '$2::jsonb')}),
                  failed_images = $3, job_status = $4,
                  completed_at = COALESCE(completed_at, now()), updated_at = now()
            WHERE job_id = $1`,
          [finish.jobId, ids, finish.failedImages, finish.status],
        );
        await client.query(
          `UPDATE quel_production_photo
              SET (attach_ids, generated_image_count) =
                    (SELECT ids, ${countOrZero('generated_image_count')} + appended
                       FROM ${appendMissingIds('attach_ids', '$2::jsonb')}),
                  production_status = $3, updated_at = now()
            WHERE production_id = $1`,
          [finish.productionId, ids, finish.status],
        );
      });
    },

    /** Jobs still `pending` well after they were created: their push to the queue may have been lost. */
    async findStalePendingJobs(olderThanSeconds: number, limit: number): Promise<string[]> {
      const { rows } = await pool.query<{ jobId: string }>(
        `SELECT job_id::text AS "jobId" FROM quel_production_jobs
          WHERE job_status = 'pending' AND created_at < now() - make_interval(secs => $1)
          ORDER BY created_at LIMIT $2`,
        [olderThanSeconds, limit],
      );
      return rows.map((row) => row.jobId);
    },

    /** Ends a job whose data can never be processed, so the polling front end stops waiting. */
    async markJobFailed(jobId: string): Promise<void> {
      await queryTolerantOfIdType(
        pool,
        `UPDATE quel_production_jobs
            SET job_status = 'failed', completed_at = COALESCE(completed_at, now()), updated_at = now()
          WHERE job_id = $1 AND job_status <> 'completed'`,
        [jobId],
      );
    },
  };
}

async function inTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/**
 * Ids may be `uuid` or `text` columns, and numbers `integer` or `bigint`: an id the column cannot hold (22P02, a
 * string that is no uuid; 22003, a number beyond its range) simply matches no row.
 */
async function queryTolerantOfIdType<T extends object = object>(
  pool: Pool,
  sql: string,
  params: unknown[],
): Promise<T[]> {
  try {
    return (await pool.query<T>(sql, params)).rows;
  } catch (error) {
    if (error instanceof DatabaseError && (error.code === '22P02' || error.code === '22003')) return [];
    throw error;
  }
}

/**
 * Errors of SQL classes 22 (data), 23 (integrity) and 42 (syntax, missing table or column) repeat on every
 * try; anything else (connection lost, server restarting, serialization) is worth waiting out.
 */
export function databaseFailure(error: unknown): unknown {
  if (error instanceof DatabaseError && /^(22|23|42)/.test(error.code ?? '')) {
    return ApplicationFailure.nonRetryable(
      `database rejected a statement (${error.code}): ${error.message}`,
      FailureType.databasePermanent,
    );
  }
  return error;
}
