import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev/temporal-dev-server';

/** No Docker engine runs here, but `docker compose config` needs none: it checks the file as Compose reads it. */
test('docker compose config accepts docker-compose.yml: the tested Temporal server and config on Postgres, Web UI, Redis, worker, bridge', () => {
  const root = path.join(__dirname, '..');
  const env = {
    ...process.env,
    ...(process.env.DOCKER_COMPOSE_CONFIG ? { DOCKER_CONFIG: process.env.DOCKER_COMPOSE_CONFIG } : {}),
  };
  const json = execFileSync('docker', ['compose', 'config', '--format', 'json'], { cwd: root, env, encoding: 'utf8' });
  const config = JSON.parse(json) as {
    services: Record<
      string,
      {
        image?: string;
        build?: { dockerfile: string };
        command?: string[];
        depends_on?: Record<string, { condition: string }>;
        environment?: Record<string, string>;
        volumes?: Array<{ source: string; target: string }>;
      }
    >;
  };

  expect(Object.keys(config.services).sort()).toEqual(
    [
      'bridge',
      'redis',
      'temporal',
      'temporal-db',
      'temporal-schema',
      'temporal-search-attributes',
      'temporal-ui',
      'worker',
    ].sort(),
  );
  // The server release the tests build and run (dev/setup/temporal-server.sh), and its tools for the schema.
  const version = /^VERSION="v(\d+\.\d+\.\d+)"/m.exec(
    readFileSync(path.join(root, 'dev', 'setup', 'temporal-server.sh'), 'utf8'),
  )![1];
  const temporal = config.services.temporal!;
  expect(temporal.image).toBe(`temporalio/server:${version}`);
  expect(config.services['temporal-schema']!.image).toBe(`temporalio/admin-tools:${version}`);
  expect(config.services['temporal-search-attributes']!.image).toBe(`temporalio/admin-tools:${version}`);
  // The config file the tests' cluster runs, filled in through the variables it reads.
  expect(temporal.volumes).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        source: path.join(root, 'deploy', 'temporal-cluster.yaml'),
        target: '/etc/temporal/config/quel-image-jobs.yaml',
      }),
      expect.objectContaining({
        source: path.join(root, 'deploy', 'temporal-dynamic-config.yaml'),
        target: '/etc/temporal/config/dynamicconfig/quel-image-jobs.yaml',
      }),
    ]),
  );
  expect(temporal.command!.join(' ')).toContain('--config-file /etc/temporal/config/quel-image-jobs.yaml');
  expect(temporal.environment).toMatchObject({
    POSTGRES_SEEDS: 'temporal-db',
    BIND_ON_IP: '0.0.0.0',
    DYNAMIC_CONFIG_FILE_PATH: 'config/dynamicconfig/quel-image-jobs.yaml',
  });
  const clusterConfig = readFileSync(path.join(root, 'deploy', 'temporal-cluster.yaml'), 'utf8');
  for (const name of Object.keys(temporal.environment!)) expect(clusterConfig).toContain(`(env "${name}")`);
  // The schema as the tests set it up: temporal-sql-tool, both databases, before the server starts.
  const schema = config.services['temporal-schema']!.command!.join(' ');
  expect(schema).toContain('temporal-sql-tool');
  expect(schema).toMatch(/setup-schema -v 0\.0.*update-schema -d/);
  expect(schema).toContain('temporal_visibility');
  expect(temporal.depends_on).toMatchObject({ 'temporal-schema': { condition: 'service_completed_successfully' } });
  // The same tuning as the dev servers', value for value.
  const dynamicConfig = readFileSync(path.join(root, 'deploy', 'temporal-dynamic-config.yaml'), 'utf8');
  for (const [key, value] of Object.entries(DEV_SERVER_DYNAMIC_CONFIG)) {
    expect(dynamicConfig).toMatch(new RegExp(`^${key.replaceAll('.', '\\.')}:\\n  - value: ${value}$`, 'm'));
  }
  expect(config.services.worker).toMatchObject({
    build: { dockerfile: 'Dockerfile' },
    command: ['node', 'dist/worker/main.js'],
  });
  expect(config.services.bridge).toMatchObject({
    build: { dockerfile: 'Dockerfile' },
    command: ['node', 'dist/bridge/main.js'],
  });

  // The image (its Node release is checked in runtime.test.ts): workflow bundle prebuilt.
  const dockerfile = readFileSync(path.join(root, 'Dockerfile'), 'utf8');
  expect(dockerfile).toContain('WORKFLOW_BUNDLE_PATH=/app/dist/workflow-bundle.js');
  expect(dockerfile).toContain('RUN npm run build');
});
