import { createJobStore, type JobStore } from '../src/activities/database';
import { createTestDatabase, type LocalDatabase } from '../dev/database';
import { attachmentsUnder, insertJob, insertProduction, jobState, productionState } from '../dev/seed';

/** Every statement of the product against a real PostgreSQL, each run twice where it may run twice. */

let db: LocalDatabase;
let store: JobStore;
beforeAll(async () => {
  db = await createTestDatabase();
  store = createJobStore(db.pool);
});
afterAll(async () => {
  await db?.drop();
});

const input = { prompt: 'p', quantity: 2, userId: 'u1', mergedImageAttachId: 1 };
const image = (path: string) => ({ fileName: path.split('/').pop()!, path, size: 123, mimeType: 'image/jpeg' });

describe('findJob', () => {
  test('finds a job by id, with its data as stored', async () => {
    const productionId = await insertProduction(db.pool);
    const jobId = await insertJob(db.pool, productionId, input);
    expect(await store.findJob(jobId)).toEqual({ jobId, productionId, status: 'pending', input });
  });

  test('an unknown id and a string that is no uuid both find nothing', async () => {
    expect(await store.findJob('9b2f7c4e-0000-4000-8000-000000000000')).toBeUndefined();
    expect(await store.findJob("not-a-uuid'; DROP TABLE quel_attach; --")).toBeUndefined();
  });
});

describe('markJobProcessing', () => {
  test('moves job and production to processing, keeping the first start time on a repeat', async () => {
    const productionId = await insertProduction(db.pool);
    const jobId = await insertJob(db.pool, productionId, input);
    await store.markJobProcessing(jobId, productionId, 2, false);
    const first = await jobState(db.pool, jobId);
    await store.markJobProcessing(jobId, productionId, 2, false);
    const second = await jobState(db.pool, jobId);
    expect(first).toMatchObject({ job_status: 'processing', total_images: 2 });
    expect(second.started_at).toEqual(first.started_at);
    expect((await productionState(db.pool, productionId)).production_status).toBe('processing');
  });

  test('never reopens a completed job, and a failed one only when restarting it', async () => {
    const productionId = await insertProduction(db.pool);
    const completed = await insertJob(db.pool, productionId, input, { status: 'completed' });
    const failed = await insertJob(db.pool, productionId, input, { status: 'failed' });
    await store.markJobProcessing(completed, productionId, 2, true);
    await store.markJobProcessing(failed, productionId, 2, false);
    expect((await jobState(db.pool, completed)).job_status).toBe('completed');
    expect((await jobState(db.pool, failed)).job_status).toBe('failed');
    await store.markJobProcessing(failed, productionId, 2, true);
    expect((await jobState(db.pool, failed)).job_status).toBe('processing');
  });
});

describe('recordImage', () => {
  test('inserts the row as the original system does and adds its id to the job, in one go', async () => {
    const jobId = await insertJob(db.pool, await insertProduction(db.pool), input);
    const id = await store.recordImage(jobId, image('generated-images/user-a/generated_1_aaaaaa.jpg'), 0);
    expect(await attachmentsUnder(db.pool, 'generated-images/user-a')).toEqual([
      {
        attach_id: id,
        attach_original_name: 'generated_1_aaaaaa.jpg',
        attach_file_name: 'generated_1_aaaaaa.jpg',
        attach_file_path: 'generated-images/user-a/generated_1_aaaaaa.jpg',
        attach_directory: 'generated-images/user-a/generated_1_aaaaaa.jpg',
        attach_file_size: '123',
        attach_file_type: 'image/jpeg',
        attach_storage_type: 'supabase',
        created_at: expect.any(Date),
      },
    ]);
    expect(await jobState(db.pool, jobId)).toMatchObject({ generated_attach_ids: [id], completed_images: 1 });
  });

  test('one row and one id per path, even for ten attempts racing each other', async () => {
    const jobId = await insertJob(db.pool, await insertProduction(db.pool), input);
    const path = 'generated-images/user-b/generated_2_bbbbbb.png';
    const ids = await Promise.all(Array.from({ length: 10 }, () => store.recordImage(jobId, image(path), 0)));
    expect(new Set(ids).size).toBe(1);
    expect(await store.recordImage(jobId, image(path), 0)).toBe(ids[0]);
    expect(await attachmentsUnder(db.pool, 'generated-images/user-b')).toHaveLength(1);
    expect(await jobState(db.pool, jobId)).toMatchObject({ generated_attach_ids: [ids[0]], completed_images: 1 });
  });

  test('images of one job recorded at the same moment all land in its progress', async () => {
    const jobId = await insertJob(db.pool, await insertProduction(db.pool), input);
    const paths = Array.from({ length: 8 }, (_, i) => `generated-images/user-c/generated_3_cccc0${i}.png`);
    const ids = await Promise.all(paths.map((path) => store.recordImage(jobId, image(path), 0)));
    const state = await jobState(db.pool, jobId);
    expect([...state.generated_attach_ids].sort((a, b) => a - b)).toEqual([...ids].sort((a, b) => a - b));
    expect(state.completed_images).toBe(8);
  });
});

