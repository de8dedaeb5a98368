import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTemporalConfig } from '../src/process/config';
import { makeTestCertificates } from '../dev/certificates';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev/temporal-dev-server';
import { imageRuntime } from '../dev/processes';

interface Service {
  image?: string;
  ports?: Array<{ host_ip?: string; target: number; published: string }>;
  build?: { dockerfile: string; args?: Record<string, string> };
  command?: string[] | null;
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
  depends_on?: Record<string, { condition: string }>;
}

const root = path.join(__dirname, '..');
/** What .env would give the stack's Redis. */
const REDIS_PASSWORD = 'compose-test-redis-password-0123';
const TLS_OVERRIDE = 'deploy/compose-temporal-tls.yaml';

/**
 * The services as Compose reads docker-compose.yml (and `files` over it): paths absolute, anchors and merges
 * resolved, with REDIS_PASSWORD set as .env would set it and no GIT_COMMIT, unless `env` (a shell's variables)
 * says otherwise.
 */
function composeConfig(options: { files?: string[]; env?: Record<string, string | undefined> } = {}) {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(process.env.DOCKER_COMPOSE_CONFIG ? { DOCKER_CONFIG: process.env.DOCKER_COMPOSE_CONFIG } : {}),
    REDIS_PASSWORD,
    ...options.env,
  };
  // Compose interpolates from the shell before .env; the namespace check below wants .env's value (the worker's).
  delete env.TEMPORAL_NAMESPACE;
  if (!options.env || !('GIT_COMMIT' in options.env)) delete env.GIT_COMMIT;
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete env[name];
  const files = ['docker-compose.yml', ...(options.files ?? [])].flatMap((file) => ['-f', file]);
  const json = execFileSync('docker', ['compose', ...files, 'config', '--format', 'json'], {
    cwd: root,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return (JSON.parse(json) as { services: Record<string, Service> }).services;
}

/** A one-shot service's shell script as its shell gets it: Compose prints a literal `$` as `$$`. */
function script(service: Service): string {
  expect(service.entrypoint?.slice(0, 2)).toEqual(['/bin/sh', expect.stringMatching(/^-\w*c$/)]);
  return (service.command ?? []).join('\n').replaceAll('$$', '$');
}

/** The Temporal release the tests run: the one dev/setup/temporal-server.sh builds. */
function testedTemporalVersion(): string {
  const setup = readFileSync(path.join(root, 'dev', 'setup', 'temporal-server.sh'), 'utf8');
  const version = /^VERSION="v(\d+\.\d+\.\d+)"/m.exec(setup)?.[1];
  if (!version) throw new Error('no VERSION="vX.Y.Z" line in dev/setup/temporal-server.sh');
  return version;
}

/** No Docker engine runs here, but `docker compose config` needs none: it checks the file as Compose reads it. */
test('docker compose config accepts docker-compose.yml: Temporal on Postgres, Web UI, Redis, worker, bridge', () => {
  const services = composeConfig();
  expect(Object.keys(services).sort()).toEqual(
    [
      'bridge',
      'redis',
      'temporal',
      'temporal-db',
      'temporal-namespace',
      'temporal-schema',
      'temporal-ui',
      'worker',
    ].sort(),
  );
  expect(services.worker).toMatchObject({
    build: { dockerfile: 'Dockerfile' },
    depends_on: { 'temporal-namespace': { condition: 'service_completed_successfully' } },
  });
  // The worker runs the image's CMD, with the flags the bench's worker gets too (dev/processes.ts).
  expect(services.worker!.command).toBeNull(); // no override: Compose reports null
  expect(services.bridge).toMatchObject({
    build: { dockerfile: 'Dockerfile' },
    command: ['node', 'dist/bridge/main.js'],
    depends_on: { 'temporal-namespace': { condition: 'service_completed_successfully' } },
  });

  // The image (its Node release is checked in runtime.test.ts): workflow bundle prebuilt.
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile).toContain('WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js');
  expect(dockerfile).toContain('RUN npm run build');
  // Its CMD and ENV, which dev/processes.ts starts the bench's and the soak's worker with: the memory settings
  // docs/performance.md measured.
  const env = { NODE_ENV: 'production', WORKFLOW_BUNDLE_PATH: '/app/dist/workflow-bundle.js', MALLOC_ARENA_MAX: '2' };
  expect(imageRuntime('dist/worker/main.js')).toEqual({ nodeFlags: ['--max-semi-space-size=4'], env });
  // The bridge, as compose runs it (`node dist/bridge/main.js`, checked above): the image's variables, no flags.
  expect(imageRuntime('dist/bridge/main.js')).toEqual({ nodeFlags: [], env });
});

