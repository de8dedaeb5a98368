import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { Client, Connection, isGrpcServiceError, type TLSConfig } from '@temporalio/client';
import { google } from '@temporalio/proto';
import { Client as PgClient } from 'pg';
import { registerSearchAttributes } from '../src/process/temporal-connection';
import type { TestCertificates } from './certificates';
import { killOnExit } from './exit-cleanup';
import { DATA_DIR, ROOT } from './setup-scripts';

/**
 * A real Temporal cluster, as production runs it and unlike the CLI's dev server: the released server on
 * PostgreSQL, 16 history shards, and each service its own process, so a test can kill one and watch the rest
 * carry on. Binaries and schemas come from `dev/setup/temporal-server.sh` (jest's global set-up exports them);
 * the server's config is `deploy/temporal-cluster.yaml`, filled in per cluster through the environment.
 */

export type TemporalService = 'frontend' | 'history' | 'matching' | 'worker';
const SERVICES: readonly TemporalService[] = ['history', 'matching', 'frontend', 'worker'];

/**
 * The order of a start, each group serving before the next starts. Every service writes the cluster's metadata
 * record at start when it differs from its config (always, on new databases or new ports), and two doing it at
 * once fail on the record's version and exit; so one goes first. The internal worker exits if it cannot reach the
 * frontend, so it goes last.
 */
const START_ORDER: readonly (readonly TemporalService[])[] = [['frontend'], ['history', 'matching'], ['worker']];

/** What each service reports SERVING for on the standard gRPC health check (names as the server spells them). */
const HEALTH_CHECK_NAMES: Record<TemporalService, string> = {
  frontend: 'temporal.api.workflowservice.v1.WorkflowService',
  // SERVING only once it owns its shards, a few seconds after it started.
  history: 'temporal.api.workflowservice.v1.HistoryService',
  matching: 'temporal.api.workflowservice.v1.MatchingService',
  worker: 'temporal.api.workflowservice.v1.WorkerService',
};

const CONFIG_FILE = path.join(ROOT, 'deploy', 'temporal-cluster.yaml');
const DYNAMIC_CONFIG_FILE = path.join(ROOT, 'deploy', 'temporal-dynamic-config.yaml');
const run = promisify(execFile);

export interface TemporalClusterOptions {
  /** Admin URL of the PostgreSQL that gets the cluster's two databases; default TEST_DATABASE_URL. */
  databaseUrl?: string;
  /** Default TEMPORAL_SERVER_PATH, TEMPORAL_SQL_TOOL_PATH and TEMPORAL_SCHEMA_DIR, as the set-up script prints. */
  serverPath?: string;
  sqlToolPath?: string;
  schemaDir?: string;
  /**
   * Names its databases (temporal_NAME, temporal_visibility_NAME); random by default, so clusters can run side by
   * side. A name whose databases exist starts on them, keeping their namespaces and workflows.
   */
  name?: string;
  namespace?: string;
  /** More namespaces, registered and given the search attributes as `namespace` is. */
  otherNamespaces?: string[];
  /**
   * Dynamic config (YAML) over the project's (deploy/temporal-dynamic-config.yaml), each key it sets replacing the
   * project's: for a bench that compares a setting (the fairness bench switches fairness off in one namespace).
   */
  extraDynamicConfig?: string;
  /** For the databases, the processes and the namespace together. */
  startTimeoutMs?: number;
  /**
   * TLS on the frontend with these certificates; `requireClientAuth` makes it mutual, as Temporal Cloud's mTLS
   * namespaces are. The server's own worker service then presents the client certificate.
   */
  tls?: { certificates: TestCertificates; requireClientAuth: boolean };
}

/** How long the start took: the databases (schema set up from scratch, or only checked) and the services. */
export interface StartupTimings {
  schema: 'created' | 'existing';
  databasesMs: number;
  servicesMs: number;
  totalMs: number;
}

interface Database {
  host: string;
  port: string;
  user: string;
  /** Given to child processes in their environment only: never in an argument list or a log. */
  password: string;
  adminDatabase: string;
  adminUrl: string;
}

export class TemporalCluster {
  private readonly children = new Map<TemporalService, ChildProcess>();
  /** Set once started: how long the start took. */
  timings?: StartupTimings;

