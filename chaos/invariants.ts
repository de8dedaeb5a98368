import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { workflowIdForJob } from '../src/contract';
import type { GeminiRequestRecord } from '../dev/stand-ins/gemini';
import type { StorageStandIn } from '../dev/stand-ins/storage';
import { BUCKET } from '../dev/stack';
import { NeedleSet } from './needles';

/** A job as the run submitted it. */
export interface SubmittedJob {
  jobId: string;
  productionId: string;
  userId: string;
  quantity: number;
}

export interface InvariantResult {
  name: string;
  checked: number;
  broken: number;
  /** The first few breaches, for the report. */
  examples: string[];
}

export interface Verdict {
  invariants: InvariantResult[];
  stuckJobs: number;
  duplicates: number;
  orphans: number;
  imagesMade: number;
  jobsCompleted: number;
  jobsFailed: number;
  /** Gemini answers with an image that never got stored: paid for, lost with a killed worker. */
  answersLost: number;
}

interface JobRow {
  job_id: string;
  job_status: string;
  total_images: number;
  completed_images: number;
  failed_images: number;
  generated_attach_ids: number[];
}

interface AttachRow {
  attach_id: number;
  attach_file_path: string;
  attach_file_size: string;
}

export interface Evidence {
  pool: Pool;
  client: Client;
  storage: StorageStandIn;
  geminiRequests: readonly GeminiRequestRecord[];
  jobs: readonly SubmittedJob[];
  /** Everything the worker and bridge processes wrote. */
  logs: string;
  /** Values that must appear in no log. */
  secrets: readonly string[];
}

