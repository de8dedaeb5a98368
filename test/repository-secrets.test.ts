import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/** Nothing shaped like a real credential is ever committed: CI fails here before such a file lands. */
const SHAPES: Array<[string, RegExp]> = [
  ['a Google API key', /AIza[0-9A-Za-z_-]{35}/],
  ['a JWT (e.g. a Supabase service-role key)', /eyJ[0-9A-Za-z_-]{10,}\.eyJ[0-9A-Za-z_-]{10,}\.[0-9A-Za-z_-]{10,}/],
  ['a hosted Supabase project URL', /https:\/\/[a-z0-9]{20}\.supabase\.(co|in)/],
];

test('no tracked file holds a Google API key, a JWT or a hosted Supabase project URL', () => {
  const root = path.join(__dirname, '..');
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  expect(files.length).toBeGreaterThan(50);
  const found = files.flatMap((file) => {
    const text = readFileSync(path.join(root, file), 'latin1');
    return SHAPES.filter(([, shape]) => shape.test(text)).map(([what]) => `${file}: ${what}`);
  });
  expect(found).toEqual([]);
});

test('the shapes do catch real-looking credentials', () => {
  // Assembled at run time, so this file does not itself hold the shapes it looks for.
  const samples = [
    `AIza${'x'.repeat(35)}`,
    ['eyJhbGciOiJIUzI1NiJ9', 'eyJyb2xlIjoic2VydmljZV9yb2xlIn0', 'c2lnbmF0dXJlLXNpZ25hdHVyZQ'].join('.'),
    `https://${'abcdefghij'.repeat(2)}.supabase.co`,
  ];
  expect(samples.map((sample) => SHAPES.some(([, shape]) => shape.test(sample)))).toEqual([true, true, true]);
});
