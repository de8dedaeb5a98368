import { execFileSync } from 'node:child_process';
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..');
/** Everything the local stack keeps between runs: logs, the demo's storage folder, Redis's append-only file. */
export const DATA_DIR = process.env.QUEL_DATA_DIR ?? path.join(ROOT, '.data');

/**
 * Runs one of the set-up scripts in dev/setup/ (each idempotent: it installs, builds or starts only what is
 * missing) and returns what it printed; its messages go to the terminal.
 */
export function setupScript(name: string, ...args: string[]): string {
  return execFileSync('bash', [path.join(__dirname, 'setup', name), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

/** The KEY=VALUE lines a set-up script prints, as an object. */
export function setupValues(name: string): Record<string, string> {
  return Object.fromEntries(
    setupScript(name)
      .split('\n')
      .flatMap((line) => {
        const match = /^([A-Z_]+)=(.+)$/.exec(line.trim());
        return match ? [[match[1]!, match[2]!]] : [];
      }),
  );
}