  private constructor(
    readonly name: string,
    readonly namespace: string,
    private readonly ports: Record<TemporalService, { grpc: number; membership: number }>,
    private readonly serverPath: string,
    private readonly database: Database,
    /** Where each process writes its log: `<service>.log`, and `schema.log` for temporal-sql-tool. */
    readonly logDir: string,
    private readonly tls?: TemporalClusterOptions['tls'],
    private readonly dynamicConfigFile = DYNAMIC_CONFIG_FILE,
  ) {}

  /** What a client that trusts the test CA and holds the client certificate connects with; undefined without TLS. */
  get clientTls(): TLSConfig | undefined {
    if (!this.tls) return undefined;
    const { caCert, clientCert, clientKey } = this.tls.certificates;
    return {
      // The name on the server's certificate; the address is an IP, which TLS's server name indication cannot carry.
      serverNameOverride: 'localhost',
      serverRootCACertificate: readFileSync(caCert),
      clientCertPair: { crt: readFileSync(clientCert), key: readFileSync(clientKey) },
    };
  }

  /** Where clients and workers connect (the frontend). */
  get address(): string {
    return `127.0.0.1:${this.ports.frontend.grpc}`;
  }

  get databases(): { main: string; visibility: string } {
    return { main: `temporal_${this.name}`, visibility: `temporal_visibility_${this.name}` };
  }