/** Checks every invariant of the issue over what the run left behind. */
export async function checkInvariants(evidence: Evidence): Promise<Verdict> {
  const { pool, storage, jobs } = evidence;
  const results = new Map<string, InvariantResult>();
  const check = (name: string, ok: boolean, example: () => string) => {
    const result = results.get(name) ?? { name, checked: 0, broken: 0, examples: [] };
    results.set(name, result);
    result.checked += 1;
    if (ok) return;
    result.broken += 1;
    if (result.examples.length < 3) result.examples.push(example());
  };
  let duplicates = 0;
  let orphans = 0;

  const rows = new Map(
    (
      await pool.query<JobRow>(
        `SELECT job_id, job_status, total_images, completed_images, failed_images, generated_attach_ids
           FROM quel_production_jobs WHERE job_id = ANY($1::uuid[])`,
        [jobs.map((job) => job.jobId)],
      )
    ).rows.map((row) => [row.job_id, row]),
  );
  const attachments = new Map(
    (
      await pool.query<AttachRow>(
        `SELECT attach_id, attach_file_path, attach_file_size FROM quel_attach
          WHERE attach_file_path LIKE 'generated-images/%'`,
      )
    ).rows.map((row) => [row.attach_id, row]),
  );
  const closed = await workflowStatuses(evidence.client, jobs);

  const idsOfJob = new Map<string, number[]>();
  let stuckJobs = 0;
  for (const job of jobs) {
    const row = rows.get(job.jobId);
    const ended = row?.job_status === 'completed' || row?.job_status === 'failed';
    const workflow = closed.get(job.jobId);
    if (!ended || !workflow?.closed) stuckJobs += 1;
    check('job ended: row completed or failed', ended, () => `${job.jobId} is ${row?.job_status ?? 'missing'}`);
    check('job ended: its workflow closed, exactly one run', workflow?.closed === true && workflow.runs === 1, () => {
      return `${job.jobId}: ${workflow?.status ?? 'no workflow'}, ${workflow?.runs ?? 0} run(s)`;
    });
    if (!row) continue;
    const ids = row.generated_attach_ids;
    idsOfJob.set(job.jobId, ids);
    const expected = row.completed_images > 0 ? 'completed' : 'failed';
    check('status follows the policy', !ended || row.job_status === expected, () => {
      return `${job.jobId}: ${row.job_status} with ${row.completed_images} made`;
    });
    check(
      'completed + failed = total = quantity',
      !ended || (row.completed_images + row.failed_images === row.total_images && row.total_images === job.quantity),
      () => `${job.jobId}: ${row.completed_images} + ${row.failed_images} of ${row.total_images}`,
    );
    const repeated = ids.length - new Set(ids).size;
    duplicates += repeated;
    check('generated_attach_ids: no duplicate', repeated === 0, () => `${job.jobId}: ${ids}`);
    check('generated_attach_ids: one per image made', ids.length === row.completed_images, () => {
      return `${job.jobId}: ${ids.length} ids, ${row.completed_images} made`;
    });
    const folder = `generated-images/user-${job.userId}/`;
    for (const id of ids) {
      const attach = attachments.get(id);
      const object = attach ? storage.get(BUCKET, attach.attach_file_path) : undefined;
      check(
        'each id: its row, in the job folder, its object, sizes equal',
        !!attach &&
          attach.attach_file_path.startsWith(folder) &&
          Number(attach.attach_file_size) === object?.bytes.length,
        () => `${job.jobId} id ${id}: row ${attach?.attach_file_path ?? 'missing'}, object ${object?.bytes.length}`,
      );
    }
  }

  const productions = await productionsOf(pool, jobs);
  for (const [productionId, production] of productions) {
    const expected = jobs
      .filter((job) => job.productionId === productionId)
      .flatMap((j) => idsOfJob.get(j.jobId) ?? []);
    const held = production.attach_ids;
    const repeated = held.length - new Set(held).size;
    duplicates += repeated;
    check(
      "production: each of its jobs' ids exactly once, nothing else",
      repeated === 0 && sameSet(held, expected),
      () => `${productionId}: holds ${held}, jobs made ${expected}`,
    );
    check('production: generated_image_count = ids appended', production.generated_image_count === held.length, () => {
      return `${productionId}: count ${production.generated_image_count}, ${held.length} ids`;
    });
  }

  const idsOfRun = new Set([...idsOfJob.values()].flat());
  const pathsOfRun = new Set([...idsOfRun].map((id) => attachments.get(id)?.attach_file_path));
  // Each user's folder once: its jobs share it.
  for (const userId of new Set(jobs.map((job) => job.userId))) {
    for (const path of storage.list(BUCKET, `generated-images/user-${userId}/`)) {
      const owned = pathsOfRun.has(path);
      if (!owned) orphans += 1;
      check("no orphan object: every object is some job's image", owned, () => path);
    }
  }
  const pathsSeen = new Map<string, number>();
  for (const attach of attachments.values()) {
    const owned = idsOfRun.has(attach.attach_id);
    if (!owned) orphans += 1;
    check("no orphan row: every quel_attach row is some job's image", owned, () => `${attach.attach_id}`);
    pathsSeen.set(attach.attach_file_path, (pathsSeen.get(attach.attach_file_path) ?? 0) + 1);
  }
  for (const [path, count] of pathsSeen) {
    duplicates += count - 1;
    check('one quel_attach row per object', count === 1, () => `${path}: ${count} rows`);
  }

  const payment = checkPayments(evidence, jobs);
  for (const call of evidence.geminiRequests) {
    check('Gemini: every call names its image', !!call.imageKey, () => `call ${call.index} names none`);
  }
  for (const { key, late } of payment.paidAfterStored) {
    check('Gemini: no image paid for after it was stored', late === 0, () => `${key}: ${late} call(s) after`);
  }
  for (const [path, answers] of payment.answersPerPath) {
    check('Storage: each object holds one Gemini answer, never replaced', answers === 1, () => `${path}: ${answers}`);
  }

  for (const [key, followed] of followUpsOfUnfetchedUrls(evidence.geminiRequests)) {
    check('Gemini: an image whose URL could not be fetched is asked for again', followed, () => key);
  }

  // Signed URLs carry a token that reads the source: as secret as the keys.
  const tokens = evidence.geminiRequests.flatMap((r) => (r.fileUri ? [signedUrlToken(r.fileUri)] : []));
  const secrets = new NeedleSet([...evidence.secrets, ...tokens]);
  const leaked = secrets.foundIn(evidence.logs).length;
  check('no secret or signed URL in the worker and bridge logs', leaked === 0, () => `${leaked} found`);
  for (const job of jobs) {
    const found = secrets.foundIn(await historyOf(evidence.client, job.jobId)).length;
    check('no secret or signed URL in any workflow history', found === 0, () => `${job.jobId}: ${found} found`);
  }

  const made = [...rows.values()];
  return {
    invariants: [...results.values()],
    stuckJobs,
    duplicates,
    orphans,
    imagesMade: made.reduce((sum, row) => sum + row.completed_images, 0),
    jobsCompleted: made.filter((row) => row.job_status === 'completed').length,
    jobsFailed: made.filter((row) => row.job_status === 'failed').length,
    answersLost: payment.answersLost,
  };
}

/**
 * Waits until no job's workflow runs any more, or `deadline`: a workflow closes after its row's final write, later
 * still when that write's answer was lost to a fault.
 */
