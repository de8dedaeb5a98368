import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { noisePng } from '../dev/stand-ins/images';
import { OtlpReceiver } from '../dev/otlp-receiver';
import { RedisServer } from '../dev/redis-server';
import { startStack } from '../dev/stack';
import { runAnswerMemory } from './answer-memory';
import { startCpuReading } from './cpu';
import { runFairness } from './fairness';
import { Figures } from './figures';
import { runFleetMemory } from './fleet-memory';
import { emptyTally } from './integrity';
import { FLEET_IMAGES_PER_JOB, FLEET_LATENCY_MS, runFleet } from './jobs';
import { printReport, type WayTally } from './report';
import { runScale } from './scale';
import { runSourceMemory } from './source-memory';
import { measureStarts } from './starts';
import { startWay, WAYS, type Way, type WayName } from './ways';
import { exitOnSignal } from '../dev/exit-cleanup';

/**
 * `npm run bench [-- --quick] [--json FILE] [--source-mode url|inline]` (and `--scale`, `--fairness`,
 * `--answer-memory`, `--fleet-memory`, `--source-memory`, in their own files): the real stack on this machine (Temporal dev server,
 * PostgreSQL, Redis, the Storage and Gemini stand-ins answering with a noise PNG after a latency L) and the same
 * jobs run three ways, each by a worker process of its own: ours, the same pipeline on BullMQ with our activities,
 * and Temporal's floor (activities that only wait); ours also with tracing on. The ways take turns to go first, run
 * after run; each figure is the median of the runs with min and max, each ratio taken within a run.
 */

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    json: { type: 'string' },
    // How the source reaches Gemini (GEMINI_SOURCE_MODE) in our worker and BullMQ's.
    'source-mode': { type: 'string', default: 'url' },
    // The product on the real Temporal cluster, scaled out to 1, 2 and 4 workers (bench/scale.ts).
    scale: { type: 'boolean', default: false },
    // Many users on one fleet, fairness on and off (bench/fairness.ts), on the dev server or `--engine cluster`.
    fairness: { type: 'boolean', default: false },
    engine: { type: 'string', default: 'dev' },
    // The answer side's memory alone (bench/answer-memory.ts); --gc-each collects garbage after every answer.
    'answer-memory': { type: 'boolean', default: false },
    'gc-each': { type: 'boolean', default: false },
    // The fleet step alone, once per variant of the worker's memory settings per run (bench/fleet-memory.ts).
    'fleet-memory': { type: 'boolean', default: false },
    // One 20 MB source with 8 Gemini slots busy, in each source mode (bench/source-memory.ts).
    'source-memory': { type: 'boolean', default: false },
    runs: { type: 'string', default: '3' },
    jobs: { type: 'string', default: '12' },
    variant: { type: 'string', multiple: true, default: [] },
  },
});
const PLAN = flags.quick
  ? { repeats: 1, startIds: 200, fleetJobs: 12, overheadJobs: 2 }
  : { repeats: 3, startIds: 1000, fleetJobs: 50, overheadJobs: 3 };
const SLOTS = 16; // the global cap C: Gemini calls in flight, here one worker's slots
/** 720 px noise: a 1.5 MB PNG, source and answer alike; 64 px: no payload to speak of. */
const IMAGE_PX = 720;
const SMALL_PX = 64;
/** The per-image overhead: jobs of 8 images at L = 0, one at a time, on the worker that ran the fleet. */
const OVERHEAD_IMAGES = 8;
/** How a way's figures are named: ours plain, the others after their way; the 64 px run's with a suffix. */
const PREFIX: Record<WayName, string> = { ours: '', traced: 'traced_', bullmq: 'bullmq_', floor: 'floor_' };

