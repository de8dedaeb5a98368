import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..');
const read = (file: string) => readFileSync(path.join(root, file), 'utf8');
const json = (file: string) => JSON.parse(read(file)) as Record<string, Record<string, string>>;

/** The pinned release (.nvmrc), which set-up provisions when the machine's node is another major. */
const pinned = read('.nvmrc').trim();
const major = pinned.split('.')[0]!;

test('one runtime: the tests, engines, the tsconfig base, @types/node and the Docker image agree on .nvmrc', () => {
  expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
  expect(process.versions.node.split('.')[0]).toBe(major);
  const pkg = json('package.json');
  expect(pkg.engines!.node).toBe(`^${major}`);
  expect(pkg.devDependencies![`@tsconfig/node${major}`]).toBeDefined();
  expect(pkg.devDependencies!['@types/node']).toMatch(new RegExp(`^\\^${major}\\.`));
  expect(json('tsconfig.json').extends).toBe(`@tsconfig/node${major}/tsconfig.json`);
  expect(read('Dockerfile').match(/^FROM (\S+)/gm)).toEqual([
    `FROM node:${major}-bookworm-slim`,
    `FROM node:${major}-bookworm-slim`,
  ]);
  expect(read('dev/setup/node.sh')).toContain('NODE_VERSION="$(cat "$ROOT/.nvmrc")"');
});

describe('set-up on a machine whose node is another major', () => {
  let fakeBin: string;
  beforeAll(() => {
    fakeBin = mkdtempSync(path.join(tmpdir(), 'old-node-'));
    // An old node as set-up sees it: it asks only for the major version.
    writeFileSync(path.join(fakeBin, 'node'), '#!/bin/sh\necho 20\n', { mode: 0o755 });
  });
  afterAll(() => rmSync(fakeBin, { recursive: true, force: true }));

  // As a user's shell starts it: not yet switched by an outer `npm test`.
  const { QUEL_NODE_REEXEC: _switched, ...userEnv } = process.env;
  const run = (env: Record<string, string>) =>
    spawnSync('bash', ['scripts/ts.sh', '-e', 'console.log(`ran on ${process.version}`)'], {
      cwd: root,
      env: { ...userEnv, PATH: `${fakeBin}:${process.env.PATH}`, ...env },
      encoding: 'utf8',
    });

  test('switches to the pinned Node once, says so, and runs the command on it', () => {
    const result = run({});
    expect(result.stderr).toMatch(
      new RegExp(`switching to Node v${pinned.replaceAll('.', '\\.')} .* running this command again`),
    );
    expect(result.stderr.match(/switching to Node/g)).toHaveLength(1);
    expect({ status: result.status, stdout: result.stdout }).toEqual({ status: 0, stdout: `ran on v${pinned}\n` });
  });

  test('never loops: a switch that did not take stops with a clear error', () => {
    const result = run({ QUEL_NODE_REEXEC: '1' });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`still not on Node ${major} after switching to it`);
  });

  test('on a platform the npm package does not cover, names the version to install', () => {
    writeFileSync(path.join(fakeBin, 'uname'), '#!/bin/sh\n[ "$1" = -s ] && echo Darwin || echo arm64\n', {
      mode: 0o755,
    });
    try {
      const result = run({});
      expect(result.status).toBe(1);
      expect(result.stderr).toContain(`please install Node ${major} (e.g. ${pinned}) for Darwin arm64`);
    } finally {
      rmSync(path.join(fakeBin, 'uname'));
    }
  });
});
