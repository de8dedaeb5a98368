import { jobPriority } from '../src/activities/job-priority';

describe('jobPriority', () => {
  test('the user is the fairness key, with the default weight unless one is configured for that user', () => {
    expect(jobPriority('user-1', {})).toEqual({ fairnessKey: 'user-1' });
    expect(jobPriority('user-1', { 'user-1': 3, 'user-2': 0.5 })).toEqual({ fairnessKey: 'user-1', fairnessWeight: 3 });
    expect(jobPriority('user-3', { 'user-1': 3 })).toEqual({ fairnessKey: 'user-3' });
  });

  test("a user id longer than Temporal's 64-byte fairness key is hashed to fit, the same way every time", () => {
    const long = 'u'.repeat(128);
    const { fairnessKey } = jobPriority(long, {});
    expect(Buffer.byteLength(fairnessKey!)).toBeLessThanOrEqual(64);
    expect(jobPriority(long, {}).fairnessKey).toBe(fairnessKey);
    expect(jobPriority(`${'u'.repeat(127)}v`, {}).fairnessKey).not.toBe(fairnessKey);
    expect(jobPriority('u'.repeat(64), {}).fairnessKey).toBe('u'.repeat(64));
  });
});