test("the image carries the commit it is built from as the worker's build id, and compose tags it so", () => {
  // GIT_COMMIT=$(git rev-parse --short HEAD) docker compose build: the argument, and the tag that keeps each build's
  // image at hand, so a new build can run beside the old one during a versioned rollout.
  for (const [shell, tag, commit] of [
    [{ GIT_COMMIT: '3f2c9ab' }, '3f2c9ab', '3f2c9ab'],
    [{}, 'latest', ''],
  ] as const) {
    const { worker, bridge } = composeConfig({ env: shell });
    for (const service of [worker!, bridge!]) {
      expect(service.build).toMatchObject({ dockerfile: 'Dockerfile', args: { GIT_COMMIT: commit } });
      expect(service.image).toBe(`quel-image-jobs:${tag}`);
    }
  }
  // The final stage turns the argument into the worker's TEMPORAL_BUILD_ID (empty: an unversioned worker only).
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  expect(finalStage).toMatch(/^ARG GIT_COMMIT=""$/m);
  expect(finalStage).toMatch(/^ENV TEMPORAL_BUILD_ID=\$\{GIT_COMMIT\}$/m);
});

test("compose's Temporal is the server the tests run: same release, same config file, same dynamic config", () => {
  const { temporal, 'temporal-schema': schema, 'temporal-namespace': namespace } = composeConfig();
  const version = testedTemporalVersion();
  expect(temporal!.image).toBe(`temporalio/server:${version}`);
  expect(schema!.image).toBe(`temporalio/admin-tools:${version}`);
  expect(namespace!.image).toBe(`temporalio/admin-tools:${version}`);

  // The image's entrypoint starts the server on the file named here, which is the repository's, mounted.
  const env = temporal!.environment!;
  expect(env).toMatchObject({ TEMPORAL_ALLOW_NO_AUTH: 'true', BIND_ON_IP: '0.0.0.0' });
  expect(temporal!.volumes).toContainEqual(
    expect.objectContaining({
      type: 'bind',
      source: path.join(root, 'deploy', 'temporal-cluster.yaml'),
      target: env.TEMPORAL_SERVER_CONFIG_FILE_PATH,
      read_only: true,
    }),
  );
  expect(temporal!.volumes).toContainEqual(
    expect.objectContaining({
      type: 'bind',
      source: path.join(root, 'deploy', 'temporal-dynamic-config.yaml'),
      target: env.DYNAMIC_CONFIG_FILE_PATH,
      read_only: true,
    }),
  );

  // Each variable compose sets is one the config file reads (a renamed one would silently fall back to its default),
  // and the schema set-up gets the same database settings as the server.
  const clusterConfig = readFileSync(path.join(root, 'deploy', 'temporal-cluster.yaml'), 'utf8');
  const database = ['POSTGRES_SEEDS', 'DB_PORT', 'POSTGRES_USER', 'POSTGRES_PWD', 'DBNAME', 'VISIBILITY_DBNAME'];
  // Binding to 0.0.0.0 is what makes the image's entrypoint set the broadcast address the file reads.
  for (const name of [...database, 'BIND_ON_IP', 'DYNAMIC_CONFIG_FILE_PATH', 'TEMPORAL_BROADCAST_ADDRESS']) {
    expect(clusterConfig).toContain(`(env "${name}")`);
  }
  for (const name of database) {
    expect(env[name]).toBeTruthy();
    expect(schema!.environment?.[name]).toBe(env[name]);
  }

  // The same tuning as the dev servers', value for value, and nothing else.
  const dynamicConfig = readFileSync(path.join(root, 'deploy', 'temporal-dynamic-config.yaml'), 'utf8');
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
    const fields = typeof value === 'object' ? Object.entries(value).map(([field, v]) => `\n      ${field}: ${v}`) : [];
    const rendered = typeof value === 'object' ? fields.join('') : ` ${value}`;
    expect(dynamicConfig).toContain(`\n${key}:\n  - value:${rendered}\n`);
  }
  const keys = [...dynamicConfig.matchAll(/^([\w.]+):$/gm)].map((match) => match[1]);
  expect(keys.sort()).toEqual(Object.keys(DEV_SERVER_DYNAMIC_CONFIG).sort());
});

