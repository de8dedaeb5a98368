import path from 'node:path';
import type { Chart, ChartConfiguration, Plugin } from 'chart.js';
import { launchChromium } from '../dev/browser';
import { judgedMemory, type LatencyWindow } from './criteria';
import type { Sample } from './sampler';

/** A stretch of the run shaded behind every chart: the warm-up, and the windows the memory criterion compares. */
export interface Band {
  fromMin: number;
  toMin: number;
  color: string;
}

export interface PlotData {
  title: string;
  caption: string;
  samples: readonly Sample[];
  latency: readonly LatencyWindow[];
  /** The p99 the last window must stay under; drawn as a dashed line. */
  p99LimitS?: number;
  bands: Band[];
}

const CHART_JS = path.join(path.dirname(require.resolve('chart.js')), 'chart.umd.min.js');
const WIDTH = 790;
const HEIGHT = 380;
// Enough distinct colours for the cluster's ten processes.
const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
  '#000000',
  '#aec7e8',
];

/** The run's figures as a PNG: Chart.js in headless Chromium, one chart per figure. */
export async function drawPlot(file: string, data: PlotData): Promise<void> {
  const charts = chartsOf(data);
  const browser = await launchChromium(process.env.CHROMIUM_PATH);
  try {
    const page = await browser.context.newPage();
    await page.setViewportSize({ width: 2 * WIDTH + 40, height: 3 * HEIGHT + 200 });
    await page.setContent(pageOf(data, charts.length));
    await page.addScriptTag({ path: CHART_JS });
    await page.evaluate(drawCharts, { charts, bands: data.bands });
    await page.locator('#plots').screenshot({ path: file });
  } finally {
    await browser.close();
  }
}

/** Runs in the page, where Chart.js is loaded: each chart on its canvas, the bands filled in behind its lines. */
function drawCharts({ charts, bands }: { charts: ChartConfiguration[]; bands: Band[] }): void {
  const page = globalThis as unknown as {
    Chart: new (canvas: unknown, config: ChartConfiguration) => Chart;
    document: { getElementById(id: string): unknown };
  };
  const shading: Plugin = {
    id: 'bands',
    beforeDatasetsDraw(chart) {
      const { ctx, chartArea, scales } = chart;
      for (const band of bands) {
        const from = Math.max(chartArea.left, scales.x!.getPixelForValue(band.fromMin));
        const to = Math.min(chartArea.right, scales.x!.getPixelForValue(band.toMin));
        ctx.fillStyle = band.color;
        ctx.fillRect(from, chartArea.top, to - from, chartArea.bottom - chartArea.top);
      }
    },
  };
  charts.forEach(
    (config, i) => new page.Chart(page.document.getElementById(`chart-${i}`), { ...config, plugins: [shading] }),
  );
}

function pageOf(data: PlotData, count: number): string {
  const canvases = Array.from(
    { length: count },
    (_, i) => `<canvas id="chart-${i}" width="${WIDTH}" height="${HEIGHT}"></canvas>`,
  );
  return `<!doctype html><html><body style="margin:0;background:#fff;font-family:sans-serif">
    <div id="plots" style="display:inline-block;padding:12px">
      <div style="font-size:18px;font-weight:bold;margin:0 4px 4px">${escapeHtml(data.title)}</div>
      <div style="font-size:13px;color:#444;margin:0 4px 10px">${escapeHtml(data.caption)}</div>
      <div style="display:grid;grid-template-columns:repeat(2,${WIDTH}px);gap:10px">${canvases.join('')}</div>
    </div></body></html>`;
}

function chartsOf(data: PlotData): ChartConfiguration[] {
  const { samples } = data;
  const minutes = (t: number) => t / 60;
  const series = (label: string, value: (sample: Sample) => number): Line => ({
    label,
    data: samples.map((sample) => ({ x: minutes(sample.t), y: value(sample) })),
  });
  const processes = Object.keys(samples[0]?.memoryMb ?? {});
  const reporters = Object.keys(samples[0]?.heapUsedMb ?? {});
  const window = (w: LatencyWindow) => minutes((w.fromS + w.toS) / 2);
  const latency: Line[] = [
    { label: 'p50', data: data.latency.map((w) => ({ x: window(w), y: w.p50S })), points: true },
    { label: 'p99', data: data.latency.map((w) => ({ x: window(w), y: w.p99S })), points: true },
  ];
  if (data.p99LimitS !== undefined && data.latency.length > 0) {
    const span = [data.latency[0]!.fromS, data.latency.at(-1)!.toS].map((t) => ({ x: minutes(t), y: data.p99LimitS! }));
    latency.push({ label: 'p99 limit (1.15 x the first window after the warm-up)', data: span, dashed: true });
  }
  // Every chart on the same time axis, to the last sample (taken once the jobs in flight at the end had ended).
  const lastMin = minutes(Math.max(samples.at(-1)?.t ?? 0, data.latency.at(-1)?.toS ?? 0));
  const chart = (title: string, lines: Line[]) => chartOf(title, lines, lastMin);
  return [
    chart(
      'Memory per process (MB): resident; PostgreSQL its processes\u2019 own',
      processes.map((name) => series(name, (sample) => sample.memoryMb[name]![judgedMemory(name)])),
    ),
    chart(
      'V8 heap used (MB), all threads of each process',
      reporters.map((name) => series(name, (sample) => sample.heapUsedMb[name]!.all)),
    ),
    chart('Jobs in flight and Redis lists', [
      series('jobs in flight', (sample) => sample.jobsInFlight),
      series('Redis queue', (sample) => sample.redis.queue),
      series('Redis processing', (sample) => sample.redis.processing),
      series('Redis dead letters', (sample) => sample.redis.deadLetters),
    ]),
    chart('Job latency, push to completed (s), per window of pushes', latency),
    chart('PostgreSQL connections', [
      series('product', (sample) => sample.postgresConnections.product),
      series('Temporal', (sample) => sample.postgresConnections.temporal),
    ]),
    chart('Redis memory used (MB)', [series('used_memory', (sample) => sample.redis.usedMemoryMb)]),
  ];
}

/** One line of a chart: points of (minutes, value). */
interface Line {
  label: string;
  data: Array<{ x: number; y: number }>;
  /** Each point drawn: a few summaries rather than a series of samples. */
  points?: boolean;
  /** A limit rather than a measure. */
  dashed?: boolean;
}

function chartOf(title: string, lines: Line[], lastMin: number): ChartConfiguration {
  return {
    type: 'line',
    data: {
      datasets: lines.map(({ label, data, points, dashed }, i) => ({
        label,
        data,
        borderColor: PALETTE[i % PALETTE.length],
        backgroundColor: PALETTE[i % PALETTE.length],
        borderWidth: 2,
        pointRadius: points ? 3 : 0,
        borderDash: dashed ? [6, 4] : [],
      })),
    },
    options: {
      animation: false,
      responsive: false,
      scales: {
        x: {
          type: 'linear',
          min: 0,
          max: lastMin,
          title: { display: true, text: 'minutes since the steady load began' },
        },
        y: { beginAtZero: true },
      },
      plugins: { title: { display: true, text: title }, legend: { labels: { boxWidth: 12 } } },
    },
  };
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
