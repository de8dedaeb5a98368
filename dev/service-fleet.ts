import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnService, type ServiceProcess } from './processes';

export type ServiceRole = 'worker' | 'bridge';

export interface FleetOptions {
  /** What each role runs: the entry point from source, or compiled as the Docker image runs it. */
  entryPoints: { worker: 'worker' | 'built-worker'; bridge: 'bridge' | 'built-bridge' };
  /** A process's whole configuration; a restarted one gets its predecessor's, by index. */
  environment(role: ServiceRole, index: number): Record<string, string>;
  /** Where each process's output is written once it ended. */
  logDir: string;
}

/** The workers and bridges of a whole-system run (chaos, soak), as deployed: each its own process. */
export class ServiceFleet {
  private readonly running: Record<ServiceRole, Array<ServiceProcess | undefined>> = { worker: [], bridge: [] };
  private readonly finished: string[] = [];

  constructor(private readonly options: FleetOptions) {}

  /** Starts the process at `index` of its role and resolves once it serves. */
  async start(role: ServiceRole, index: number): Promise<void> {
    const kind = this.options.entryPoints[role];
    const service = spawnService(kind, this.options.environment(role, index));
    const failed = service.exited.then((code) => {
      throw new Error(`the ${kind} exited (${code}) before it served:\n${service.output()}`);
    });
    await Promise.race([service.started, failed]);
    failed.catch(() => undefined); // a later exit is a kill of the run's
    this.running[role][index] = service;
  }

  size(role: ServiceRole): number {
    return this.running[role].length;
  }

  /** The process id of each of a role's processes by index; undefined while one is down. */
  pids(role: ServiceRole): Array<number | undefined> {
    return this.running[role].map((service) => service?.child.pid);
  }

  /** SIGKILL the process at `index`, then a new one in its place after `downMs`. */
  async kill(role: ServiceRole, index: number, downMs = 0): Promise<void> {
    const victim = this.running[role][index];
    if (!victim) return;
    victim.child.kill('SIGKILL');
    await victim.exited;
    this.keep(role, victim);
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await this.start(role, index);
  }

  /** Jobs whose workflow a bridge started, by its log lines. */
  jobsStartedByBridges(): Set<string> {
    const started = [...this.logs().matchAll(/"jobId":"([^"]+)"[^\n]*"msg":"job workflow started"/g)];
    return new Set(started.map((match) => match[1]!));
  }

  /** SIGTERM to each, bridges first, and waits for it to exit. */
  async stopAll(): Promise<void> {
    for (const role of ['bridge', 'worker'] as const) {
      const group = this.running[role];
      for (const [index, service] of group.entries()) {
        if (!service) continue;
        service.child.kill('SIGTERM');
        await service.exited;
        this.keep(role, service);
        group[index] = undefined;
      }
    }
  }

  /** Everything the processes that ended wrote. */
  logs(): string {
    return this.finished.join('\n');
  }

  private keep(role: ServiceRole, service: ServiceProcess): void {
    this.finished.push(service.output());
    writeFileSync(path.join(this.options.logDir, `${role}-${this.finished.length}.log`), service.output());
  }
}
