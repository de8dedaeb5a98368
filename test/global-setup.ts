import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * Starts (or finds running) the servers the tests use and hands their addresses to every test file through
 * the environment. Idempotent, so `npx jest some.test.ts` works as well as `npm test`.
 */
export default function globalSetup(): void {
  const output = execFileSync('bash', [path.join(__dirname, '..', 'dev', 'setup', 'services.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  for (const line of output.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match && match[2]) process.env[match[1]!] = match[2];
  }
  if (!process.env.TEST_DATABASE_URL) throw new Error('dev/setup/services.sh did not report TEST_DATABASE_URL');
}