  static async start(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
    const deadline = Date.now() + (options.startTimeoutMs ?? 120_000);
    const serverPath = required(options.serverPath, 'TEMPORAL_SERVER_PATH', SETUP_HINT);
    const sqlToolPath = required(options.sqlToolPath, 'TEMPORAL_SQL_TOOL_PATH', SETUP_HINT);
    const schemaDir = required(options.schemaDir, 'TEMPORAL_SCHEMA_DIR', SETUP_HINT);
    const databaseUrl = required(options.databaseUrl, 'TEST_DATABASE_URL', '`bash dev/setup/postgres.sh` prints one');
    const name = options.name ?? randomBytes(5).toString('hex');
    if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`cluster name ${name}: lower-case letters, digits and _ only`);
    const logDir = path.join(DATA_DIR, `temporal-cluster-${name}`);
    mkdirSync(logDir, { recursive: true });
    pruneLogDirs();
    let dynamicConfigFile = DYNAMIC_CONFIG_FILE;
    if (options.extraDynamicConfig) {
      dynamicConfigFile = path.join(logDir, 'dynamic-config.yaml');
      writeFileSync(
        dynamicConfigFile,
        overriding(readFileSync(DYNAMIC_CONFIG_FILE, 'utf8'), options.extraDynamicConfig),
      );
    }
    const cluster = new TemporalCluster(
      name,
      options.namespace ?? 'default',
      await servicePorts(),
      serverPath,
      parseDatabaseUrl(databaseUrl),
      logDir,
      options.tls,
      dynamicConfigFile,
    );
    const began = Date.now();
    try {
      const created = await cluster.prepareDatabases(sqlToolPath, schemaDir);
      const databasesMs = Date.now() - began;
      for (const group of START_ORDER) {
        for (const service of group) cluster.spawn(service);
        await Promise.all(group.map((service) => cluster.waitUntilServing(service, deadline)));
      }
      for (const namespace of [cluster.namespace, ...(options.otherNamespaces ?? [])]) {
        await cluster.prepareNamespace(namespace, deadline);
      }
      cluster.timings = {
        schema: created ? 'created' : 'existing',
        databasesMs,
        servicesMs: Date.now() - began - databasesMs,
        totalMs: Date.now() - began,
      };
      return cluster;
    } catch (error) {
      // Databases under a generated name are this start's alone; a given name's may hold someone's work.
      await (options.name === undefined ? cluster.drop() : cluster.stop());
      throw error;
    }
  }

  /** Sends `signal` to one service's process and waits for it to exit. */
  async kill(service: TemporalService, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.children.get(service);
    if (!child) return;
    await endProcess(child, signal);
    this.children.delete(service);
  }

  /** Starts a service again (stopping it first if it still runs) and waits until it is serving. */
  async restart(service: TemporalService, timeoutMs = 60_000): Promise<void> {
    await this.kill(service, 'SIGTERM');
    this.spawn(service);
    await this.waitUntilServing(service, Date.now() + timeoutMs);
  }

  /**
   * The whole cluster down and up again on the same ports and databases, as after a host's restart. The members of
   * the run that just ended are forgotten first: a new member would otherwise wait out each of them at its join.
   */
  async restartAll(downMs = 0, timeoutMs = 120_000): Promise<void> {
    await this.stop();
    await sleep(downMs);
    await withAdmin(this.database, (client) => client.query('DELETE FROM cluster_membership'), this.databases.main);
    const deadline = Date.now() + timeoutMs;
    for (const group of START_ORDER) {
      for (const service of group) this.spawn(service);
      await Promise.all(group.map((service) => this.waitUntilServing(service, deadline)));
    }
  }

  /** Ends the processes this cluster started, and only those; its databases stay, for a start under the same name. */
  async stop(): Promise<void> {
    await Promise.all([...this.children.keys()].map((service) => this.kill(service, 'SIGTERM')));
  }

  /** Stops the cluster and drops its databases. */
  async drop(): Promise<void> {
    await this.stop();
    await withAdmin(this.database, async (admin) => {
      for (const database of Object.values(this.databases)) {
        await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      }
    });
  }

  /** The process of each service that runs now, for measuring what it costs. */
  pids(): Partial<Record<TemporalService, number>> {
    return Object.fromEntries([...this.children].map(([service, child]) => [service, child.pid]));
  }

  logFile(service: TemporalService | 'schema'): string {
    return path.join(this.logDir, `${service}.log`);
  }

  /**
   * Creates and sets up each database that does not exist yet, then brings both to the release's schema version
   * (a no-op when they are there already). Returns whether any database was created.
   */
  private async prepareDatabases(sqlToolPath: string, schemaDir: string): Promise<boolean> {
    const { main, visibility } = this.databases;
    const existing = await withAdmin(this.database, async (admin) => {
      const { rows } = await admin.query<{ datname: string }>(
        'SELECT datname FROM pg_database WHERE datname = ANY($1)',
        [[main, visibility]],
      );
      return new Set(rows.map((row) => row.datname));
    });
    const log = this.logFile('schema');
    const tool = async (database: string, ...command: string[]) => {
      const { host, port, user, password } = this.database;
      const args = ['--plugin', 'postgres12', '--ep', host, '-p', port, '-u', user, '--db', database, ...command];
      appendFileSync(log, `$ temporal-sql-tool ${args.join(' ')}\n`);
      const env = { PATH: process.env.PATH ?? '', SQL_PASSWORD: password };
      const result = await run(sqlToolPath, args, { env }).catch((error: unknown) => {
        const { stdout = '', stderr = '' } = error as { stdout?: string; stderr?: string };
        appendFileSync(log, stdout + stderr);
        throw new Error(`temporal-sql-tool ${command[0]} on ${database} failed; see ${log}`);
      });
      appendFileSync(log, result.stdout + result.stderr);
    };
    const stores: [string, string][] = [
      [main, 'temporal'],
      [visibility, 'visibility'],
    ];
    for (const [database] of stores.filter(([database]) => !existing.has(database))) {
      await tool(database, 'create-database', '--defaultdb', this.database.adminDatabase);
      await tool(database, 'setup-schema', '-v', '0.0');
    }
    for (const [database, store] of stores) {
      await tool(database, 'update-schema', '-d', path.join(schemaDir, 'v12', store, 'versioned'));
    }
    if (existing.has(main)) {
      // The members of this cluster's last run, which no longer runs. A new member tries to join every member that
      // heartbeated in the last 20 s, and waits out the join timeout (30 s) for each that left that recently.
      await withAdmin(this.database, (client) => client.query('DELETE FROM cluster_membership'), main);
    }
    return existing.size < stores.length;
  }

  private spawn(service: TemporalService): void {
    const log = openSync(this.logFile(service), 'a');
    const child = spawn(
      this.serverPath,
      ['--config-file', CONFIG_FILE, '--allow-no-auth', 'start', '--service', service],
      { env: this.serverEnvironment(), stdio: ['ignore', log, log] },
    );
    closeSync(log);
    this.children.set(service, child);
    killOnExit(child);
  }

  /** What `deploy/temporal-cluster.yaml` reads (names as in Temporal's server image; the file says more). */
  private serverEnvironment(): Record<string, string> {
    const { host, port, user, password } = this.database;
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      POSTGRES_SEEDS: host,
      DB_PORT: port,
      POSTGRES_USER: user,
      DBNAME: this.databases.main,
      VISIBILITY_DBNAME: this.databases.visibility,
      BIND_ON_IP: '127.0.0.1',
      DYNAMIC_CONFIG_FILE_PATH: this.dynamicConfigFile,
    };
    if (password) env.POSTGRES_PWD = password;
    if (this.tls) {
      const { caCert, serverCert, serverKey, clientCert, clientKey } = this.tls.certificates;
      Object.assign(env, {
        TEMPORAL_TLS_FRONTEND_CERT: serverCert,
        TEMPORAL_TLS_FRONTEND_KEY: serverKey,
        TEMPORAL_TLS_REQUIRE_CLIENT_AUTH: String(this.tls.requireClientAuth),
        TEMPORAL_TLS_CLIENT1_CA_CERT: caCert,
        TEMPORAL_TLS_SYSTEM_WORKER_CERT: clientCert,
        TEMPORAL_TLS_SYSTEM_WORKER_KEY: clientKey,
        TEMPORAL_TLS_SERVER_CA_CERT: caCert,
        TEMPORAL_TLS_FRONTEND_SERVER_NAME: 'localhost',
      });
    }
    for (const service of SERVICES) {
      env[`${service.toUpperCase()}_GRPC_PORT`] = String(this.ports[service].grpc);
      env[`${service.toUpperCase()}_MEMBERSHIP_PORT`] = String(this.ports[service].membership);
    }
    return env;
  }

  /** Polls the service's gRPC health check until it says SERVING; fails early, naming the log, if it exits. */
  private async waitUntilServing(service: TemporalService, deadline: number): Promise<void> {
    // No retrying interceptor: each check should fail fast, and this loop is the retry.
    const connection = Connection.lazy({
      address: `127.0.0.1:${this.ports[service].grpc}`,
      tls: service === 'frontend' ? this.clientTls : undefined,
      interceptors: [],
    });
    try {
      for (;;) {
        const child = this.children.get(service);
        if (!child || child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `temporal ${service} exited (${child?.exitCode ?? child?.signalCode}); see ${this.logFile(service)}`,
          );
        }
        const serving = await connection
          .withDeadline(Date.now() + 2_000, () =>
            connection.healthService.check({ service: HEALTH_CHECK_NAMES[service] }),
          )
          .then((response) => response.status === SERVING)
          .catch(() => false);
        if (serving) return;
        if (Date.now() > deadline) {
          throw new Error(`temporal ${service} was not serving in time; see ${this.logFile(service)}`);
        }
        await sleep(250);
      }
    } finally {
      await connection.close();
    }
  }

  /**
   * Registers the namespace when missing, then the product's search attributes, and waits until the frontend
   * accepts a visibility query on them: until then a workflow started with them would be refused.
   */
  private async prepareNamespace(namespace: string, deadline: number): Promise<void> {
    const connection = await Connection.connect({ address: this.address, tls: this.clientTls });
    try {
      const client = new Client({ connection, namespace });
      const described = await connection.workflowService.describeNamespace({ namespace }).then(
        () => true,
        (error: unknown) => {
          if (isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND) return false;
          throw error;
        },
      );
      if (!described) {
        await connection.workflowService
          .registerNamespace({
            namespace,
            // A day; built with fromObject, as the typed field wants a Long.
            workflowExecutionRetentionPeriod: google.protobuf.Duration.fromObject({ seconds: 24 * 60 * 60 }),
          })
          .catch((error: unknown) => {
            if (!(isGrpcServiceError(error) && error.code === GRPC_ALREADY_EXISTS)) throw error;
          });
      }
      await untilSucceeds(() => registerSearchAttributes(client, namespace), 'search attributes registered', deadline);
      await untilSucceeds(
        () => connection.workflowService.countWorkflowExecutions({ namespace, query: `JobId = 'probe'` }),
        `a visibility query on JobId in namespace ${namespace}`,
        deadline,
      );
    } finally {
      await connection.close();
    }
  }
}