describe('recordProgress', () => {
  test('adds ids once, counts follow the ids, and an older report never takes progress back', async () => {
    const productionId = await insertProduction(db.pool);
    const jobId = await insertJob(db.pool, productionId, input);
    await store.recordProgress(jobId, [7, 8], 0);
    await store.recordProgress(jobId, [7], 0); // a late report of an earlier moment
    await store.recordProgress(jobId, [7, 8], 1); // a repeat
    expect(await jobState(db.pool, jobId)).toMatchObject({
      generated_attach_ids: [7, 8],
      completed_images: 2,
      failed_images: 1,
    });
    await store.recordProgress(jobId, [7, 8, 9], 0);
    expect(await jobState(db.pool, jobId)).toMatchObject({
      generated_attach_ids: [7, 8, 9],
      completed_images: 3,
      failed_images: 1,
    });
  });
});

describe('finishJob', () => {
  test('finishes the job and appends its ids to the production once, however often it runs', async () => {
    const productionId = await insertProduction(db.pool, { attachIds: [1, 2], generatedImageCount: 2 });
    const jobId = await insertJob(db.pool, productionId, input);
    const finish = { jobId, productionId, status: 'completed' as const, attachIds: [10, 11], failedImages: 1 };
    await store.finishJob(finish);
    await store.finishJob(finish);
    expect(await jobState(db.pool, jobId)).toMatchObject({
      job_status: 'completed',
      completed_images: 2,
      failed_images: 1,
      generated_attach_ids: [10, 11],
      completed_at: expect.any(Date),
    });
    expect(await productionState(db.pool, productionId)).toEqual({
      production_status: 'completed',
      attach_ids: [1, 2, 10, 11],
      generated_image_count: 4,
    });
  });

  test('a job that made nothing ends failed and appends nothing', async () => {
    const productionId = await insertProduction(db.pool, { attachIds: [5], generatedImageCount: 1 });
    const jobId = await insertJob(db.pool, productionId, input);
    await store.finishJob({ jobId, productionId, status: 'failed', attachIds: [], failedImages: 2 });
    expect(await jobState(db.pool, jobId)).toMatchObject({
      job_status: 'failed',
      completed_images: 0,
      failed_images: 2,
    });
    expect(await productionState(db.pool, productionId)).toEqual({
      production_status: 'failed',
      attach_ids: [5],
      generated_image_count: 1,
    });
  });

  test('twenty jobs of one production finishing at the same moment all land', async () => {
    const productionId = await insertProduction(db.pool);
    const jobs = await Promise.all(Array.from({ length: 20 }, () => insertJob(db.pool, productionId, input)));
    await Promise.all(
      jobs.map((jobId, i) =>
        store.finishJob({
          jobId,
          productionId,
          status: 'completed',
          attachIds: [1000 + 2 * i, 1001 + 2 * i],
          failedImages: 0,
        }),
      ),
    );
    const production = await productionState(db.pool, productionId);
    expect(production.generated_image_count).toBe(40);
    expect([...production.attach_ids].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => 1000 + i));
  });
});

describe('markJobFailed', () => {
  test('fails a pending job but never a completed one', async () => {
    const productionId = await insertProduction(db.pool);
    const pending = await insertJob(db.pool, productionId, input);
    const completed = await insertJob(db.pool, productionId, input, { status: 'completed' });
    await store.markJobFailed(pending);
    await store.markJobFailed(pending);
    await store.markJobFailed(completed);
    expect(await jobState(db.pool, pending)).toMatchObject({ job_status: 'failed', completed_at: expect.any(Date) });
    expect((await jobState(db.pool, completed)).job_status).toBe('completed');
  });
});
