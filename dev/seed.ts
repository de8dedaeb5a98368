import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';

/** Rows as the web front end creates them. */

export async function insertProduction(
  pool: Pool,
  overrides: { attachIds?: number[]; generatedImageCount?: number } = {},
): Promise<string> {
  const productionId = randomUUID();
  await pool.query(
    `INSERT INTO quel_production_photo (production_id, production_status, attach_ids, generated_image_count)
     VALUES ($1, 'draft', $2::jsonb, $3)`,
    [productionId, JSON.stringify(overrides.attachIds ?? []), overrides.generatedImageCount ?? 0],
  );
  return productionId;
}

export async function insertAttachment(pool: Pool, path: string, size = 0, mimeType = 'image/png'): Promise<number> {
  const { rows } = await pool.query<{ attach_id: number }>(
    `INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path, attach_file_size,
                              attach_file_type, attach_directory, attach_storage_type)
     VALUES ($1, $1, $2, $3, $4, $2, 'supabase') RETURNING attach_id`,
    [path.split('/').pop(), path, size, mimeType],
  );
  return rows[0]!.attach_id;
}

export async function insertJob(
  pool: Pool,
  productionId: string,
  input: unknown,
  overrides: { status?: string; totalImages?: number } = {},
): Promise<string> {
  const jobId = randomUUID();
  await pool.query(
    `INSERT INTO quel_production_jobs (job_id, production_id, job_status, job_input_data, total_images)
     VALUES ($1, $2, $3, $4::jsonb, $5)`,
    [jobId, productionId, overrides.status ?? 'pending', JSON.stringify(input), overrides.totalImages ?? 0],
  );
  return jobId;
}

export interface JobState {
  job_status: string;
  total_images: number;
  completed_images: number;
  failed_images: number;
  generated_attach_ids: number[];
  started_at: Date | null;
  completed_at: Date | null;
}

export async function jobState(pool: Pool, jobId: string): Promise<JobState> {
  const { rows } = await pool.query<JobState>(
    `SELECT job_status, total_images, completed_images, failed_images, generated_attach_ids, started_at, completed_at
       FROM quel_production_jobs WHERE job_id = $1`,
    [jobId],
  );
  return rows[0]!;
}

export async function productionState(pool: Pool, productionId: string) {
  const { rows } = await pool.query<{ production_status: string; attach_ids: number[]; generated_image_count: number }>(
    'SELECT production_status, attach_ids, generated_image_count FROM quel_production_photo WHERE production_id = $1',
    [productionId],
  );
  return rows[0]!;
}

export async function attachmentsUnder(pool: Pool, folder: string) {
  const { rows } = await pool.query<{
    attach_id: number;
    attach_file_name: string;
    attach_file_path: string;
    attach_file_size: string;
    attach_file_type: string;
    attach_directory: string;
    attach_storage_type: string;
  }>('SELECT * FROM quel_attach WHERE attach_file_path LIKE $1 ORDER BY attach_id', [`${folder}/%`]);
  return rows;
}
