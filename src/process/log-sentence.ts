import { jobIdOfWorkflowId } from '../contract';

/**
 * What a person reads of a log line, in the demo's log or a terminal: which job and image, what happened, and the
 * few fields that say more in words, e.g. `job 64aaf75b…: image 3 of 4 stored (80 KB)`. The ids a machine needs (the
 * run, the activity, the task queue…) stay in the JSON lines that deployments ship.
 */

/** Fields told in words after the message, in this order. */
const DETAILS: ReadonlyArray<readonly [string, (value: unknown) => string]> = [
  ['status', String],
  // A Temporal worker's state.
  ['state', String],
  ['quantity', (count) => (count === 1 ? '1 image' : `${count} images`)],
  ['completedImages', (count) => `${count} made`],
  ['failedImages', (count) => `${count} failed`],
  ['bytes', (bytes) => size(Number(bytes))],
  ['delayMs', (ms) => `${ms} ms`],
];
/** Fields saying why something went wrong (the SDK's `error` arrives serialised, with its message). */
const REASONS = ['reason', 'err', 'error'];
const WARN = 40;

export function sentenceOf(line: Record<string, unknown>): string {
  const jobId = typeof line.jobId === 'string' ? line.jobId : jobIdOfWorkflowId(String(line.workflowId ?? ''));
  const image = typeof line.image === 'number' && typeof line.images === 'number' && `${line.image} of ${line.images}`;
  let what = messageOf(line);
  const subject: string[] = [];
  if (jobId) {
    subject.push(`job ${shortId(jobId)}`);
    what = what.replace(/^job /, '');
  }
  if (image && /^image\b/.test(what)) what = what.replace(/^image\b/, `image ${image}`);
  else if (image) subject.push(`image ${image}`);
  const details = DETAILS.flatMap(([key, told]) =>
    line[key] === undefined || line[key] === null ? [] : told(line[key]),
  );
  const reason = REASONS.map((key) => reasonOf(line[key])).find((text) => text);
  return [
    subject.length > 0 ? `${subject.join(', ')}: ` : '',
    what,
    details.length > 0 ? ` (${details.join(', ')})` : '',
    reason ? `: ${reason}` : '',
  ].join('');
}

/**
 * The message, on one line when it is news: the workflow bundler logs webpack's whole report, whose last line says
 * how it went. A warning or an error keeps every line.
 */
function messageOf(line: Record<string, unknown>): string {
  const message = String(line.msg ?? '');
  if (Number(line.level) >= WARN) return message;
  return (
    message
      .split('\n')
      .filter((text) => text.trim())
      .at(-1) ?? ''
  );
}

function reasonOf(value: unknown): string | undefined {
  const text = typeof value === 'string' ? value : (value as { message?: unknown } | undefined)?.message;
  return typeof text === 'string' && text ? text.split('\n')[0] : undefined;
}

/** Enough of a uuid to tell a job from the others in view. */
function shortId(id: string): string {
  return id.length > 9 ? `${id.slice(0, 8)}…` : id;
}

function size(bytes: number): string {
  if (bytes < 1_000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1_000)} KB`;
  return `${(bytes / 1_000_000).toFixed(1)} MB`;
}
