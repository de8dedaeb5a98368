import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, statSync } from 'node:fs';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { SEARCH_ATTRIBUTES } from '../src/contract';
import { killOnExit } from './exit-cleanup';
import { freePort, waitForPort } from './ports';

/*
 * The Temporal CLI dev server (`temporal server start-dev`), as every part of the local stack starts it: the binary
 * set-up built (TEMPORAL_CLI_PATH), the product's search attributes registered, and the tuning below.
 */

/**
 * Dynamic config for every Temporal CLI dev server this project starts (demo, tests, bench, chaos), and, through
 * `deploy/temporal-dynamic-config.yaml` (kept equal by a test), for docker-compose's Temporal and the tests' cluster.
 * docs/deploying.md says what each means for a deployment.
 */
/** A dynamic config value: a number, flag or duration (`5m`), or a typed setting's fields. */
export type DynamicConfigValue = number | boolean | string | Readonly<Record<string, number | boolean | string>>;

export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, DynamicConfigValue>> = {
  /*
   * The dev server runs a single history shard. Each shard's transfer queue, which hands new workflow and activity
   * tasks to matching, may poll its backlog at most `history.transferProcessorMaxPollRPS` times a second (20 by
   * default, a value sized for clusters with hundreds of shards, where one shard sees a small share of the load).
   * On one shard that limit is spent within a second of steady work, and from then on every workflow step waits
   * about 45 ms for the next poll before its task is even offered to a worker: a 10-activity workflow takes 105 ms
   * per step instead of 11 ms (see docs/performance.md). Polls happen only when tasks are added, so raising the
   * limit costs nothing when idle.
   */
  'history.transferProcessorMaxPollRPS': 1000,
  /*
   * A fair share per user: matching serves a backlog in weighted round-robin across fairness keys (the job's user,
   * set on its Gemini calls) instead of first in, first out.
   */
  'matching.enableFairness': true,
  /*
   * Fairness orders the tasks of one partition only, and a task forwarded from another partition to the root sorts
   * ahead of the root's own backlog: with the default 4 partitions a light user's call could still wait behind a
   * heavy user's whole backlog (measured: 4.9 times its time alone, against 1.3-1.5 with one partition). One
   * partition per queue serves far more than the fleet's quota lets through (docs/deploying.md).
   */
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
  /*
   * The history service caches each workflow's state for an hour after it was loaded, and by default drops an
   * expired entry only when it is read again or when the cache holds 128,000 workflows. A job is never read again
   * once it ends, so the cache grew by every job of the hour-long soak (150 to 290 MB in 24 minutes on the cluster).
   * Our jobs last seconds to minutes: five minutes covers a job's life, and a longer one is reloaded from the
   * database, one read. The background sweep drops expired entries (at most 1,024 a minute, 17 jobs a second).
   */
  'history.cacheTTL': '5m',
  'history.cacheBackgroundEvict': { Enabled: true },
};

/**
 * `temporal server start-dev` arguments that apply {@link DEV_SERVER_DYNAMIC_CONFIG}, with `overrides` over it (the
 * fairness bench's and test's server with fairness off, to compare).
 */
export function devServerTuningArgs(overrides: Record<string, DynamicConfigValue> = {}): string[] {
  return Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...overrides }).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${JSON.stringify(value)}`,
  ]);
}

/**
 * A private dev server for one test file, or the run's shared one when jest's global set-up started it. A private one
 * always with `dynamicConfig` over the tuning (the deploy test's faster drainage checks); its state is in memory
 * unless `dbFilename` names a SQLite file (the soak's, whose histories would otherwise pile up in its RAM).
 */
export async function startTemporal(
  options: { dbFilename?: string; dynamicConfig?: Record<string, DynamicConfigValue> } = {},
): Promise<TestWorkflowEnvironment> {
  const shared = process.env.TEMPORAL_TEST_ADDRESS;
  if (shared && !options.dynamicConfig && !options.dbFilename) {
    return TestWorkflowEnvironment.createFromExistingServer({ address: shared, namespace: 'default' });
  }
  const path = process.env.TEMPORAL_CLI_PATH;
  const server = {
    ip: '127.0.0.1',
    searchAttributes: SEARCH_ATTRIBUTES,
    extraArgs: devServerTuningArgs(options.dynamicConfig),
    ...(options.dbFilename && { dbFilename: options.dbFilename }),
  };
  return TestWorkflowEnvironment.createLocal({
    server: path ? { ...server, executable: { type: 'existing-path', path } } : server,
  });
}

export interface DevServerProcess {
  address: string;
  /** Where the Web UI listens, when asked for. */
  uiPort?: number;
  stop(): Promise<void>;
}

/** A port to listen on: a fixed one, or `'free'` for one chosen at start. */
type PortChoice = number | 'free';

interface DevServerOptions<Port> {
  cliPath: string;
  port: Port;
  logFile: string;
  /** The Web UI's port; without one the server runs headless. */
  uiPort?: Port;
  dbFile?: string;
  dynamicConfig?: Record<string, DynamicConfigValue>;
}
const BIND_ATTEMPTS = 5;

/**
 * The dev server as a process of its own, outliving any one client: the demo's (with the Web UI and its state in a
 * SQLite file kept across runs) and the one a test run shares. Its output goes to `logFile`.
 *
 * A port found free can be taken by another process before the server binds it (parallel test files make outgoing
 * connections from the same range), so a server on `'free'` ports that fails to bind starts again on fresh ones.
 */
export async function startDevServerProcess(options: DevServerOptions<PortChoice>): Promise<DevServerProcess> {
  const retriable = options.port === 'free' || options.uiPort === 'free';
  for (let attempt = 1; ; attempt++) {
    const logStart = existsSync(options.logFile) ? statSync(options.logFile).size : 0;
    try {
      return await startOnce({
        ...options,
        port: options.port === 'free' ? await freePort() : options.port,
        uiPort: options.uiPort === 'free' ? await freePort() : options.uiPort,
      });
    } catch (error) {
      if (!retriable || attempt === BIND_ATTEMPTS || !logSince(options.logFile, logStart).includes(ADDRESS_IN_USE)) {
        throw error;
      }
    }
  }
}

const ADDRESS_IN_USE = 'address already in use';

function logSince(logFile: string, offset: number): string {
  return readFileSync(logFile).subarray(offset).toString('utf8');
}

async function startOnce(options: DevServerOptions<number>): Promise<DevServerProcess> {
  const log = openSync(options.logFile, 'a');
  const child = spawn(
    options.cliPath,
    [
      'server',
      'start-dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.port),
      ...(options.uiPort ? ['--ui-port', String(options.uiPort)] : ['--headless']),
      ...(options.dbFile ? ['--db-filename', options.dbFile] : []),
      '--log-level',
      'warn',
      ...SEARCH_ATTRIBUTES.flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]),
      ...devServerTuningArgs(options.dynamicConfig),
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  killOnExit(child);
  const stop = () => stopProcess(child);
  try {
    await waitForPort(options.port, 'the Temporal dev server', child, options.logFile);
    if (options.uiPort) await waitForPort(options.uiPort, 'the Temporal Web UI', child, options.logFile);
  } catch (error) {
    await stop();
    throw error;
  }
  return { address: `127.0.0.1:${options.port}`, ...(options.uiPort && { uiPort: options.uiPort }), stop };
}

/** SIGTERM, then SIGKILL if it has not exited within 10 s. */
export function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => (clearTimeout(force), resolve()));
    child.kill('SIGTERM');
  });
}
