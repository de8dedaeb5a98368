import { checkJobInput, MAX_PROMPT_LENGTH } from '../src/activities/job-input';

const valid = { prompt: 'a red bicycle', quantity: 2, userId: '3f0c1a2b-user_9', mergedImageAttachId: 41 };

describe('checkJobInput', () => {
  test('accepts the front end data and names the source attachment', () => {
    expect(checkJobInput(valid, 10)).toEqual({
      ok: true,
      input: { prompt: 'a red bicycle', quantity: 2, userId: '3f0c1a2b-user_9', sourceAttachId: 41 },
    });
  });

  test('accepts whole numbers sent as digit strings', () => {
    expect(checkJobInput({ ...valid, quantity: '3', mergedImageAttachId: '41' }, 10)).toMatchObject({
      ok: true,
      input: { quantity: 3, sourceAttachId: 41 },
    });
  });

  test('keeps quotes and SQL fragments in a prompt exactly as written', () => {
    const prompt = `it's a "test"'); DROP TABLE quel_attach; --`;
    expect(checkJobInput({ ...valid, prompt }, 10)).toMatchObject({ ok: true, input: { prompt } });
  });

  test.each([
    [{ ...valid, prompt: undefined }, 'prompt is missing'],
    [{ ...valid, prompt: '   ' }, 'prompt is empty'],
    [{ ...valid, prompt: 'x'.repeat(MAX_PROMPT_LENGTH + 1) }, `prompt is longer than ${MAX_PROMPT_LENGTH} characters`],
    [{ ...valid, quantity: undefined }, 'quantity is missing'],
    [{ ...valid, quantity: 0 }, 'quantity must be at least 1'],
    [{ ...valid, quantity: -1 }, 'quantity must be at least 1'],
    [{ ...valid, quantity: 2.5 }, 'quantity must be a whole number'],
    [{ ...valid, quantity: '2.5' }, 'quantity must be a whole number'],
    [{ ...valid, quantity: 'three' }, 'quantity must be a whole number'],
    [{ ...valid, quantity: 11 }, 'quantity is above the limit of 10 images per job'],
    [{ ...valid, userId: '../admin' }, 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)'],
    [{ ...valid, userId: 'a/b' }, 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)'],
    [{ ...valid, userId: 'a\u0000b' }, 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)'],
    [{ ...valid, userId: 'u'.repeat(500) }, 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)'],
    [{ ...valid, userId: 'jürgen' }, 'userId is unsafe for a storage path (allowed: 1-128 of A-Z a-z 0-9 - _)'],
    [{ ...valid, userId: undefined }, 'userId is missing'],
    [{ ...valid, userId: -1 }, 'userId must be a string or a whole number'],
    [{ ...valid, userId: true }, 'userId must be a string or a whole number'],
    [{ ...valid, mergedImageAttachId: undefined }, 'mergedImageAttachId (the source image) is missing'],
    [{ ...valid, mergedImageAttachId: 'abc' }, 'mergedImageAttachId must be a whole number'],
    ['just a string', 'job_input_data is not a JSON object'],
    [null, 'job_input_data is not a JSON object'],
  ])('rejects %j with a specific reason', (raw, reason) => {
    expect(checkJobInput(raw, 10)).toEqual({ ok: false, reason });
  });

  test('names every problem at once', () => {
    expect(checkJobInput({ userId: 'ok' }, 10)).toEqual({
      ok: false,
      reason: 'prompt is missing; quantity is missing; mergedImageAttachId (the source image) is missing',
    });
  });
});
