import { randomBytes } from 'node:crypto';
import { NeedleSet } from '../chaos/needles';

/** The long runs' search for leaked tokens: it must find what `includes` finds, for thousands of needles at once. */
test('NeedleSet finds exactly the needles a text contains, wherever they are and whatever their length', () => {
  const tokens = Array.from({ length: 2_000 }, () => randomBytes(24).toString('base64url'));
  const keys = ['FAKE-gemini-api-key-for-tests-0123456789', 'fake-service-role-key-for-tests-abcdef'];
  const noise = Array.from({ length: 3_000 }, (_, i) => `{"line":${i},"x":"${randomBytes(30).toString('base64url')}"}`);
  const text = [tokens[0], ...noise.slice(0, 1_500), `url?token=${tokens[7]}&x`, keys[1], ...noise.slice(1_500)]
    .join('\n')
    .concat(tokens[1_999]!);
  const needles = new NeedleSet([...tokens, ...keys]);

  const found = needles.foundIn(text).sort();

  expect(found).toEqual([...tokens, ...keys].filter((needle) => text.includes(needle)).sort());
  expect(found).toHaveLength(4);
  expect(needles.foundIn(noise.join('\n'))).toEqual([]);
  expect(new NeedleSet(['abc', 'bc', 'abcd']).foundIn('xabc').sort()).toEqual(['abc', 'bc']);
  expect(new NeedleSet(['abc']).foundIn('ab')).toEqual([]);
});
