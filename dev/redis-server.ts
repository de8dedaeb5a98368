import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync } from 'node:fs';
import Redis from 'ioredis';
import type { TestCertificates } from './certificates';
import { killOnExit } from './exit-cleanup';
import { freePort } from './ports';

export interface RedisServerOptions {
  /** Default: any free loopback port. */
  port?: number;
  /**
   * With a folder, the server keeps an append-only file there, so queued ids survive a restart (the demo's).
   * Without one, nothing is persisted and a restart empties it, as a crashed cache would (the tests' and chaos').
   */
  dataDir?: string;
  /** Where the server's own output goes; default: nowhere. */
  logFile?: string;
  /** TLS only (no plain port), with this certificate; clients need not show one of their own. */
  tls?: Pick<TestCertificates, 'serverCert' | 'serverKey' | 'caCert'>;
  /** Every client must AUTH with it (`requirepass`). */
  password?: string;
}

/** A redis-server of the project's own (Debian's package, found by set-up), which its owner may kill and restart. */
export class RedisServer {
  private process?: ChildProcess;
  private constructor(
    readonly port: number,
    private readonly options: RedisServerOptions,
  ) {}

  get url(): string {
    const { tls, password } = this.options;
    const auth = password ? `:${encodeURIComponent(password)}@` : '';
    return `${tls ? 'rediss' : 'redis'}://${auth}127.0.0.1:${this.port}`;
  }

  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const server = new RedisServer(options.port ?? (await freePort()), options);
    await server.restart();
    return server;
  }

  /** Starts the server (again), on the same port, and waits until it answers. */
  async restart(): Promise<void> {
    await this.stop();
    const { dataDir, logFile } = this.options;
    if (dataDir) mkdirSync(dataDir, { recursive: true });
    const persistence = dataDir ? ['--dir', dataDir, '--appendonly', 'yes'] : ['--save', '', '--appendonly', 'no'];
    const output = logFile ? openSync(logFile, 'a') : 'ignore';
    const { tls, password } = this.options;
    const listen = tls
      ? ['--port', '0', '--tls-port', String(this.port), '--tls-cert-file', tls.serverCert]
      : ['--port', String(this.port)];
    if (tls) listen.push('--tls-key-file', tls.serverKey, '--tls-ca-cert-file', tls.caCert, '--tls-auth-clients', 'no');
    // Given on standard input, where no process listing shows it.
    const config = password ? `requirepass "${password}"\n` : '';
    this.process = spawn(
      process.env.REDIS_SERVER_BIN || 'redis-server',
      ['-', ...listen, '--bind', '127.0.0.1', ...persistence],
      { stdio: ['pipe', output, output] },
    );
    this.process.stdin!.end(config);
    killOnExit(this.process);
    const probe = new Redis(this.url, {
      ...this.clientTls(),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => undefined); // refused until the server listens: expected, and retried below
    for (let i = 0; i < 100; i++) {
      try {
        await probe.connect();
        await probe.ping();
        probe.disconnect();
        return;
      } catch {
        if (this.process.exitCode !== null) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    probe.disconnect();
    throw new Error(`redis-server did not start on port ${this.port}${logFile ? `; see ${logFile}` : ''}`);
  }

  /** Killed at once (SIGKILL), as a crash would; `graceful` lets it write its append-only file first. */
  async stop(graceful = false): Promise<void> {
    const child = this.process;
    // A killed process has a signalCode and no exitCode.
    if (!child || this.isStopped) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await exited;
  }

  /** Frozen (SIGSTOP): its connections stay open and nothing answers, as across a network partition. */
  async pause(): Promise<void> {
    this.process?.kill('SIGSTOP');
  }

  async resume(): Promise<void> {
    if (!this.isStopped) this.process?.kill('SIGCONT');
  }

  /** The server's process id while it runs: the benches read its CPU, the soak its memory. */
  get pid(): number | undefined {
    return this.isStopped ? undefined : this.process?.pid;
  }

  get isStopped(): boolean {
    const child = this.process;
    return !child || child.exitCode !== null || child.signalCode !== null;
  }

  /** A plain client for the owner's own reads and writes. */
  client(): Redis {
    return new Redis(this.url, { ...this.clientTls(), maxRetriesPerRequest: null });
  }

  private clientTls() {
    const { tls } = this.options;
    return tls ? { tls: { ca: readFileSync(tls.caCert) } } : {};
  }
}
