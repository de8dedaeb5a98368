import { z } from 'zod';
import { USER_ID_PATTERN } from '../contract';

/** Long enough for any real prompt, short enough that history and Gemini requests stay small. */
export const MAX_PROMPT_LENGTH = 10_000;

export interface JobInput {
  prompt: string;
  quantity: number;
  userId: string;
  sourceAttachId: number;
}

/**
 * Whole numbers arrive as JSON numbers or, from some clients, as digit strings ("3"): both are accepted;
 * "2.5", "-1", "3 " and "three" are not.
 */
const wholeNumber = (name: string) =>
  z
    .union([z.number(), z.string().regex(/^\d+$/).transform(Number)], { error: `${name} must be a whole number` })
    .pipe(z.number().int(`${name} must be a whole number`).positive(`${name} must be at least 1`));

const userIdSchema = z
  .unknown()
  .refine((value) => value !== undefined && value !== null, 'userId is missing')
  .pipe(
    z.union([z.string(), z.number().int().nonnegative().transform(String)], {
      error: 'userId must be a string or a whole number',
    }),
  )
  .refine((id) => USER_ID_PATTERN.test(id), 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)');

function jobInputSchema(maxImagesPerJob: number) {
  return z.object(
    {
      prompt: z
        .string({ error: 'prompt is missing' })
        .refine((prompt) => prompt.trim().length > 0, 'prompt is empty')
        .refine(
          (prompt) => prompt.length <= MAX_PROMPT_LENGTH,
          `prompt is longer than ${MAX_PROMPT_LENGTH} characters`,
        ),
      quantity: z
        .unknown()
        .refine((value) => value !== undefined && value !== null, 'quantity is missing')
        .pipe(wholeNumber('quantity'))
        .refine(
          (quantity) => quantity <= maxImagesPerJob,
          `quantity is above the limit of ${maxImagesPerJob} images per job`,
        ),
      userId: userIdSchema,
      mergedImageAttachId: z
        .unknown()
        .refine((value) => value !== undefined && value !== null, 'mergedImageAttachId (the source image) is missing')
        .pipe(wholeNumber('mergedImageAttachId')),
    },
    { error: 'job_input_data is not a JSON object' },
  );
}

export type JobInputCheck = { ok: true; input: JobInput } | { ok: false; reason: string };

/** Every problem of the job's data at once, in words an operator can act on. */
export function checkJobInput(raw: unknown, maxImagesPerJob: number): JobInputCheck {
  const parsed = jobInputSchema(maxImagesPerJob).safeParse(raw);
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((issue) => issue.message).join('; ') };
  const { prompt, quantity, userId, mergedImageAttachId } = parsed.data;
  return { ok: true, input: { prompt, quantity, userId, sourceAttachId: mergedImageAttachId } };
}

/** The job's user as {@link checkJobInput} would read it, whatever else its data holds; undefined without a valid one. */
export function userIdOfJobInput(raw: unknown): string | undefined {
  const parsed = z.object({ userId: userIdSchema }).safeParse(raw);
  return parsed.success ? parsed.data.userId : undefined;
}
