/**
 * The queue contract with the front end: an element is a job id, or a JSON object holding `job_id` or `jobId`;
 * surrounding whitespace is ignored. Anything else is refused with a reason, for the dead-letter list.
 */

export type JobIdFormat = 'uuid' | 'text';

export type ParsedElement = { ok: true; jobId: string } | { ok: false; reason: string };

/** Longer than any id or JSON wrapper the front end sends: a larger element is garbage, not a job. */
export const MAX_ELEMENT_LENGTH = 1024;

const FORMATS: Record<JobIdFormat, { pattern: RegExp; description: string }> = {
  uuid: { pattern: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, description: 'a uuid' },
  text: { pattern: /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/, description: '1-128 of A-Z a-z 0-9 - _' },
};

export function parseQueueElement(element: string, format: JobIdFormat): ParsedElement {
  if (element.length > MAX_ELEMENT_LENGTH) {
    return { ok: false, reason: `element is ${element.length} characters, longer than ${MAX_ELEMENT_LENGTH}` };
  }
  const trimmed = element.trim();
  if (trimmed === '') return { ok: false, reason: 'element is empty' };
  const candidate = trimmed.startsWith('{') ? idFromJson(trimmed) : { ok: true as const, jobId: trimmed };
  if (!candidate.ok) return candidate;
  const id = candidate.jobId.trim();
  const { pattern, description } = FORMATS[format];
  if (!pattern.test(id)) return { ok: false, reason: `job id is not ${description}` };
  // A uuid names one job however it is cased; one canonical form gives one workflow id.
  return { ok: true, jobId: format === 'uuid' ? id.toLowerCase() : id };
}

function idFromJson(text: string): ParsedElement {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'element starts with "{" but is not valid JSON' };
  }
  const record = value as Record<string, unknown>;
  const id = record.job_id ?? record.jobId;
  if (id === undefined) return { ok: false, reason: 'JSON element has no job_id or jobId' };
  if (typeof id !== 'string' && typeof id !== 'number') return { ok: false, reason: 'job_id/jobId is not a string' };
  return { ok: true, jobId: String(id) };
}
