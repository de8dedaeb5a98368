import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { devServerTuningArgs } from '../temporal-dev-server';

/**
 * The servers the demo needs, each started only when nothing answers on its port yet, and stopped again at the
 * end only if the demo started it.
 */

export const ROOT = path.resolve(__dirname, '..', '..');
export const DATA_DIR = path.join(ROOT, '.data');

export interface Service {
  name: string;
  startedHere: boolean;
  stop(): Promise<void>;
}

export async function isListening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Runs one of the project's set-up scripts and returns what it printed (its messages go to the terminal). */
export function setupScript(name: string, ...args: string[]): string {
  return execFileSync('bash', [path.join(ROOT, 'dev', 'setup', name), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

async function waitForPort(port: number, name: string, child: ChildProcess, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isListening(port))) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see its log in .data/`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on port ${port} within ${timeoutMs} ms`);
    await sleep(200);
  }
}

function daemon(command: string, args: string[], logFile: string): ChildProcess {
  const log = openSync(path.join(DATA_DIR, logFile), 'a');
  return spawn(command, args, { stdio: ['ignore', log, log] });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => (clearTimeout(force), resolve()));
    child.kill('SIGTERM');
  });
}

/** The Temporal dev server with its Web UI; its state lives in .data/temporal/ and survives restarts. */
export async function ensureTemporal(port: number, uiPort: number, searchAttributes: string[]): Promise<Service> {
  if (await isListening(port)) return { name: 'Temporal', startedHere: false, stop: async () => undefined };
  const cli = setupScript('temporal-cli.sh');
  if (!cli) throw new Error('no Temporal CLI: install Go so set-up can build it, or set TEMPORAL_CLI_PATH');
  mkdirSync(path.join(DATA_DIR, 'temporal'), { recursive: true });
  const child = daemon(
    cli,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--ui-port',
      String(uiPort),
      '--db-filename',
      path.join(DATA_DIR, 'temporal', 'dev.sqlite'),
      '--log-level',
      'warn',
      ...searchAttributes.flatMap((name) => ['--search-attribute', `${name}=Keyword`]),
      ...devServerTuningArgs(),
    ],
    'temporal.log',
  );
  await waitForPort(port, 'the Temporal dev server', child);
  await waitForPort(uiPort, 'the Temporal Web UI', child);
  return { name: 'Temporal', startedHere: true, stop: () => stopChild(child) };
}

/** Redis with an append-only file in .data/redis/, so queued ids survive a restart of the demo. */
export async function ensureRedis(port: number): Promise<Service> {
  if (await isListening(port)) return { name: 'Redis', startedHere: false, stop: async () => undefined };
  const binary = setupScript('redis.sh');
  const dir = path.join(DATA_DIR, 'redis');
  mkdirSync(dir, { recursive: true });
  const child = daemon(
    binary,
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes'],
    'redis.log',
  );
  await waitForPort(port, 'redis-server', child);
  return { name: 'Redis', startedHere: true, stop: () => stopChild(child) };
}

/** The project's own PostgreSQL (dev/setup/postgres.sh); returns its admin connection string. */
export async function ensurePostgres(port: number): Promise<Service & { adminUrl: string }> {
  const running = await isListening(port);
  const adminUrl = setupScript('postgres.sh');
  return {
    name: 'PostgreSQL',
    startedHere: !running,
    adminUrl,
    stop: async () => {
      if (!running) setupScript('postgres.sh', 'stop');
    },
  };
}
