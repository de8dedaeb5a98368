import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DEV_SERVER_DYNAMIC_CONFIG } from '../dev/temporal-dev-server';

/** No Docker engine runs here, but `docker compose config` needs none: it checks the file as Compose reads it. */
test('docker compose config accepts docker-compose.yml: Temporal on Postgres, Web UI, Redis, worker, bridge', () => {
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
        environment?: Record<string, string>;
        volumes?: Array<{ source: string; target: string }>;
      }
    >;
  };

  expect(Object.keys(config.services).sort()).toEqual(
    ['bridge', 'redis', 'temporal', 'temporal-db', 'temporal-search-attributes', 'temporal-ui', 'worker'].sort(),
  );
  expect(config.services.temporal!.environment).toMatchObject({
    DB: 'postgres12',
    POSTGRES_SEEDS: 'temporal-db',
    DYNAMIC_CONFIG_FILE_PATH: 'config/dynamicconfig/quel-image-jobs.yaml',
  });
  expect(config.services.temporal!.volumes).toContainEqual(
    expect.objectContaining({
      source: path.join(root, 'deploy', 'temporal-dynamic-config.yaml'),
      target: '/etc/temporal/config/dynamicconfig/quel-image-jobs.yaml',
    }),
  );
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
