import type { ChildProcess } from 'node:child_process';

/*
 * What the local stack started, ended with the Node process that started it when that process ends without stopping
 * them: a run that crashed, or one stopped by a signal (`timeout`, `kill`), which reaches this process and not its
 * children. Only synchronous work runs at exit.
 */

const children = new Set<ChildProcess>();
const steps = new Set<() => void>();
let hooked = false;

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    for (const step of steps) step();
  });
}

/** Kills `child` (SIGKILL) if this process exits while it runs. */
export function killOnExit(child: ChildProcess): void {
  hookExit();
  children.add(child);
  child.once('exit', () => children.delete(child));
}

/** Runs `step` if this process exits before the returned function is called. */
export function onExit(step: () => void): () => void {
  hookExit();
  steps.add(step);
  return () => steps.delete(step);
}

/** For a command's entry point: SIGINT and SIGTERM end it with the signal's exit code, after the steps above. */
export function exitOnSignal(): void {
  process.once('SIGINT', () => process.exit(130));
  process.once('SIGTERM', () => process.exit(143));
}
