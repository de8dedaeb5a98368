import { spawn } from 'node:child_process';
import path from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGeminiClient, createImageGenerator } from '../src/activities/gemini';
import { noisePng } from '../dev/stand-ins/images';

/**
 * `npm run bench -- --answer-memory [--gc-each]`: the answer side alone. The product's Gemini client in this process
 * makes waves of 16 calls (a tiny inline source, so only answers weigh) against the Gemini stand-in in a child
 * process answering a 1.5 MB PNG after 1 s, each image held 300 ms as an upload would; the process's peak memory is
 * sampled every 2 ms. `--gc-each` runs a full garbage collection after every answer, which leaves only what is live:
 * the difference is garbage waiting to be collected.
 */

const WAVES = 12;
const IN_FLIGHT = 16;
const HOLD_MS = 300;

export async function runAnswerMemory(options: { gcEach: boolean }): Promise<void> {
  const gc = options.gcEach ? exposedGc() : undefined;
  const standIn = spawn(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-e',
      `require('./dev/stand-ins/gemini').GeminiStandIn.start({ imageSize: { width: 720, height: 720 }, latencyMs: 1000 })
        .then((s) => console.log(s.baseUrl))`,
    ],
    { cwd: path.join(__dirname, '..'), stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    const baseUrl = await new Promise<string>((resolve) =>
      standIn.stdout.once('data', (data: Buffer) => resolve(data.toString().trim())),
    );
    const settings = { apiKey: { reveal: () => 'key' }, model: 'm', baseUrl, apiVersion: 'v1beta', timeoutMs: 60_000 };
    const gemini = createImageGenerator(createGeminiClient(settings), settings);
    const source = { base64: noisePng(8, 8).toString('base64'), mimeType: 'image/png' };
    const peak = { rss: 0, heap: 0, external: 0 };
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peak.rss = Math.max(peak.rss, m.rss);
      peak.heap = Math.max(peak.heap, m.heapUsed);
      peak.external = Math.max(peak.external, m.external + m.arrayBuffers);
    }, 2);
    const baseRss = process.memoryUsage().rss;
    for (let wave = 0; wave < WAVES; wave++) {
      await Promise.all(
        Array.from({ length: IN_FLIGHT }, async (_, i) => {
          const image = await gemini.generateVariation('a hat', source, { imageKey: `probe/${wave}-${i}` });
          gc?.();
          await new Promise((resolve) => setTimeout(resolve, HOLD_MS));
          return image.bytes.length;
        }),
      );
    }
    clearInterval(sampler);
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(
      JSON.stringify({
        gc_each: options.gcEach,
        base_rss_mb: mb(baseRss),
        peak_rss_mb: mb(peak.rss),
        peak_heap_mb: mb(peak.heap),
        peak_external_mb: mb(peak.external),
      }),
    );
  } finally {
    standIn.kill();
  }
}

function exposedGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
