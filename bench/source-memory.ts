import { imageJob } from '../src/workflows';
import { jobStartOptions } from '../src/contract';
import { noisePng } from '../dev/stand-ins/images';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { uniqueTaskQueue } from '../dev/workers';
import { residentMb, startBenchWorker, stopBenchWorker } from './bench-worker';
import { median } from './stats';

/**
 * `npm run bench -- --source-memory [--runs N]`: what one large source costs the worker. Per sample, a fresh built
 * worker with 8 Gemini slots (GEMINI_MAX_CONCURRENT_CALLS' default) runs one job of 8 images, all at once, of one
 * 20 MB source (MAX_SOURCE_IMAGE_BYTES is 20 MiB), Gemini answering each call after 3 s, so the 8 slots are busy
 * together; in each source mode, the modes taking turns to go first. Prints each sample's peak resident memory
 * (VmHWM) and the worker's RSS before the job, then the median and range per mode.
 */

const SLOTS = 8;
const LATENCY_MS = 3_000;
/** A noise PNG of about 3 bytes a pixel: 2580 × 2580 is 20.0 MB. */
const SOURCE_SIDE = 2580;

export async function runSourceMemory(options: { runs: number }): Promise<void> {
  if (!Number.isInteger(options.runs) || options.runs < 1)
    throw new Error('--runs must be a whole number of at least 1');
  const stack = await startStack({ temporal: true, geminiImageSize: { width: 720, height: 720 } });
  stack.gemini.latencyMs = LATENCY_MS;
  const source = noisePng(SOURCE_SIDE, SOURCE_SIDE);
  console.log(`source-memory: one job of ${SLOTS} images of a ${source.length}-byte source, ${SLOTS} Gemini slots`);
  const peaks: Record<'url' | 'inline', number[]> = { url: [], inline: [] };
  try {
    for (let run = 0; run < options.runs; run++) {
      for (const mode of run % 2 === 0 ? (['url', 'inline'] as const) : (['inline', 'url'] as const)) {
        const sample = await measureOnce(stack, source, mode);
        peaks[mode].push(sample.peakMb);
        console.log(
          `  run ${run + 1}/${options.runs} [${mode}] idle ${sample.idleMb.toFixed(0)} MB, peak ${sample.peakMb.toFixed(0)} MB, ` +
            `${sample.callsAtOnce} calls in flight together, ${sample.seconds.toFixed(1)} s`,
        );
      }
    }
  } finally {
    await stack.stop();
  }
  for (const [mode, values] of Object.entries(peaks)) {
    console.log(
      `${mode}: peak RSS median ${median(values).toFixed(0)} MB (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)})`,
    );
  }
}

async function measureOnce(stack: Stack, source: Buffer, mode: 'url' | 'inline') {
  const taskQueue = uniqueTaskQueue('source-memory');
  const worker = await startBenchWorker(stack, { taskQueue, sourceMode: mode, slots: SLOTS });
  try {
    const pid = worker.child.pid!;
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const idleMb = residentMb(pid, 'VmRSS');
    const job = await seedJob(stack, { quantity: SLOTS, source });
    const before = stack.gemini.requests.length;
    const started = performance.now();
    const result = await stack.temporal!.client.workflow.execute(imageJob, {
      taskQueue,
      ...jobStartOptions(job.jobId),
      args: [{ jobId: job.jobId, imageConcurrency: SLOTS }],
    });
    const seconds = (performance.now() - started) / 1000;
    if (result.completedImages !== SLOTS) throw new Error(`the job made ${result.completedImages} of ${SLOTS} images`);
    // Every call arrived within one answer's latency of the first: all of them were in flight together.
    const arrivals = stack.gemini.requests.slice(before).map((request) => request.at);
    const callsAtOnce = arrivals.filter((at) => at - Math.min(...arrivals) < LATENCY_MS).length;
    return { idleMb, peakMb: residentMb(pid, 'VmHWM'), callsAtOnce, seconds };
  } finally {
    await stopBenchWorker(worker);
  }
}
