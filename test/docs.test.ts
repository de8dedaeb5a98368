import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ROOT, anchorsOf, documents, linkTargets, readDocument, tableUnder } from './support/markdown';

/**
 * The documents hold together: the README and docs/ link to each other, to anchors in each other and to the
 * repository's files, and a renamed heading or a moved file breaks a link silently on the forge; the README stays
 * within the repository; the tests' table lists the tests there are.
 */

/** Every relative link of `file` that names no file of the repository, or an anchor its target lacks. */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const target of linkTargets(readDocument(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:: not the repository's
    const [pathPart = '', anchor] = target.split('#', 2);
    const resolved = pathPart
      ? path.join(path.dirname(path.join(ROOT, file)), decodeURI(pathPart))
      : path.join(ROOT, file);
    const inRepository = !path.relative(ROOT, resolved).startsWith('..');
    if (!inRepository || !existsSync(resolved)) {
      broken.push(`${target}: no such file in the repository`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md')) broken.push(`${target}: an anchor into a file that is not markdown`);
    else if (!anchorsOf(readDocument(path.relative(ROOT, resolved))).has(anchor))
      broken.push(`${target}: no heading with that anchor`);
  }
  return broken;
}

test.each(documents())('every relative link and anchor in %s works', (file) => {
  expect(linkTargets(readDocument(file)).length).toBeGreaterThan(0);
  expect(brokenLinks(file)).toEqual([]);
});

test('the README names no path outside the repository', () => {
  const outside = [...readDocument('README.md').matchAll(/(?<=^|[\s`(["'])(~\/|\/[A-Za-z])[^\s`)"']*/gm)].map(
    (match) => match[0],
  );
  expect(outside).toEqual([]);
});

test("development.md's table lists every test file, and no other", () => {
  const listed = tableUnder(readDocument('docs/development.md'), 'The tests').map(([file = '']) => file.slice(1, -1));
  const files = readdirSync(path.join(ROOT, 'test')).filter((name) => name.endsWith('.test.ts'));
  expect([...listed].sort()).toEqual(files.sort());
});

test('npm run test:fast runs the files the table lists first, down to runtime.test.ts', () => {
  const script: string = JSON.parse(readDocument('package.json')).scripts['test:fast'];
  const pattern = new RegExp(/--testPathPatterns '([^']*)'/.exec(script)?.[1] ?? 'no pattern');
  const listed = tableUnder(readDocument('docs/development.md'), 'The tests').map(([file = '']) => file.slice(1, -1));
  const files = readdirSync(path.join(ROOT, 'test')).filter((name) => pattern.test(path.join(ROOT, 'test', name)));
  expect(files.sort()).toEqual(listed.slice(0, listed.indexOf('runtime.test.ts') + 1).sort());
});

test('the checks find what they look for', () => {
  const markdown = '# A `b/c.d` heading\n\n## Again\n\n## Again\n\n```sh\n# not a heading\n```\n';
  expect([...anchorsOf(markdown)]).toEqual(['a-bcd-heading', 'again', 'again-1']);
  expect(linkTargets('[x](docs/a.md#b) `[y](no.md)` ![z](p.png "t") [w](https://e.org)')).toEqual([
    'docs/a.md#b',
    'p.png',
    'https://e.org',
  ]);
});