/** Dynamic config `base` with the keys `extra` sets taken out, then `extra`: a YAML file may hold a key once. */
function overriding(base: string, extra: string): string {
  const keysOf = (yaml: string) => new Set([...yaml.matchAll(/^([\w.]+):/gm)].map((match) => match[1]));
  const replaced = keysOf(extra);
  const blocks = base.split(/^(?=[\w.]+:)/m);
  return [...blocks.filter((block) => !replaced.has(/^([\w.]+):/.exec(block)?.[1] ?? '')), extra].join('');
}

// Status codes by number: the gRPC library that names them is the SDK's dependency, not this project's.
const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const SERVING = 1; // grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING

const SETUP_HINT = "`bash dev/setup/temporal-server.sh` prints it (jest's global set-up runs it)";

function required(value: string | undefined, variable: string, hint: string): string {
  const found = value ?? process.env[variable];
  if (!found) throw new Error(`${variable} is not set: ${hint}`);
  return found;
}

function parseDatabaseUrl(adminUrl: string): Database {
  const url = new URL(adminUrl);
  return {
    host: url.hostname,
    port: url.port || '5432',
    user: decodeURIComponent(url.username) || 'postgres',
    password: decodeURIComponent(url.password),
    adminDatabase: url.pathname.slice(1) || 'postgres',
    adminUrl,
  };
}

