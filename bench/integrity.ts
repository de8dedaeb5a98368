import { attachmentsUnder, jobState, productionState } from '../dev/seed';
import { BUCKET, type SeededJob, type Stack } from '../dev/stack';

/** Per way: jobs checked, lost and duplicated. */
export interface Tally {
  jobs: number;
  lost: number;
  duplicates: number;
}

export const emptyTally = (): Tally => ({ jobs: 0, lost: 0, duplicates: 0 });

/** Lost: a job not completed with all its images. Duplicates: rows, objects or ids beyond one per image. */
export async function checkJob(stack: Stack, job: SeededJob, tally: Tally): Promise<void> {
  tally.jobs += 1;
  const state = await jobState(stack.db.pool, job.jobId);
  const total = state.total_images;
  if (state.job_status !== 'completed' || state.completed_images !== total) tally.lost += 1;
  const folder = `generated-images/user-${job.userId}`;
  const rows = await attachmentsUnder(stack.db.pool, folder);
  const objects = stack.storage.list(BUCKET, folder);
  const production = await productionState(stack.db.pool, job.productionId);
  tally.duplicates += Math.max(0, rows.length - total) + Math.max(0, objects.length - total);
  tally.duplicates += state.generated_attach_ids.length - new Set(state.generated_attach_ids).size;
  tally.duplicates += production.attach_ids.length - new Set(production.attach_ids).size;
  tally.duplicates += Math.max(0, production.generated_image_count - total);
}

/** The floor has no rows or objects: a job is lost when its records are not one per image, each once. */
export function checkFloorJob(records: number[], quantity: number, tally: Tally): void {
  tally.jobs += 1;
  const distinct = new Set(records).size;
  if (distinct !== quantity) tally.lost += 1;
  tally.duplicates += records.length - distinct;
}
