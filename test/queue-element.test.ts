import { parseQueueElement } from '../src/bridge/queue-element';

const uuid = '0b7d6a4e-1111-4222-8333-444455556666';

describe('parseQueueElement', () => {
  test.each([
    [uuid, uuid],
    [`  ${uuid}\n`, uuid],
    [uuid.toUpperCase(), uuid],
    [JSON.stringify({ job_id: uuid }), uuid],
    [JSON.stringify({ jobId: uuid, extra: true }), uuid],
  ])('uuid format: %j is job %s', (element, jobId) => {
    expect(parseQueueElement(element, 'uuid')).toEqual({ ok: true, jobId });
  });

  test.each([
    ['job_42', 'job_42'],
    [JSON.stringify({ job_id: 42 }), '42'],
    [' Abc-1 ', 'Abc-1'],
  ])('text format: %j is job %s', (element, jobId) => {
    expect(parseQueueElement(element, 'text')).toEqual({ ok: true, jobId });
  });

  test.each([
    ['../etc/passwd', 'job id is not 1-128 of A-Z a-z 0-9 - _'],
    ['-starts-with-dash', 'job id is not 1-128 of A-Z a-z 0-9 - _'],
    ['a'.repeat(129), 'job id is not 1-128 of A-Z a-z 0-9 - _'],
    [JSON.stringify({ job_id: null }), 'JSON element has no job_id or jobId'],
    ['[1, 2]', 'job id is not 1-128 of A-Z a-z 0-9 - _'],
  ])('text format refuses %j', (element, reason) => {
    expect(parseQueueElement(element, 'text')).toEqual({ ok: false, reason });
  });
});
