import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Pool } from 'pg';
import type { ImageStore } from '../../src/activities/storage';

/**
 * What the web front end does before it pushes a job id: the source image stored and recorded, a production
 * photo and a pending job row. The demo plays the front end here, so this SQL is the front end's, not the product's.
 */

export const SAMPLE_IMAGE = path.resolve(__dirname, '..', '..', 'assets', 'sample.png');

export interface SampleJob {
  jobId: string;
  productionId: string;
  userId: string;
  sourcePath: string;
}

export async function createSampleJob(
  pool: Pool,
  storage: ImageStore,
  input: { quantity: number; prompt: string },
): Promise<SampleJob> {
  const userId = 'demo-user';
  const bytes = await readFile(SAMPLE_IMAGE);
  const sourcePath = `merged-images/user-${userId}/merged_${Date.now()}.png`;
  await storage.upload(sourcePath, bytes, 'image/png');
  const { rows } = await pool.query<{ attach_id: number }>(
    `INSERT INTO quel_attach (attach_original_name, attach_file_name, attach_file_path, attach_file_size,
                              attach_file_type, attach_directory, attach_storage_type)
     VALUES ($1, $1, $2, $3, 'image/png', $2, 'supabase') RETURNING attach_id`,
    [path.basename(sourcePath), sourcePath, bytes.length],
  );
  const productionId = randomUUID();
  const jobId = randomUUID();
  await pool.query(`INSERT INTO quel_production_photo (production_id, production_status) VALUES ($1, 'draft')`, [
    productionId,
  ]);
  await pool.query(
    `INSERT INTO quel_production_jobs (job_id, production_id, job_status, job_input_data, total_images)
     VALUES ($1, $2, 'pending', $3::jsonb, $4)`,
    [
      jobId,
      productionId,
      JSON.stringify({
        prompt: input.prompt,
        quantity: input.quantity,
        userId,
        mergedImageAttachId: rows[0]!.attach_id,
      }),
      input.quantity,
    ],
  );
  return { jobId, productionId, userId, sourcePath };
}