async function main(): Promise<void> {
  if (flags.scale) return runScale({ quick: flags.quick, json: flags.json });
  if (flags.fairness) {
    if (flags.engine !== 'dev' && flags.engine !== 'cluster') throw new Error('--engine must be dev or cluster');
    const runs = Number(flags.runs);
    if (!Number.isInteger(runs) || runs < 1)
      throw new Error(`--runs must be a whole number of 1 or more, not ${flags.runs}`);
    return runFairness({ engine: flags.engine, quick: flags.quick, runs, json: flags.json });
  }
  if (flags['answer-memory']) return runAnswerMemory({ gcEach: flags['gc-each'] });
  if (flags['source-memory']) return runSourceMemory({ runs: Number(flags.runs) });
  if (flags['fleet-memory'])
    return runFleetMemory({
      runs: Number(flags.runs),
      jobs: Number(flags.jobs),
      variants: flags.variant,
    });
  const sourceMode = flags['source-mode'];
  if (sourceMode !== 'url' && sourceMode !== 'inline') throw new Error('--source-mode must be url or inline');

  const environment = {
    run: flags.quick ? 'quick' : 'full',
    runs: PLAN.repeats,
    source_mode: sourceMode,
    fleet: `${PLAN.fleetJobs} jobs x ${FLEET_IMAGES_PER_JOB} images, L = ${FLEET_LATENCY_MS / 1000} s, ${SLOTS} slots`,
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? 'unknown'}`,
    load_average_at_start: loadavg()
      .map((load) => load.toFixed(2))
      .join(' '),
  };
  console.log(`bench: ${Object.values(environment).join(', ')}`);
  const [stack, redis, receiver] = await Promise.all([
    startStack({ temporal: true }),
    RedisServer.start(),
    OtlpReceiver.start(),
  ]);
  const figures = new Figures();
  const tallies = Object.fromEntries(
    WAYS.map((way) => [way, { ...emptyTally(), callsByUrl: 0, callsInline: 0 }]),
  ) as Record<WayName, WayTally>;
  try {
    for (let run = 1; run <= PLAN.repeats; run++) {
      console.log(`run ${run}/${PLAN.repeats}: ${PLAN.startIds} workflow starts through the bridge and by a bare loop`);
      const starts = await measureStarts(stack, redis, PLAN.startIds, run % 2 === 1);
      figures.record('bridge_starts_per_s', starts.bridge);
      figures.record('bare_starts_per_s', starts.bare);
      for (const px of [IMAGE_PX, SMALL_PX]) {
        stack.gemini.answerImagesOf({ width: px, height: px });
        const source = noisePng(px, px);
        // The floor moves no bytes and runs once; tracing's cost is read with the deployed images.
        const ways: WayName[] = px === IMAGE_PX ? [...WAYS] : ['ours', 'bullmq'];
        // Taking turns to go first, so none gains from the machine's state under another.
        const turn = (run - 1) % ways.length;
        for (const name of [...ways.slice(turn), ...ways.slice(0, turn)]) {
          const suffix = px === IMAGE_PX ? '' : `_${px}px`;
          const record = (key: string, value: number) => figures.record(`${PREFIX[name]}${key}${suffix}`, value);
          console.log(`  ${name}, ${px} px images (${(source.length / 1e6).toFixed(2)} MB)`);
          const callsBefore = stack.gemini.requests.length;
          const spansBefore = receiver.spans.length;
          const way = await startWay(name, {
            stack,
            redis,
            otlpEndpoint: receiver.endpoint,
            sourceMode,
            slots: SLOTS,
            tally: tallies[name],
          });
          try {
            await measureWay(name, way, source, record, { n4: name === 'ours' && px === IMAGE_PX });
          } finally {
            await way.stop();
            const calls = stack.gemini.requests.slice(callsBefore);
            tallies[name].callsByUrl += calls.filter((call) => call.sourceVia === 'url').length;
            tallies[name].callsInline += calls.filter((call) => call.sourceVia === 'inline').length;
          }
          if (name === 'traced') {
            record('spans_per_image', (receiver.spans.length - spansBefore) / (PLAN.fleetJobs * FLEET_IMAGES_PER_JOB));
          }
        }
      }
      figures.endRun();
    }
  } finally {
    await Promise.all([receiver.stop(), redis.stop(), stack.stop()]);
  }
  printReport({
    environment: {
      ...environment,
      load_average_at_end: loadavg()
        .map((load) => load.toFixed(2))
        .join(' '),
    },
    figures,
    tallies,
    json: flags.json,
  });
}

/**
 * One way's sample of every figure, on its fresh worker: the fleet first (its peak memory is the fleet's), then the
 * per-image overhead at L = 0 and, for ours, the 4-image job's makespan with 4 images at once and with 1.
 */
async function measureWay(
  name: WayName,
  way: Way,
  source: Buffer,
  record: (key: string, value: number) => void,
  options: { n4: boolean },
): Promise<void> {
  const fleet = await runFleet(way, { jobs: PLAN.fleetJobs, source });
  const images = PLAN.fleetJobs * FLEET_IMAGES_PER_JOB;
  record('fleet_s', fleet.seconds);
  record('fleet_vs_bound', fleet.seconds / ((images * FLEET_LATENCY_MS) / 1000 / SLOTS));
  record('worker_peak_rss_mb', fleet.peakMb);
  record('worker_cpu_s', fleet.workerCpuSeconds);
  for (const [group, seconds] of Object.entries(fleet.cpu)) record(`fleet_cpu_s_${group}`, seconds);
  record('fleet_cpu_ms_per_image', ownMsPerImage(fleet.cpu, images));
  console.log(
    `    fleet ${fleet.seconds.toFixed(2)} s, peak ${fleet.peakMb.toFixed(0)} MB, CPU s ` +
      Object.entries(fleet.cpu)
        .map(([group, seconds]) => `${group} ${seconds.toFixed(2)}`)
        .join(', '),
  );
  if (name === 'traced') return; // tracing's figure is the fleet's CPU

  const reading = startCpuReading(() => ({ ...way.cpuGroups(), stand_ins: [process.pid] }));
  for (let job = 0; job < PLAN.overheadJobs; job++) {
    const seconds = await way.runJobs({ jobs: 1, quantity: OVERHEAD_IMAGES, latencyMs: 0, source });
    record('overhead_ms_per_image', (seconds * 1000) / OVERHEAD_IMAGES);
  }
  const cpu = reading();
  const overheadImages = PLAN.overheadJobs * OVERHEAD_IMAGES;
  for (const [group, seconds] of Object.entries(cpu))
    record(`cpu_ms_per_image_${group}`, (seconds * 1000) / overheadImages);
  record('cpu_ms_per_image', ownMsPerImage(cpu, overheadImages));

  if (!options.n4) return;
  const makespan = (imageConcurrency: number) =>
    way.runJobs({ jobs: 1, quantity: 4, latencyMs: 2_000, source, imageConcurrency });
  const n4 = await makespan(4);
  const sequential = await makespan(1);
  record('makespan_n4_s', n4);
  record('makespan_n4_sequential_s', sequential);
}

/** The way's own processes' CPU per image, in ms: the stand-ins play remote services, and are reported apart. */
function ownMsPerImage(cpu: Record<string, number>, images: number): number {
  const own = Object.entries(cpu).filter(([group]) => group !== 'stand_ins');
  return (own.reduce((sum, [, seconds]) => sum + seconds, 0) * 1000) / images;
}

// Stopped from outside (`timeout`, `kill`), it still ends what it started.
exitOnSignal();
main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
