import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev/temporal-dev-server';
import { imageRuntime } from '../dev/processes';

interface Service {
  image?: string;
  build?: { dockerfile: string; args?: Record<string, string> };
  command?: string[] | null;
  entrypoint?: string[];
  environment?: Record<string, string>;
  volumes?: Array<{ type: string; source: string; target: string; read_only?: boolean }>;
  depends_on?: Record<string, { condition: string }>;
}

const root = path.join(__dirname, '..');

/**
 * The services as Compose reads docker-compose.yml: paths absolute, anchors and merges resolved, with `shell`'s
 * variables as a shell would give them.
 */
function composeConfig(shell: Record<string, string> = {}): Record<string, Service> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...(process.env.DOCKER_COMPOSE_CONFIG ? { DOCKER_CONFIG: process.env.DOCKER_COMPOSE_CONFIG } : {}),
  };
  // Compose interpolates from the shell before .env; the namespace check below wants .env's value (the worker's).
  delete env.TEMPORAL_NAMESPACE;
  delete env.GIT_COMMIT;
  Object.assign(env, shell);
  const json = execFileSync('docker', ['compose', 'config', '--format', 'json'], { cwd: root, env, encoding: 'utf8' });
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
  // Its CMD and ENV, which dev/processes.ts starts the bench's worker with: the memory settings docs/performance.md
  // measured.
  expect(imageRuntime('dist/worker/main.js')).toEqual({
    nodeFlags: ['--max-semi-space-size=4'],
    env: { NODE_ENV: 'production', WORKFLOW_BUNDLE_PATH: '/app/dist/workflow-bundle.js', MALLOC_ARENA_MAX: '2' },
  });
});

test("the image carries the commit it is built from as the worker's build id, and compose tags it so", () => {
  // GIT_COMMIT=$(git rev-parse --short HEAD) docker compose build: the argument, and the tag that keeps each build's
  // image at hand, so a new build can run beside the old one during a versioned rollout.
  for (const [shell, tag, commit] of [
    [{ GIT_COMMIT: '3f2c9ab' }, '3f2c9ab', '3f2c9ab'],
    [{}, 'latest', ''],
  ] as const) {
    const { worker, bridge } = composeConfig(shell);
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
    expect(dynamicConfig).toMatch(new RegExp(`^${key.replaceAll('.', '\\.')}:\\n  - value: ${value}$`, 'm'));
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
