import { readdirSync, readFileSync } from 'node:fs';

/** A process's memory in MB: resident, proportional (shared pages split among their users) and its own alone. */
export interface ProcessMemory {
  rss: number;
  pss: number;
  uss: number;
}

/** The sum over `pids` from /proc/PID/smaps_rollup; processes that ended since count for nothing. */
export function memoryOf(pids: readonly number[]): ProcessMemory {
  const total = { rss: 0, pss: 0, uss: 0 };
  for (const pid of pids) {
    let rollup: string;
    try {
      rollup = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    } catch {
      continue;
    }
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0);
    total.rss += kb('Rss') / 1024;
    total.pss += kb('Pss') / 1024;
    total.uss += (kb('Private_Clean') + kb('Private_Dirty')) / 1024;
  }
  return total;
}

/** The PostgreSQL server listening on `port`: its postmaster and every process it forked (backends, writers). */
export function postgresPidsOnPort(port: number): number[] {
  const processes = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((entry) => {
      try {
        const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
        const parent = Number(readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]!.split(' ')[1]);
        return [{ pid: Number(entry), parent, args }];
      } catch {
        return []; // ended since
      }
    });
  const postmaster = processes.find(
    ({ args }) => args[0]?.endsWith('/postgres') && args[args.indexOf('-p') + 1] === String(port),
  );
  if (!postmaster) return [];
  return [postmaster.pid, ...processes.filter(({ parent }) => parent === postmaster.pid).map(({ pid }) => pid)];
}
