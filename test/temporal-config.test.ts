import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { loadBridgeConfig, loadTemporalConfig, loadWorkerConfig, secretsOf } from '../src/process/config';
import { ConfigError } from '../src/process/errors';
import { explainTemporalRefusal } from '../src/process/temporal-connection';

const worker = {
  DATABASE_URL: 'postgresql://app@db.example.test:6543/postgres',
  SUPABASE_URL: 'http://127.0.0.1:54321',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-value',
  GEMINI_API_KEY: 'gemini-key-value',
};
const dir = mkdtempSync(path.join(tmpdir(), 'temporal-config-'));
const file = (name: string, content: string) => {
  writeFileSync(path.join(dir, name), content);
  return path.join(dir, name);
};
const crt = file('client.crt', '-----BEGIN CERTIFICATE-----\nnot checked until a connection\n');
const key = file('client.key', '-----BEGIN PRIVATE KEY-----\nprivate-key-material\n');
const ca = file('ca.crt', '-----BEGIN CERTIFICATE-----\nthe CA\n');
const toml = file(
  'temporal.toml',
  `[profile.default]
address = "temporal.internal:7233"

[profile.cloud]
address = "quel.a1b2c.tmprl.cloud:7233"
namespace = "quel.a1b2c"

[profile.cloud.tls]
client_cert_path = "${crt}"
client_key_path = "${key}"
server_ca_cert_path = "${ca}"
`,
);

const problemsOf = (load: () => unknown): string[] => {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
};

test('without any Temporal variable: the local server, no TLS, no key', () => {
  const temporal = loadTemporalConfig({});
  expect(temporal).toMatchObject({ address: 'localhost:7233', namespace: 'default', taskQueue: 'image-jobs' });
  expect(temporal.tls).toBe(false);
  expect(temporal.apiKey).toBeUndefined();
  expect(temporal.connection.reveal()).toMatchObject({ address: 'localhost:7233', tls: undefined });
});

test('an API key turns TLS on, and is a secret like the others', () => {
  const config = loadWorkerConfig({
    ...worker,
    TEMPORAL_ADDRESS: 'quel.a1b2c.tmprl.cloud:7233',
    TEMPORAL_NAMESPACE: 'quel.a1b2c',
    TEMPORAL_API_KEY: 'temporal-api-key-value',
  });
  expect(config.temporal).toMatchObject({ address: 'quel.a1b2c.tmprl.cloud:7233', namespace: 'quel.a1b2c', tls: true });
  expect(config.temporal.connection.reveal()).toMatchObject({ apiKey: 'temporal-api-key-value', tls: true });
  const printed = [JSON.stringify(config), inspect(config, { depth: 8 })].join('\n');
  expect(printed).not.toContain('temporal-api-key-value');
  expect(secretsOf(config).map((secret) => secret.reveal())).toContain('temporal-api-key-value');
});

test('a profile from the TOML file, with TLS files read, and the variables over it', () => {
  const temporal = loadTemporalConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
  expect(temporal).toMatchObject({ address: 'quel.a1b2c.tmprl.cloud:7233', namespace: 'quel.a1b2c', tls: true });
  const tls = temporal.connection.reveal().tls;
  expect(tls).toMatchObject({
    serverRootCACertificate: readFileSync(ca),
    clientCertPair: { crt: readFileSync(crt), key: readFileSync(key) },
  });
  expect(inspect(temporal, { depth: 8 })).not.toContain('private-key-material');

  expect(loadTemporalConfig({ TEMPORAL_CONFIG_FILE: toml }).address).toBe('temporal.internal:7233');
  const overridden = loadBridgeConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_ADDRESS: '10.0.0.5:7233' });
  expect(overridden.temporal.address).toBe('10.0.0.5:7233');
});

test('each wrong Temporal setting is named, together with the other problems, and no value is printed', () => {
  expect(problemsOf(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }))).toEqual([
    "Temporal client config (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): Profile 'staging' not found in config data",
  ]);
  expect(problemsOf(() => loadTemporalConfig({ TEMPORAL_CONFIG_FILE: path.join(dir, 'nowhere.toml') }))).toEqual([
    'TEMPORAL_CONFIG_FILE names a file that does not exist',
  ]);
  expect(problemsOf(() => loadTemporalConfig({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt }))).toEqual([
    'Temporal TLS: a client certificate needs both halves; the key (TEMPORAL_TLS_CLIENT_KEY_PATH) is missing',
  ]);
  const [unreadable] = problemsOf(() =>
    loadTemporalConfig({
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: path.join(dir, 'gone.key'),
    }),
  );
  expect(unreadable).toMatch(/^Temporal TLS: ENOENT: no such file or directory, open '.*gone\.key'$/);

  const problems = problemsOf(() =>
    loadWorkerConfig({
      ...worker,
      GEMINI_API_KEY: '',
      TEMPORAL_API_KEY: 'temporal-api-key-value',
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
    }),
  );
  expect(problems).toEqual([
    'GEMINI_API_KEY is required',
    'Temporal TLS: a client certificate needs both halves; the certificate (TEMPORAL_TLS_CLIENT_CERT_PATH) is missing',
  ]);
  expect(problems.join('\n')).not.toContain('temporal-api-key-value');
});

test("every way Temporal's core reports a hang-up for a missing client certificate is read as that", () => {
  // The texts seen from a cluster that requires mutual TLS; which one comes depends on a race inside the handshake.
  const transport = (source: string) =>
    `Failed to call GetSystemInfo: code: 'Unknown error', message: "transport error", source: ${source}`;
  const cancelled = (why: string) =>
    `Failed to call GetSystemInfo: code: 'The operation was cancelled', message: "operation was canceled", ` +
    `source: tonic::transport::Error(Transport, hyper::Error(Canceled, "${why}"))`;
  const texts = [
    transport(
      'tonic::transport::Error(Transport, hyper::Error(Io, Custom { kind: InvalidData, error: "received fatal alert: CertificateRequired" }))',
    ),
    transport(
      'tonic::transport::Error(Transport, hyper::Error(Io, Custom { kind: BrokenPipe, error: "stream closed because of a broken pipe" }))',
    ),
    transport('tonic::transport::Error(Transport, hyper::Error(Io, Kind(ConnectionReset)))'),
    cancelled('connection closed'),
    cancelled('connection was not ready'),
  ];
  const mtls = loadTemporalConfig({ TEMPORAL_TLS: 'true', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca });
  const plain = loadTemporalConfig({});
  for (const text of texts) {
    expect(explainTemporalRefusal(new Error(text), mtls)?.problems).toEqual([
      'Temporal at localhost:7233 requires a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH',
    ]);
  }
  expect(explainTemporalRefusal(new Error(cancelled('connection was not ready')), plain)?.problems).toEqual([
    'Temporal at localhost:7233 closed the connection during set-up; if it requires TLS, set TEMPORAL_TLS=true',
  ]);
  const down = transport(
    'tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))',
  );
  expect(explainTemporalRefusal(new Error(down), mtls)).toBeUndefined();
});