/** A connection to the admin database, or as the same user to `name`. */
async function withAdmin<T>(database: Database, body: (admin: PgClient) => Promise<T>, name?: string): Promise<T> {
  const url = new URL(database.adminUrl);
  if (name) url.pathname = `/${name}`;
  const admin = new PgClient({ connectionString: url.toString() });
  await admin.connect();
  try {
    return await body(admin);
  } finally {
    await admin.end();
  }
}

/**
 * Two distinct free loopback ports per service, below 32768: the PostgreSQL schema keeps a member's port in a
 * SMALLINT (cluster_membership.rpc_port), and a service given a higher one, such as any ephemeral port Linux
 * hands out for port 0, dies at start. Below the ephemeral range, nothing else is given the port by chance either.
 */
async function servicePorts(): Promise<Record<TemporalService, { grpc: number; membership: number }>> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (let attempt = 0; attempt < 500; attempt++) {
      const port = 20_000 + Math.floor(Math.random() * 12_000);
      if (!taken.has(port) && (await isFree(port))) return (taken.add(port), port);
    }
    throw new Error('no free loopback port between 20000 and 32000');
  };
  const ports = {} as Record<TemporalService, { grpc: number; membership: number }>;
  for (const service of SERVICES) ports[service] = { grpc: await next(), membership: await next() };
  return ports;
}

function isFree(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function untilSucceeds<T>(attempt: () => Promise<T>, what: string, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`, { cause: error });
    }
    await sleep(250);
  }
}

/** SIGTERM lets the server leave the membership ring cleanly; one that hangs is killed after 15 s. */
function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => (clearTimeout(force), resolve()));
    child.kill(signal);
  });
}

/** The log folders of this many clusters under a generated name are kept, the latest, for a failure to be read. */
const KEPT_LOG_DIRS = 10;

/** Removes the log folders of older clusters under a generated name; every test run and bench starts a few. */
function pruneLogDirs(): void {
  const generated = readdirSync(DATA_DIR)
    .filter((entry) => /^temporal-cluster-[0-9a-f]{10}$/.test(entry))
    .map((entry) => path.join(DATA_DIR, entry))
    .map((dir) => ({ dir, modified: modifiedMs(dir) }))
    .sort((a, b) => b.modified - a.modified)
    .map(({ dir }) => dir);
  for (const dir of generated.slice(KEPT_LOG_DIRS)) rmSync(dir, { recursive: true, force: true });
}

/** When `dir` last changed; 0 when another process (a test running in parallel) removed it meanwhile. */
function modifiedMs(dir: string): number {
  try {
    return statSync(dir).mtimeMs;
  } catch {
    return 0;
  }
}
