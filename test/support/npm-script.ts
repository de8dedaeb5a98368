import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.join(__dirname, '..', '..');

/**
 * Runs `npm run <script> -- <args>` in the project as a user would, collecting everything it prints. The run's
 * shared Temporal server is not handed on: a command starts what it needs, as it does for a user.
 */
export async function runNpmScript(
  script: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; output: string }> {
  const run = spawnCollecting('npm', ['run', '--silent', script, '--', ...args], env);
  const code = await run.exited;
  return { code, output: run.output() };
}

/**
 * A script that keeps serving, started with the command `npm run <script>` runs, in one process (each step execs
 * the next), so SIGINT reaches it as Ctrl-C would: npm does not pass signals on. Returns its output so far and its
 * exit.
 */
export function startNpmScript(script: string, args: string[], env: NodeJS.ProcessEnv) {
  const { scripts } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  return spawnCollecting('bash', ['-c', `exec ${scripts[script]} "$@"`, script, ...args], env);
}

function spawnCollecting(command: string, args: string[], env: NodeJS.ProcessEnv) {
  const { TEMPORAL_TEST_ADDRESS: _shared, ...own } = env;
  const child = spawn(command, args, { cwd: ROOT, env: own, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exited };
}
