import type { GeminiFaultRates } from '../chaos/faults';

/**
 * The soak's one named scenario, as a load harness names its own: steady arrivals for a duration, at a share of the
 * fleet's measured capacity, with the windows the pass criteria compare.
 */
export interface Scenario {
  name: string;
  engine: 'dev' | 'cluster';
  minutes: number;
  workers: number;
  bridges: number;
  /** Jobs come from this many users, each drawn at random per job. */
  users: number;
  /** Each job's quantity, drawn uniformly. */
  quantity: { min: number; max: number };
  /** Each Gemini call's latency, drawn uniformly. */
  geminiLatencyMs: { min: number; max: number };
  /** The arrival rate as a share of the capacity measured at the start. */
  loadShare: number;
  geminiFaults: GeminiFaultRates;
  /** Side of the source and answer images: small, so the machine's CPU goes to the product rather than to noise. */
  imagePx: number;
  windows: Windows;
}

/** The criteria's windows and the sampling interval, scaled down together for a run shorter than they need. */
export interface Windows {
  /** 1 for a run of at least {@link CRITERIA_MINUTES}; below, the run's share of them. */
  scale: number;
  warmUpS: number;
  /** The memory criterion's two windows: the first after the warm-up, and the last of the run. */
  memoryWindowS: number;
  /** Latency is summarised per window of this length (the last one may be longer, up to the run's end). */
  latencyWindowS: number;
  sampleEveryS: number;
  /** How long the capacity burst at the start is meant to keep the fleet busy. */
  calibrationS: number;
}

/** What the criteria need at full length: a 5-minute warm-up, then two 10-minute memory windows that do not overlap. */
const FULL = { warmUpS: 300, memoryWindowS: 600, latencyWindowS: 300, sampleEveryS: 30, calibrationS: 45 };
export const CRITERIA_MINUTES = (FULL.warmUpS + 2 * FULL.memoryWindowS) / 60;
/** Short runs sample more often, but not so often that sampling becomes load of its own. */
const MIN_SAMPLE_EVERY_S = 5;
const MIN_CALIBRATION_S = 20;

const LOAD_SHARE = 0.6;

export function steadyScenario(options: { engine: 'dev' | 'cluster'; minutes: number }): Scenario {
  const { engine, minutes } = options;
  const scale = Math.min(1, minutes / CRITERIA_MINUTES);
  return {
    name: `steady-${LOAD_SHARE * 100}pct`,
    engine,
    minutes,
    // As the chaos run has them: several of each on a real cluster, one of each on the dev server.
    workers: engine === 'cluster' ? 2 : 1,
    bridges: engine === 'cluster' ? 2 : 1,
    users: 6,
    quantity: { min: 1, max: 10 },
    geminiLatencyMs: { min: 500, max: 3_000 },
    loadShare: LOAD_SHARE,
    // About 1 % 5xx and a few 429s (RetryInfo 1 s); no hangs or safety blocks: a background, not chaos.
    geminiFaults: { gemini5xx: 0.01, gemini429: 0.005, geminiHang: 0, geminiBlock: 0 },
    imagePx: 64,
    windows: {
      scale,
      warmUpS: FULL.warmUpS * scale,
      memoryWindowS: FULL.memoryWindowS * scale,
      latencyWindowS: FULL.latencyWindowS * scale,
      sampleEveryS: Math.max(MIN_SAMPLE_EVERY_S, FULL.sampleEveryS * scale),
      calibrationS: Math.max(MIN_CALIBRATION_S, FULL.calibrationS * scale),
    },
  };
}

/** The mean of a uniform draw of whole numbers from `min` to `max`. */
export function meanQuantity(scenario: Scenario): number {
  return (scenario.quantity.min + scenario.quantity.max) / 2;
}
