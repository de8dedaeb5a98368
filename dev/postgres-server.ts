import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './ports';

const SCRIPT = path.join(__dirname, 'setup', 'postgres.sh');
const run = promisify(execFile);

/**
 * A private PostgreSQL cluster on a free port (the project's set-up script, with its own data folder), which a
 * run can stop and start again under its clients, as a database failover or restart would.
 */
export class PostgresServer {
  private constructor(
    private readonly port: number,
    readonly url: string,
  ) {}

  static async start(): Promise<PostgresServer> {
    const port = await freePort();
    const url = await PostgresServer.script(port);
    return new PostgresServer(port, url);
  }

  /** Down for `downMs`, then up again on the same port with the same data. */
  async restart(downMs: number): Promise<void> {
    await PostgresServer.script(this.port, 'stop');
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await PostgresServer.script(this.port);
  }

  /** Stops it and deletes its data. */
  async remove(): Promise<void> {
    await PostgresServer.script(this.port, 'remove');
  }

  private static async script(port: number, command?: 'stop' | 'remove'): Promise<string> {
    const { stdout } = await run('bash', [SCRIPT, ...(command ? [command] : [])], {
      env: { ...process.env, QUEL_PG_PORT: String(port) },
    });
    return stdout.trim();
  }
}
