import { randomUUID } from 'node:crypto';
import type { Pool } from 'pg';
import { noisePng } from './stand-ins/images';

/**
 * What the web front end does before it pushes a job id (rows and the source object, as it leaves them), and the
 * reads of what the product made of them. This SQL is the front end's, not the product's.
 */

/** Puts the source image where the product will look for it: a stand-in's store, or real Storage. */
export type SourceUploader = (path: string, bytes: Buffer, mimeType: string) => Promise<void> | void;

export interface JobRequest {
  quantity?: unknown;
  prompt?: unknown;
  userId?: string;
  source?: Buffer;
  sourcePath?: string;
  /** A production that already has jobs, as when a user asks the same photo for more; default a new one. */
  productionId?: string;
}

export interface SeededJob {
  jobId: string;
  productionId: string;
  sourceAttachId: number;
  sourcePath: string;
  sourceBytes: Buffer;
  userId: string;
}

/** A production, its source image (object and row) and a pending job. Any field may be invalid on purpose. */
export async function seedJob(pool: Pool, upload: SourceUploader, request: JobRequest = {}): Promise<SeededJob> {
  const userId = request.userId ?? `user${Math.random().toString(36).slice(2, 10)}`;
  const sourceBytes = request.source ?? noisePng(48, 32);
  const sourcePath = request.sourcePath ?? `merged-images/user-${userId}/merged_${Date.now()}.png`;
  await upload(sourcePath, sourceBytes, 'image/png');
  const sourceAttachId = await insertAttachment(pool, sourcePath, sourceBytes.length);
  const productionId = request.productionId ?? (await insertProduction(pool));
  const jobId = await insertJob(
    pool,
    productionId,
    {
      prompt: request.prompt ?? 'make it blue',
      quantity: request.quantity ?? 2,
      userId,
      mergedImageAttachId: sourceAttachId,
    },
    { totalImages: Number.isInteger(request.quantity) ? (request.quantity as number) : 2 },
  );
  return { jobId, productionId, sourceAttachId, sourcePath, sourceBytes, userId };
}

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
