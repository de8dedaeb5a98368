import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { killOnExit } from './exit-cleanup';

const ROOT = path.join(__dirname, '..');

export interface ServiceProcess {
  child: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  /** Resolves once the process logged that it started. */
  started: Promise<void>;
  exited: Promise<number | null>;
}

const TS = ['-r', 'ts-node/register/transpile-only'];
const ENTRY_POINTS = {
  worker: { script: 'src/worker/main.ts', ready: '"msg":"worker started"' },
  /** As the Docker image runs it: compiled, its Node flags and variables, the prebuilt bundle (`npm run build` first). */
  'built-worker': { script: 'dist/worker/main.js', ready: '"msg":"worker started"', compiled: true },
  /** The bench's peers (bench/peers/), compiled by scripts/bench.sh, with the product worker's runtime settings. */
  'bullmq-worker': {
    script: 'dist/peers/bench/peers/bullmq-worker.js',
    ready: '"msg":"worker started"',
    compiled: true,
    runsAs: 'dist/worker/main.js',
  },
  'floor-worker': {
    script: 'dist/peers/bench/peers/floor-worker.js',
    ready: '"msg":"worker started"',
    compiled: true,
    runsAs: 'dist/worker/main.js',
  },
  bridge: { script: 'src/bridge/main.ts', ready: '"msg":"bridge started"' },
  'built-bridge': { script: 'dist/bridge/main.js', ready: '"msg":"bridge started"', compiled: true },
  all: { script: 'src/main.ts', ready: '"msg":"worker started"' },
  enqueue: { script: 'scripts/enqueue.ts', ready: 'pushed' },
  replay: { script: 'scripts/replay.ts', ready: 'replaying' },
  deploy: { script: 'scripts/deploy.ts', ready: 'deployment' },
};

const running = new Set<ServiceProcess>();

/**
 * Kills (SIGKILL) every process spawnService started that is still running, and waits for them: a test that failed
 * half-way must not leave a worker or bridge behind to hold its runner open.
 */
export async function killServices(): Promise<void> {
  const left = [...running];
  for (const service of left) service.child.kill('SIGKILL');
  await Promise.all(left.map((service) => service.exited));
}

/** A production entry point (`npm run start:worker`, `start:bridge`) as its own process, configured by environment only. */
export function spawnService(
  kind: keyof typeof ENTRY_POINTS,
  env: Record<string, string>,
  args: string[] = [],
  /** For a compiled entry point: other memory settings than the image's, to compare them (bench/fleet-memory.ts). */
  runtime?: ImageRuntime,
): ServiceProcess {
  const entry: { script: string; ready: string; compiled?: boolean; runsAs?: string } = ENTRY_POINTS[kind];
  const { script, ready } = entry;
  const image = entry.compiled ? (runtime ?? imageRuntime(entry.runsAs ?? script)) : undefined;
  const child = spawn(process.execPath, [...(image ? image.nodeFlags : TS), script, ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...image?.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  killOnExit(child);
  let output = '';
  let onStarted: (() => void) | undefined;
  const started = new Promise<void>((resolve) => (onStarted = resolve));
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    // Searched until found only: a soak's worker writes megabytes, and each search reads all of it.
    if (onStarted && output.includes(ready)) {
      onStarted();
      onStarted = undefined;
    }
  };
  child.stdout!.on('data', collect);
  child.stderr!.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const service = { child, output: () => output, started, exited };
  running.add(service);
  void exited.then(() => running.delete(service));
  return service;
}

/** The Node flags and variables a compiled entry point runs with. */
export interface ImageRuntime {
  nodeFlags: string[];
  env: Record<string, string>;
}

/** The bridge's command in docker-compose.yml: the same image, without the worker's flags. */
const BRIDGE_SCRIPT = 'dist/bridge/main.js';

/**
 * How the Docker image runs `script`: the Node flags of its `CMD` (the worker's heap settings; none for the bridge,
 * which runs the same image as `node dist/bridge/main.js`) and the variables its final stage's `ENV` sets (the
 * allocator's), so that a process started here runs with the memory settings it is deployed with. The caller's
 * variables win.
 */
export function imageRuntime(script: string): ImageRuntime {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const finalStage = dockerfile.slice(dockerfile.lastIndexOf('\nFROM ')).replace(/\\\n\s*/g, ' ');
  const cmd = /^CMD (\[.*\])$/m.exec(finalStage)?.[1];
  const parsed = cmd ? (JSON.parse(cmd) as string[]) : [];
  const command = script === BRIDGE_SCRIPT ? ['node', script] : parsed;
  if (parsed[0] !== 'node' || command.at(-1) !== script) {
    throw new Error(`the Dockerfile's CMD is not ["node", …flags, "${script}"]: ${cmd}`);
  }
  const assignments = [...finalStage.matchAll(/^ENV (.+)$/gm)]
    .flatMap((line) => line[1]!.trim().split(/\s+/))
    // Set from a build argument (the build id from the commit), not a runtime setting of the image's.
    .filter((assignment) => !assignment.includes('=${'));
  const env = assignments.map((assignment) => {
    const match = /^(\w+)=([^"'\s]*)$/.exec(assignment);
    if (!match) throw new Error(`the Dockerfile's ENV has ${assignment}, not NAME=plain-value`);
    return [match[1]!, match[2]!] as const;
  });
  return { nodeFlags: command.slice(1, -1), env: Object.fromEntries(env) };
}
