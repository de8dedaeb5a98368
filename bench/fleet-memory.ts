import { noisePng } from '../dev/stand-ins/images';
import { imageRuntime, type ImageRuntime } from '../dev/processes';
import { startStack } from '../dev/stack';
import { residentMb } from './bench-worker';
import { emptyTally } from './integrity';
import { runFleet } from './jobs';
import { startWay } from './ways';

/**
 * `npm run bench -- --fleet-memory [--runs N] [--jobs N] [--variant=SETTINGS]…`: the fleet step of the bench alone (a
 * fresh built worker, 12 jobs (or `--jobs`) × 4 images of 1.5 MB, L = 1 s, 16 Gemini slots, url mode), once per
 * variant of the worker's memory settings per run, the variants taking turns to go first. Each prints the worker's
 * VmRSS 3 s after it serves, its peak (VmHWM), its CPU seconds and the fleet's seconds. A variant is the worker's whole
 * setting, space-separated: `--flag`s for node (in place of the image's), `NAME=value` variables (`NAME=` unsets one
 * the image sets); `image` (the default) is the Docker image's own.
 */

const SLOTS = 16;

export async function runFleetMemory(options: { runs: number; jobs: number; variants: string[] }): Promise<void> {
  for (const [name, value] of Object.entries({ runs: options.runs, jobs: options.jobs })) {
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a whole number of at least 1`);
  }
  const variants = options.variants.length > 0 ? options.variants : ['image'];
  // Read before anything starts, so a mistyped variant fails at once.
  const runtimes = new Map(variants.map((variant) => [variant, runtimeOf(variant)]));
  const stack = await startStack({ temporal: true, geminiImageSize: { width: 720, height: 720 } });
  const source = noisePng(720, 720);
  const results = new Map<string, string[]>(variants.map((variant) => [variant, []]));
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const variant of run % 2 === 0 ? variants : [...variants].reverse()) {
        const line = await measureOnce(variant);
        results.get(variant)!.push(line);
        console.log(`  run ${run + 1}/${options.runs} [${variant}] ${line}`);
      }
    }
  } finally {
    await stack.stop();
  }
  for (const [variant, lines] of results) console.log(`${variant}\n  ${lines.join('\n  ')}`);

  async function measureOnce(variant: string): Promise<string> {
    const runtime = runtimes.get(variant)!;
    const way = await startWay('ours', { stack, sourceMode: 'url', slots: SLOTS, tally: emptyTally(), runtime });
    try {
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const idle = residentMb(way.worker.child.pid!, 'VmRSS');
      const { peakMb, workerCpuSeconds, seconds } = await runFleet(way, { jobs: options.jobs, source });
      return `idle ${idle.toFixed(0)} MB, peak ${peakMb.toFixed(0)} MB, CPU ${workerCpuSeconds.toFixed(2)} s, fleet ${seconds.toFixed(2)} s`;
    } finally {
      await way.stop();
    }
  }
}

/** A variant's node flags (in place of the image's) and variables (over the image's; `NAME=` unsets one). */
function runtimeOf(variant: string): ImageRuntime {
  const image = imageRuntime('dist/worker/main.js');
  if (variant === 'image') return image;
  const tokens = variant.split(/\s+/).filter(Boolean);
  const env = { ...image.env };
  for (const token of tokens.filter((t) => !t.startsWith('--'))) {
    const [name, value] = [token.slice(0, token.indexOf('=')), token.slice(token.indexOf('=') + 1)];
    if (!/^\w+$/.test(name)) throw new Error(`a variant's ${token} is neither --flag nor NAME=value`);
    if (value === '') delete env[name];
    else env[name] = value;
  }
  return { nodeFlags: tokens.filter((t) => t.startsWith('--')), env };
}