export async function waitForWorkflowsToClose(client: Client, jobs: readonly SubmittedJob[], deadline: number) {
  let open = [...jobs];
  while (open.length > 0 && Date.now() < deadline) {
    const statuses = await Promise.all(
      open.map((job) => client.workflow.getHandle(workflowIdForJob(job.jobId)).describe()),
    );
    open = open.filter((_, i) => statuses[i]!.status.name === 'RUNNING');
    if (open.length > 0) await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function workflowStatuses(client: Client, jobs: readonly SubmittedJob[]) {
  const runs = await runsPerWorkflow(
    client,
    jobs.map((job) => workflowIdForJob(job.jobId)),
  );
  const statuses = new Map<string, { closed: boolean; status: string; runs: number }>();
  for (const job of jobs) {
    const workflowId = workflowIdForJob(job.jobId);
    try {
      const description = await client.workflow.getHandle(workflowId).describe();
      const status = description.status.name;
      const closed = status === 'COMPLETED' || status === 'FAILED';
      statuses.set(job.jobId, { closed, status, runs: runs.get(workflowId) ?? 0 });
    } catch {
      statuses.set(job.jobId, { closed: false, status: 'not found', runs: 0 });
    }
  }
  return statuses;
}

/** Ids listed per visibility query: a server allows a namespace 10 visibility calls a second by default. */
const IDS_PER_LIST = 100;

/** How many runs each workflow id has, from visibility, a hundred ids a call rather than one. */
async function runsPerWorkflow(client: Client, workflowIds: readonly string[]): Promise<Map<string, number>> {
  const runs = new Map<string, number>();
  for (let i = 0; i < workflowIds.length; i += IDS_PER_LIST) {
    const ids = workflowIds.slice(i, i + IDS_PER_LIST).map((id) => `'${id}'`);
    for await (const execution of client.workflow.list({ query: `WorkflowId IN (${ids.join(', ')})` })) {
      runs.set(execution.workflowId, (runs.get(execution.workflowId) ?? 0) + 1);
    }
  }
  return runs;
}

async function productionsOf(pool: Pool, jobs: readonly SubmittedJob[]) {
  const { rows } = await pool.query<{ production_id: string; attach_ids: number[]; generated_image_count: number }>(
    `SELECT production_id, attach_ids, generated_image_count FROM quel_production_photo
      WHERE production_id = ANY($1::uuid[])`,
    [[...new Set(jobs.map((job) => job.productionId))]],
  );
  return new Map(rows.map((row) => [row.production_id, row]));
}

/**
 * From the doubles' logs: a Gemini call for an image (named by the product's image-key header) made after that
 * image's object was stored is a second payment; an object whose uploads carried two different answers was replaced.
 */
function checkPayments(evidence: Evidence, jobs: readonly SubmittedJob[]) {
  const folderOf = new Map(jobs.map((job) => [job.jobId, `generated-images/user-${job.userId}`]));
  const uploads = evidence.storage.requests.filter((r) => r.sha256 && r.path?.startsWith('generated-images/'));
  const answersOfPath = new Map<string, Set<string | undefined>>();
  for (const upload of uploads) {
    answersOfPath.set(upload.path!, (answersOfPath.get(upload.path!) ?? new Set()).add(upload.sha256));
  }
  const answersPerPath = new Map([...answersOfPath].map(([path, answers]) => [path, answers.size]));
  const storedAt = new Map<string, number>();
  for (const path of answersOfPath.keys()) {
    const object = evidence.storage.get(BUCKET, path);
    if (object) storedAt.set(path.replace(/\.[a-z]+$/, ''), object.createdAt.getTime());
  }
  const callsPerKey = new Map<string, number[]>();
  for (const call of evidence.geminiRequests) {
    if (call.imageKey) callsPerKey.set(call.imageKey, [...(callsPerKey.get(call.imageKey) ?? []), call.at]);
  }
  const paidAfterStored = [...callsPerKey].map(([key, calls]) => {
    const [jobId, stem] = key.split('/');
    const stored = storedAt.get(`${folderOf.get(jobId!)}/${stem}`);
    return { key, late: stored === undefined ? 0 : calls.filter((at) => at > stored).length };
  });
  const storedShas = new Set(uploads.map((upload) => upload.sha256));
  const answersLost = evidence.geminiRequests.filter((r) => r.answerSha256 && !storedShas.has(r.answerSha256)).length;
  return { paidAfterStored, answersPerPath, answersLost };
}

/** Each image key with a call whose source URL Gemini could not fetch: whether a later call for it followed. */
function followUpsOfUnfetchedUrls(calls: readonly GeminiRequestRecord[]): Map<string, boolean> {
  const followed = new Map<string, boolean>();
  for (const call of calls) {
    if (call.sourceFailure !== 'unfetchable' || !call.imageKey) continue;
    followed.set(
      call.imageKey,
      calls.some((later) => later.imageKey === call.imageKey && later.index > call.index),
    );
  }
  return followed;
}

function signedUrlToken(fileUri: string): string {
  return new URL(fileUri).searchParams.get('token') ?? fileUri;
}

async function historyOf(client: Client, jobId: string): Promise<string> {
  try {
    return JSON.stringify(await client.workflow.getHandle(workflowIdForJob(jobId)).fetchHistory());
  } catch {
    return ''; // a job never started has no history; the job invariants above report it
  }
}

function sameSet(a: number[], b: number[]): boolean {
  const left = [...a].sort((x, y) => x - y);
  const right = [...b].sort((x, y) => x - y);
  return left.length === right.length && left.every((value, i) => value === right[i]);
}
