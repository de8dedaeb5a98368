import { spawn } from 'node:child_process';
import path from 'node:path';
import { isListening } from '../dev/ports';

/**
 * A run stopped by a signal that reaches it and not its children (`timeout`, `kill`) still ends what it started: its
 * Redis server, and its private PostgreSQL, stopped and removed.
 */

test('SIGTERM to a run ends its exit code 143 with its Redis and private PostgreSQL stopped', async () => {
  const script = path.join(__dirname, 'support', 'servers-until-signal.ts');
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', script], {
    cwd: path.join(__dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ports = await new Promise<{ redis: string; postgres: string }>((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((text) => text.startsWith('{'));
      if (line) resolve(JSON.parse(line) as { redis: string; postgres: string });
    });
    child.once('exit', (code) => reject(new Error(`the run exited with ${code} before its servers started`)));
  });
  expect(await isListening(Number(ports.redis))).toBe(true);
  expect(await isListening(Number(ports.postgres))).toBe(true);

  child.kill('SIGTERM');

  expect(await exited).toBe(143);
  expect(await isListening(Number(ports.redis))).toBe(false);
  expect(await isListening(Number(ports.postgres))).toBe(false);
}, 60_000);
