import { EQUAL_SHARES, jobPriority, type JobFairness } from '../src/activities/job-priority';

const weighing = (weights: Record<string, number>) => ({ ...EQUAL_SHARES, weights });
/** A later job of its user: one turn per call, the weight alone deciding. */
const later = (userId: string): JobFairness => ({ userId, quantity: 4, oldestActive: false });

describe('jobPriority', () => {
  test('the user is the fairness key, with the default weight unless one is configured for that user', () => {
    expect(jobPriority(later('user-1'), EQUAL_SHARES)).toEqual({ fairnessKey: 'user-1' });
    expect(jobPriority(later('user-1'), weighing({ 'user-1': 3, 'user-2': 0.5 }))).toEqual({
      fairnessKey: 'user-1',
      fairnessWeight: 3,
    });
    expect(jobPriority(later('user-3'), weighing({ 'user-1': 3 }))).toEqual({ fairnessKey: 'user-3' });
  });

  test("a user's oldest active job weighs its quantity, times the user's weight: its calls take one call's turn", () => {
    expect(jobPriority({ userId: 'user-1', quantity: 4, oldestActive: true }, EQUAL_SHARES)).toEqual({
      fairnessKey: 'user-1',
      fairnessWeight: 4,
    });
    expect(jobPriority({ userId: 'user-1', quantity: 4, oldestActive: true }, weighing({ 'user-1': 0.5 }))).toEqual({
      fairnessKey: 'user-1',
      fairnessWeight: 2,
    });
    expect(jobPriority({ userId: 'user-1', quantity: 1, oldestActive: true }, EQUAL_SHARES)).toEqual({
      fairnessKey: 'user-1',
    });
  });

  test('with a per-user rate set, the oldest job takes a turn per call too, so each call counts whole against the rate', () => {
    const policy = { weights: { 'user-1': 2 }, oldestJobAhead: false };
    expect(jobPriority({ userId: 'user-1', quantity: 4, oldestActive: true }, policy)).toEqual({
      fairnessKey: 'user-1',
      fairnessWeight: 2,
    });
  });

  test("a user id longer than Temporal's 64-byte fairness key is hashed to fit, the same way every time", () => {
    const long = 'u'.repeat(128);
    const { fairnessKey } = jobPriority(later(long), EQUAL_SHARES);
    expect(Buffer.byteLength(fairnessKey!)).toBeLessThanOrEqual(64);
    expect(jobPriority(later(long), EQUAL_SHARES).fairnessKey).toBe(fairnessKey);
    expect(jobPriority(later(`${'u'.repeat(127)}v`), EQUAL_SHARES).fairnessKey).not.toBe(fairnessKey);
    expect(jobPriority(later('u'.repeat(64)), EQUAL_SHARES).fairnessKey).toBe('u'.repeat(64));
  });
});
