import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { bridgeEnv, workerEnv } from '../src/process/config';
import { Secret } from '../src/process/secret';
import { loadTemporalSettings } from '../src/process/temporal-config';
import { ROOT, readDocument, tableUnder, variablesIn } from './support/markdown';

/**
 * docs/configuration.md against the code that reads the variables: the zod schemas of src/process/config.ts and
 * Temporal's envconfig, so the reference cannot drift from what the processes do.
 */

const doc = readDocument('docs/configuration.md');
const productRows = tableUnder(doc, "The worker's and the bridge's variables").map(
  ([variable = '', readBy, fallback]) => ({
    names: variablesIn(variable),
    readBy,
    fallback: fallback ?? '',
  }),
);
const documented = new Map(productRows.flatMap((row) => row.names.map((name) => [name, row] as const)));

type Schema = { shape: Record<string, { safeParse(value: undefined): { success: boolean; data?: unknown } }> };
const schemas: Record<'worker' | 'bridge', Schema> = { worker: workerEnv, bridge: bridgeEnv };

/** Every variable the worker's and the bridge's schemas read, and which of the two read it. */
function schemaReaders(): Map<string, string> {
  const readers = new Map<string, string>();
  for (const [process, schema] of Object.entries(schemas)) {
    for (const name of Object.keys(schema.shape)) readers.set(name, readers.has(name) ? 'both' : process);
  }
  return readers;
}

/** Every variable loading Temporal's settings looks at (ours and envconfig's), seen through a recording proxy. */
function temporalVariables(): Set<string> {
  const read = new Set<string>();
  const env = new Proxy({} as Record<string, string>, {
    get: (_target, name) => {
      if (typeof name === 'string') read.add(name);
      return undefined;
    },
  });
  loadTemporalSettings(env, 'queue');
  return read;
}

test("every variable the worker's and the bridge's schemas read is in the table, with who reads it", () => {
  const expected = [...schemaReaders()].map(([name, readBy]) => ({ name, readBy })).sort(byName);
  const inTable = [...schemaReaders().keys()].map((name) => ({ name, readBy: documented.get(name)?.readBy }));
  expect(inTable.sort(byName)).toEqual(expected);
});

test("every variable of the table is read by a schema or by Temporal's envconfig", () => {
  const schemaRead = schemaReaders();
  const temporalRead = temporalVariables();
  expect(temporalRead).toContain('TEMPORAL_ADDRESS'); // the proxy sees envconfig's reads
  const unread = [...documented.keys()].filter((name) => !schemaRead.has(name) && !temporalRead.has(name));
  expect(unread).toEqual([]);
  // Temporal's settings are read by every process, the scripts too.
  const temporalRows = [...documented].filter(([name]) => temporalRead.has(name) && !schemaRead.has(name));
  expect(temporalRows.length).toBeGreaterThan(10);
  for (const [name, row] of temporalRows) expect({ name, readBy: row.readBy }).toEqual({ name, readBy: 'both' });
});

test("each default in the table is the schema's", () => {
  for (const [process, schema] of Object.entries(schemas)) {
    for (const [name, field] of Object.entries(schema.shape)) {
      const fallback = fallbackFor(documented.get(name)?.fallback ?? '', process);
      const parsed = field.safeParse(undefined);
      const value = parsed.data instanceof Secret ? parsed.data.reveal() : parsed.data;
      const shown = { process, name, fallback };
      if (!parsed.success) expect(shown).toEqual({ ...shown, fallback: expect.stringMatching(/^required\b/) });
      else if (value === hostname()) expect(shown).toEqual({ ...shown, fallback: 'the host name' });
      else if (typeof value === 'object' || value === undefined)
        expect(shown).toEqual({ ...shown, fallback: expect.not.stringMatching(/^`|required/) });
      else expect(shown).toEqual({ ...shown, fallback: `\`${String(value)}\`` });
    }
  }
});

/** A row read by both with a default of its own per process says so: `worker: required; bridge: unset`. */
function fallbackFor(fallback: string, process: string): string {
  return new RegExp(`(?:^|; )${process}: ([^;]*)`).exec(fallback)?.[1] ?? fallback;
}

test("Temporal's defaults in the table are the ones a process connects with", () => {
  // An empty profile, so a file of this machine's user cannot change what the defaults are.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'configuration-doc-')), 'temporal.toml');
  writeFileSync(file, '[profile.default]\n');
  const { settings } = loadTemporalSettings({ TEMPORAL_CONFIG_FILE: file }, 'queue');
  expect(documented.get('TEMPORAL_ADDRESS')?.fallback).toBe(`\`${settings?.address}\``);
  expect(documented.get('TEMPORAL_NAMESPACE')?.fallback).toBe(`\`${settings?.namespace}\``);
  expect(settings?.tls).toBe(false);
  expect(documented.get('TEMPORAL_TLS')?.fallback).toBe('off');
});

test('the README lists exactly the variables without a default as required', () => {
  const required = [...schemaReaders().keys()].filter((name) =>
    Object.values(schemas).some((schema) => schema.shape[name] && !schema.shape[name].safeParse(undefined).success),
  );
  const listed = tableUnder(readDocument('README.md'), 'Configuration').flatMap(([variable = '']) =>
    variablesIn(variable),
  );
  expect(listed.sort()).toEqual(required.sort());
});

test("the demo's, tests' and set-up's variables are read there, and not by the product", () => {
  const names = tableUnder(doc, 'The demo, the tests and the set-up').flatMap(([variable = '']) =>
    variablesIn(variable),
  );
  expect(names.length).toBeGreaterThan(5);
  for (const name of names) {
    expect({ name, product: schemaReaders().has(name) }).toEqual({ name, product: false });
    const users = execFileSync(
      'git',
      ['grep', '-l', '-w', name, '--', 'dev', 'scripts', 'test', 'bench', 'chaos', 'Dockerfile'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(users.trim()).not.toBe('');
  }
});

function byName(a: { name: string }, b: { name: string }): number {
  return a.name.localeCompare(b.name);
}
