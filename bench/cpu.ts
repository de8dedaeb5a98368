import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/*
 * Whose CPU a run used, read from /proc: on a machine of two cores the product, the Temporal server, PostgreSQL and
 * the stand-ins share, a time figure is as much about the others' CPU as about the step it names.
 */

/** User plus system CPU seconds of each group so far (clock ticks of /proc/PID/stat, 100 a second). */
export function cpuSeconds(groups: Record<string, number[]>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(groups).map(([name, pids]) => [name, pids.reduce((sum, pid) => sum + ticks(pid), 0) / 100]),
  );
}

/**
 * Starts a reading of each group's CPU; the function returned gives the seconds each used since. The groups are
 * listed again at the end, so a process born in between (a database backend the worker's pool opened) counts whole;
 * one that ended in between is missed.
 */
export function startCpuReading(groups: () => Record<string, number[]>): () => Record<string, number> {
  const before = new Map(Object.values(groups()).flatMap((pids) => pids.map((pid) => [pid, ticks(pid)] as const)));
  return () =>
    Object.fromEntries(
      Object.entries(groups()).map(([name, pids]) => [
        name,
        pids.reduce((sum, pid) => sum + Math.max(0, ticks(pid) - (before.get(pid) ?? 0)), 0) / 100,
      ]),
    );
}

function ticks(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0; // a process that ended since
  }
}

/** Every PostgreSQL process on the machine: the postmaster and its backends (ours, on a machine kept quiet). */
export function postgresPids(): number[] {
  return execFileSync('pgrep', ['-x', 'postgres'], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
}

/** The Temporal CLI dev server listening on `address` (host:port), found by its command line. */
export function devServerPids(address: string): number[] {
  const port = address.split(':').at(-1)!;
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return args.includes('start-dev') && args[args.indexOf('--port') + 1] === port;
      } catch {
        return false; // ended since
      }
    })
    .map(Number);
}
