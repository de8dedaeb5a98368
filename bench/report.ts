import { writeFileSync } from 'node:fs';
import { meets, RATIOS, type Figures, type Summary } from './figures';
import type { Tally } from './integrity';
import type { WayName } from './ways';

/** A way's checks, and its Gemini calls by how the source came (the stand-in's records). */
export interface WayTally extends Tally {
  callsByUrl: number;
  callsInline: number;
}

export interface Report {
  environment: Record<string, unknown>;
  figures: Figures;
  tallies: Record<WayName, WayTally>;
  json?: string;
}

/** A row of the ways' table: its label, and how its figures are named (prefix and suffix). */
const ROWS: Array<[string, string, string]> = [
  ['ours', '', ''],
  ['ours, traced', 'traced_', ''],
  ['BullMQ', 'bullmq_', ''],
  ['floor (no bytes)', 'floor_', ''],
  ['ours, 64 px', '', '_64px'],
  ['BullMQ, 64 px', 'bullmq_', '_64px'],
];

const COLUMNS: Array<[string, (figure: (name: string) => number | undefined) => number | undefined]> = [
  ['fleet s', (f) => f('fleet_s')],
  ['÷ bound', (f) => f('fleet_vs_bound')],
  ['CPU ms/image', (f) => f('fleet_cpu_ms_per_image')],
  ['worker CPU s', (f) => f('fleet_cpu_s_worker')],
  ['Temporal or Redis CPU s', (f) => f('fleet_cpu_s_temporal') ?? f('fleet_cpu_s_redis')],
  ['PostgreSQL CPU s', (f) => f('fleet_cpu_s_postgres')],
  ['stand-ins CPU s', (f) => f('fleet_cpu_s_stand_ins')],
  ['worker peak MB', (f) => f('worker_peak_rss_mb')],
  ['overhead ms/image (L = 0)', (f) => f('overhead_ms_per_image')],
];

/** The environment, the ways side by side (medians), the ratios with their spread and targets; the JSON. */
export function printReport({ environment, figures, tallies, json }: Report): void {
  const stats = figures.summaries();
  console.log(
    `\n${Object.entries(environment)
      .map(([key, value]) => `${key}: ${String(value)}`)
      .join(', ')}`,
  );
  console.log("\nThe fleet each way (medians; CPU over the fleet; the way's own processes per image, stand-ins apart)");
  console.log(`| way | ${COLUMNS.map(([name]) => name).join(' | ')} |`);
  console.log(`| --- |${COLUMNS.map(() => ' ---: |').join('')}`);
  for (const [label, prefix, suffix] of ROWS) {
    const figure = (name: string) => stats[`${prefix}${name}${suffix}`]?.median;
    if (figure('fleet_s') === undefined) continue;
    console.log(`| ${label} | ${COLUMNS.map(([, of]) => format(of(figure))).join(' | ')} |`);
  }
  const lost = Object.values(tallies).reduce((sum, tally) => sum + tally.lost, 0);
  const duplicates = Object.values(tallies).reduce((sum, tally) => sum + tally.duplicates, 0);
  console.log('\n| ratio | median | min | max | target | met |\n| --- | ---: | ---: | ---: | --- | --- |');
  for (const ratio of RATIOS) {
    const summary = stats[ratio.name];
    if (!summary) continue;
    const target = ratio.target ? `${ratio.target.at === 'most' ? '≤' : '≥'} ${ratio.target.value}` : '';
    const met = meets(ratio, summary);
    const row = [ratio.name, format(summary.median), format(summary.min), format(summary.max), target];
    console.log(`| ${row.join(' | ')} | ${met === undefined ? '' : met ? 'yes' : 'NO'} |`);
  }
  for (const [name, value] of [
    ['lost', lost],
    ['duplicates', duplicates],
  ] as const) {
    console.log(`| ${name} | ${value} | | | = 0 | ${value === 0 ? 'yes' : 'NO'} |`);
  }
  const checked = Object.entries(tallies).map(([way, tally]) => `${way} ${tally.jobs}`);
  console.log(`\nJobs checked: ${checked.join(', ')}.`);
  if (!json) return;
  const medians = Object.fromEntries(Object.entries(stats).map(([key, s]) => [key, round(s.median)]));
  const integrity = Object.fromEntries(
    Object.entries(tallies).map(([way, t]) => [
      way,
      {
        jobs_checked: t.jobs,
        lost: t.lost,
        duplicates: t.duplicates,
        gemini_calls_by_url: t.callsByUrl,
        gemini_calls_inline: t.callsInline,
      },
    ]),
  );
  const jobsChecked = Object.values(tallies).reduce((sum, tally) => sum + tally.jobs, 0);
  const targets = Object.fromEntries(
    RATIOS.filter((ratio) => ratio.target).map((ratio) => [ratio.name, meets(ratio, stats[ratio.name]) ?? null]),
  );
  const output = {
    environment,
    ...medians,
    lost,
    duplicates,
    jobs_checked: jobsChecked,
    targets_met: { ...targets, lost: lost === 0, duplicates: duplicates === 0 },
    integrity,
    stats: Object.fromEntries(Object.entries(stats).map(([key, s]) => [key, roundSummary(s)])),
  };
  writeFileSync(json, JSON.stringify(output, null, 2) + '\n');
  console.log(`wrote ${json}`);
}

function format(value: number | undefined): string {
  if (value === undefined) return '';
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2);
}

const round = (value: number) => Math.round(value * 1000) / 1000;
const roundSummary = (s: Summary) => ({ median: round(s.median), min: round(s.min), max: round(s.max), runs: s.runs });
