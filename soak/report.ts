import type { InvariantResult } from '../chaos/invariants';
import type { Capacity } from './calibration';
import { judgedMemory, type Criterion, type LatencyWindow, type MemoryFigure } from './criteria';
import type { Sample } from './sampler';
import { CRITERIA_MINUTES, type Scenario } from './scenario';

const mb = (value: number) => `${value.toFixed(0)} MB`;
const min = (seconds: number) => `${(seconds / 60).toFixed(seconds < 600 ? 1 : 0)} min`;

export function describeScenario(scenario: Scenario, seed: number): string[] {
  const { windows, engine } = scenario;
  const lines = [
    `soak: ${scenario.name} for ${scenario.minutes} min on the ${engine === 'cluster' ? 'Temporal cluster' : 'dev server'}` +
      ` with ${scenario.workers} worker(s) and ${scenario.bridges} bridge(s), seed ${seed}`,
    `  ${scenario.users} users, ${scenario.quantity.min}-${scenario.quantity.max} images a job, Gemini answering in ` +
      `${scenario.geminiLatencyMs.min / 1000}-${scenario.geminiLatencyMs.max / 1000} s, ` +
      `${scenario.geminiFaults.gemini5xx * 100} % 5xx and ${scenario.geminiFaults.gemini429 * 100} % 429; ` +
      `${scenario.imagePx} px images`,
  ];
  if (windows.scale < 1) {
    lines.push(
      `  ${scenario.minutes} min is shorter than the ${CRITERIA_MINUTES} min the criteria need: windows scaled by ` +
        `${windows.scale.toFixed(2)} (warm-up ${min(windows.warmUpS)}, memory windows ${min(windows.memoryWindowS)}, ` +
        `latency windows ${min(windows.latencyWindowS)}, a sample every ${windows.sampleEveryS.toFixed(0)} s); ` +
        `its verdict checks the machinery more than the product`,
    );
  }
  return lines;
}

export function describeCapacity(capacity: Capacity, jobsPerS: number, imagesPerS: number): string {
  return (
    `  capacity ${capacity.imagesPerS.toFixed(2)} images/s measured (${capacity.images} images in ${capacity.jobs} ` +
    `jobs at once, ${capacity.seconds.toFixed(0)} s; the configuration allows ${capacity.boundPerS.toFixed(2)}); ` +
    `steady load ${imagesPerS.toFixed(2)} images/s = ${(jobsPerS * 60).toFixed(1)} jobs/min`
  );
}

/** One line per sample, as the run goes. */
export function describeSample(sample: Sample): string {
  const memory = Object.entries(sample.memoryMb)
    .map(([name, memory]) => `${name} ${mb(memory[judgedMemory(name)])}`)
    .join(', ');
  const heaps = Object.entries(sample.heapUsedMb)
    .map(([name, heap]) => `${name} ${mb(heap.all)}`)
    .join(', ');
  return (
    `  +${min(sample.t)}: ${sample.jobsInFlight} in flight of ${sample.jobsPushed} pushed; ${memory}; heap ${heaps}; ` +
    `pg ${sample.postgresConnections.product}+${sample.postgresConnections.temporal} conns; Redis ` +
    `${sample.redis.usedMemoryMb.toFixed(1)} MB, lists ${sample.redis.queue}/${sample.redis.processing}/` +
    `${sample.redis.deadLetters}`
  );
}

export function describeLatency(latency: readonly LatencyWindow[]): string[] {
  return [
    '| window | completed | failed | p50 | p99 |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...latency.map(
      (w) =>
        `| ${min(w.fromS)} - ${min(w.toS)} | ${w.completed} | ${w.failed} | ${w.p50S.toFixed(2)} s | ` +
        `${w.p99S.toFixed(2)} s |`,
    ),
  ];
}

export function describeMemory(figures: readonly MemoryFigure[]): string[] {
  return [
    '| process | measure | first window | last window | change | limit | |',
    '| --- | --- | ---: | ---: | ---: | ---: | --- |',
    ...figures.map(
      (f) =>
        `| ${f.process} | ${f.measure} | ${mb(f.firstMb)} | ${mb(f.lastMb)} | ${(f.lastMb - f.firstMb).toFixed(1)} MB | ` +
        `+-${mb(f.limitMb)} | ${f.passed ? 'ok' : 'MOVED'} |`,
    ),
  ];
}

export function describeInvariants(invariants: readonly InvariantResult[]): string[] {
  return [
    '| invariant | checked | broken |',
    '| --- | ---: | ---: |',
    ...invariants.flatMap((invariant) => [
      `| ${invariant.name} | ${invariant.checked} | ${invariant.broken} |`,
      ...invariant.examples.map((example) => `|   e.g. ${example} | | |`),
    ]),
  ];
}

export function describeCriteria(criteria: readonly Criterion[]): string[] {
  return criteria.map((criterion) => `  ${criterion.passed ? 'PASS' : 'FAIL'} ${criterion.name}: ${criterion.figure}`);
}
