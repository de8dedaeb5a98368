import { spawn } from 'node:child_process';
import path from 'node:path';

/**
 * Runs `npm run <script> -- <args>` in the project as a user would, collecting everything it prints. The run's
 * shared Temporal server is not handed on: a command starts what it needs, as it does for a user.
 */
export async function runNpmScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const { TEMPORAL_TEST_ADDRESS: _shared, ...own } = env;
  const child = spawn('npm', ['run', '--silent', script, '--', ...args], {
    cwd: path.join(__dirname, '..', '..'),
    env: own,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output };
}