test("compose sets up Temporal's schema as the tests do, then the namespace and search attributes", () => {
  const { temporal, worker, 'temporal-schema': schema, 'temporal-namespace': namespace } = composeConfig();

  // temporal-sql-tool's three steps on each database, from the image's schemas, before the server starts.
  expect(schema!.depends_on).toMatchObject({ 'temporal-db': { condition: 'service_healthy' } });
  expect(temporal!.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
  const schemaScript = script(schema!);
  expect(schemaScript).toContain('schema=/etc/temporal/schema/postgresql/v12');
  expect(schemaScript).toContain('--plugin postgres12');
  expect(schemaScript).toContain('export SQL_PASSWORD="$POSTGRES_PWD"');
  for (const [database, store] of [
    ['$DBNAME', 'temporal'],
    ['$VISIBILITY_DBNAME', 'visibility'],
  ]) {
    expect(schemaScript).toContain(`--db "${database}" create-database`);
    expect(schemaScript).toContain(`--db "${database}" setup-schema -v 0.0`);
    expect(schemaScript).toContain(`--db "${database}" update-schema -d "$schema/${store}/versioned"`);
  }

  // The namespace the worker and bridge use, and every search attribute the product sets, as Keyword.
  expect(namespace!.depends_on).toHaveProperty('temporal');
  expect(namespace!.environment).toMatchObject({
    TEMPORAL_ADDRESS: 'temporal:7233',
    TEMPORAL_NAMESPACE: worker!.environment?.TEMPORAL_NAMESPACE ?? 'default',
  });
  const namespaceScript = script(namespace!);
  expect(namespaceScript).toContain('temporal operator namespace create --namespace "$TEMPORAL_NAMESPACE"');
  expect(namespaceScript).toContain('temporal operator search-attribute create --namespace "$TEMPORAL_NAMESPACE"');
  for (const key of SEARCH_ATTRIBUTES) expect(namespaceScript).toContain(`--name ${key.name} --type Keyword`);
  expect(namespaceScript).not.toContain('|| true');
});

test("published ports listen on the host's loopback only, and only where something outside the stack needs them", () => {
  const published = Object.entries(composeConfig())
    .filter(([, service]) => service.ports)
    .map(([name, service]) => [name, service.ports!.map((p) => `${p.host_ip}:${p.published}->${p.target}`)]);
  expect(Object.fromEntries(published)).toEqual({
    temporal: ['127.0.0.1:7233->7233'],
    'temporal-ui': ['127.0.0.1:8233->8080'],
    redis: ['127.0.0.1:6379->6379'],
    worker: ['127.0.0.1:9464->9464'],
  });
});

test("the stack's Redis requires a password, from the environment, given to redis-server on its standard input", () => {
  expect(() => composeConfig({ env: { REDIS_PASSWORD: undefined } })).toThrow(
    /required variable REDIS_PASSWORD is missing a value: set REDIS_PASSWORD in \.env/,
  );
  const { redis, bridge } = composeConfig();
  expect(redis!.environment).toEqual({ REDIS_PASSWORD });
  // Through the image's entrypoint (which runs it as the user redis), the password never an argument.
  expect(redis!.entrypoint).toEqual(['/bin/sh', '-euc']);
  expect(redis!.command).toEqual([
    `printf 'requirepass "%s"\\n' "$$REDIS_PASSWORD" | exec docker-entrypoint.sh redis-server - --appendonly yes`,
  ]);
  expect(bridge!.environment?.REDIS_URL).toBe(`redis://:${REDIS_PASSWORD}@redis:6379`);
  // The front end's Redis, when .env names one, instead.
  const frontEnd = 'rediss://:front-end-password@redis.example.test:6380';
  expect(composeConfig({ env: { REDIS_URL: frontEnd } }).bridge!.environment?.REDIS_URL).toBe(frontEnd);
  expect(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')).not.toMatch(/requirepass [^"]/);
});

test(`with ${TLS_OVERRIDE}, Temporal's frontend requires mutual TLS and every client shows its certificate`, () => {
  const certificates = makeTestCertificates(path.join(mkdtempSync(path.join(os.tmpdir(), 'compose-tls-')), 'tls'));
  const services = composeConfig({ files: [TLS_OVERRIDE], env: { TEMPORAL_TLS_DIR: certificates.dir } });
  const mounted = (file: string) => path.join(certificates.dir, path.relative('/etc/temporal/tls', file));
  const tlsVariables = (service: Service) =>
    Object.entries(service.environment ?? {}).filter(([name]) => name.startsWith('TEMPORAL_TLS'));
  for (const name of ['temporal', 'temporal-namespace', 'temporal-ui', 'worker', 'bridge']) {
    expect(services[name]!.volumes).toContainEqual(
      expect.objectContaining({ type: 'bind', source: certificates.dir, target: '/etc/temporal/tls', read_only: true }),
    );
    // Every file a service is given is one of the set, where the override mounts it.
    for (const [, value] of tlsVariables(services[name]!).filter(([, value]) => value.startsWith('/'))) {
      expect(existsSync(mounted(value))).toBe(true);
    }
  }

  // The server: each variable one that deploy/temporal-cluster.yaml reads, client certificates required.
  const clusterConfig = readFileSync(path.join(root, 'deploy', 'temporal-cluster.yaml'), 'utf8');
  const server = tlsVariables(services.temporal!);
  expect(server.length).toBeGreaterThan(5);
  for (const [name] of server) expect(clusterConfig).toContain(`env "${name}"`);
  expect(services.temporal!.environment).toMatchObject({
    TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: 'true',
    TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'temporal',
  });

  // The worker, the bridge and the namespace set-up (the temporal CLI reads the same variables): as the product reads
  // them, a client certificate and the CA, for the name on the frontend's certificate.
  for (const name of ['worker', 'bridge', 'temporal-namespace']) {
    const env = Object.fromEntries(
      tlsVariables(services[name]!).map(([key, value]) => [key, value.startsWith('/') ? mounted(value) : value]),
    );
    const settings = loadTemporalConfig({ TEMPORAL_ADDRESS: 'temporal:7233', ...env });
    expect(settings.tls).toBe(true);
    expect(settings.connection.reveal().tls).toMatchObject({
      serverNameOverride: 'temporal',
      serverRootCACertificate: readFileSync(certificates.caCert),
      clientCertPair: { crt: readFileSync(certificates.clientCert), key: readFileSync(certificates.clientKey) },
    });
  }
  expect(services['temporal-ui']!.environment).toMatchObject({
    TEMPORAL_TLS_CERT: '/etc/temporal/tls/client.crt',
    TEMPORAL_TLS_KEY: '/etc/temporal/tls/client.key',
    TEMPORAL_TLS_CA: '/etc/temporal/tls/ca.crt',
    TEMPORAL_TLS_SERVER_NAME: 'temporal',
    TEMPORAL_TLS_ENABLE_HOST_VERIFICATION: 'true',
  });
});
