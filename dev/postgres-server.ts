import { execFile, execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestCertificates } from './certificates';
import { onExit } from './exit-cleanup';
import { freePort, isListening } from './ports';

type ServerCertificate = Pick<TestCertificates, 'serverCert' | 'serverKey'>;

const SCRIPT = path.join(__dirname, 'setup', 'postgres.sh');
const run = promisify(execFile);

/** The project's default PostgreSQL: the demo's and the tests' (set-up installs and starts it). */
export const DEFAULT_POSTGRES_PORT = 54329;

/**
 * A PostgreSQL cluster of the project's own, through its set-up script (Debian's server, loopback only, data under
 * .data/): the default one, or a private one on another port that a run can stop and start under its clients, as a
 * database failover or restart would.
 */
export class PostgresServer {
  /** For a private cluster: removes it if this process exits first (a crashed or interrupted run). */
  private forgetOnExit: () => void = () => undefined;

  private constructor(
    private readonly port: number,
    /** Admin connection string (user postgres, trust authentication on loopback). */
    readonly url: string,
    /** False when it was already running, so stopping it is someone else's business. */
    readonly startedHere: boolean,
    private readonly tls?: ServerCertificate,
  ) {}

  /**
   * Starts it unless it already runs; default: a private cluster on a free port. With `tls`, it serves TLS (and
   * plain connections still, as Supabase's does) with that certificate.
   */
  static async start(port?: number, tls?: ServerCertificate): Promise<PostgresServer> {
    const chosen = port ?? (await freePort());
    const running = await isListening(chosen);
    const server = new PostgresServer(chosen, await PostgresServer.script(chosen, undefined, tls), !running, tls);
    if (port === undefined) {
      server.forgetOnExit = onExit(() => execFileSync('bash', [SCRIPT, 'remove'], { env: scriptEnv(chosen) }));
    }
    return server;
  }

  /** Down for `downMs`, then up again on the same port with the same data. */
  async restart(downMs: number): Promise<void> {
    await this.stop();
    await new Promise((resolve) => setTimeout(resolve, downMs));
    await PostgresServer.script(this.port, undefined, this.tls);
  }

  async stop(): Promise<void> {
    await PostgresServer.script(this.port, 'stop');
  }

  /** Stops it and deletes its data (refused for the default cluster). */
  async remove(): Promise<void> {
    this.forgetOnExit();
    await PostgresServer.script(this.port, 'remove');
  }

  private static async script(port: number, command?: 'stop' | 'remove', tls?: ServerCertificate): Promise<string> {
    const { stdout } = await run('bash', [SCRIPT, ...(command ? [command] : [])], { env: scriptEnv(port, tls) });
    return stdout.trim();
  }
}

function scriptEnv(port: number, tls?: ServerCertificate): NodeJS.ProcessEnv {
  return {
    ...process.env,
    QUEL_PG_PORT: String(port),
    ...(tls && { QUEL_PG_TLS_CERT: tls.serverCert, QUEL_PG_TLS_KEY: tls.serverKey }),
  };
}
