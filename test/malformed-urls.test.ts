import { spawnService } from '../dev/processes';

/**
 * Each URL variable written wrongly in the most common way (a reserved character left unencoded in its password),
 * given to the worker and the bridge processes as a deployment would: the process stops before connecting to
 * anything, with exit code 1 and a sentence naming the variable, and nothing it prints holds the password.
 */

const valid = {
  DATABASE_URL: 'postgresql://app:db-password@127.0.0.1:1/postgres',
  SUPABASE_URL: 'http://127.0.0.1:1',
  SUPABASE_SERVICE_ROLE_KEY: 'service-role-key',
  GEMINI_API_KEY: 'gemini-key',
  TEMPORAL_ADDRESS: '127.0.0.1:1',
  REDIS_URL: 'redis://127.0.0.1:1',
};

const worker = ['worker'] as const;
const cases = [
  {
    variable: 'DATABASE_URL',
    value: 'postgresql://postgres.ref:S3cr/etPassw0rd@db.example.test:6543/postgres',
    kinds: worker,
  },
  { variable: 'REDIS_URL', value: 'rediss://:R3dis/Passw0rd@redis.example.test:6380', kinds: ['bridge'] as const },
  { variable: 'SUPABASE_URL', value: 'https://gateway:Supa/Passw0rd@project.example.test', kinds: worker },
  { variable: 'GEMINI_BASE_URL', value: 'https://proxy:Gem?iniPassw0rd@gemini.example.test', kinds: worker },
  {
    variable: 'OTEL_EXPORTER_OTLP_ENDPOINT',
    value: 'http://collector:0tel#Passw0rd@otel.example.test:4318',
    kinds: ['worker', 'bridge'] as const,
  },
];
const runs = cases.flatMap(({ kinds, ...run }) => kinds.map((kind) => ({ kind, ...run })));

test.each(runs)('the $kind with a malformed $variable exits 1, names it, and prints no password', async (run) => {
  const service = spawnService(run.kind, { ...valid, [run.variable]: run.value });
  const code = await service.exited;
  const output = service.output();
  expect(code).toBe(1);
  expect(output).toContain(
    `${run.variable} is not a valid URL: percent-encode any of / ? # @ : in its user name or password`,
  );
  const password = /:\/\/[^:]*:(.*)@/.exec(run.value)![1]!;
  for (const part of [password, ...password.split(/[/?#]/)]) expect(output).not.toContain(part);
});
