import type { GeminiBehaviour, UrlFetchFaultChooser } from '../dev/stand-ins/gemini';
import type { UploadFaultChooser } from '../dev/stand-ins/storage';

/** A small seeded generator (mulberry32): the same seed gives the same fault plan and the same answer sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Faults of the real cluster's own processes, injected only when the run is on it (`--engine cluster`). */
export type TemporalFault = 'history_sigkill' | 'frontend_sigkill' | 'cluster_restart';
export type ProcessFault = 'worker_sigkill' | 'bridge_sigkill' | 'redis_restart' | 'postgres_restart' | TemporalFault;
export type AnswerFault =
  'gemini_5xx' | 'gemini_429' | 'gemini_hang' | 'gemini_safety_block' | 'gemini_url_unfetchable' | 'storage_5xx';
export type FaultKind = ProcessFault | AnswerFault;

export interface ScheduledFault {
  atMs: number;
  kind: ProcessFault;
}

/** How long the killed bridge stays down, and when, within that, Redis restarts. */
export const BRIDGE_DOWN_MS = 4_000;
const REDIS_RESTART_AFTER_BRIDGE_KILL_MS = 2_000;

/**
 * The process faults at random moments within their windows, in the order they will happen. Redis restarts while
 * the bridge is down (and ids are still being pushed), so the ids pushed meanwhile are lost with it (it keeps no data) and only the sweep can
 * start their jobs: the harshest moment for it, chosen on purpose.
 */
export function planProcessFaults(
  random: () => number,
  counts: Partial<Record<Exclude<ProcessFault, 'bridge_sigkill' | 'redis_restart'>, number>>,
  windowMs: { from: number; to: number },
  bridgeWindowMs: { from: number; to: number },
): ScheduledFault[] {
  const at = (window = windowMs) => Math.round(window.from + random() * (window.to - window.from));
  const plan: ScheduledFault[] = [];
  for (const [kind, count] of Object.entries(counts) as Array<[ProcessFault, number]>) {
    for (let i = 0; i < count; i++) plan.push({ kind, atMs: at() });
  }
  const bridgeKill = at(bridgeWindowMs);
  plan.push({ kind: 'bridge_sigkill', atMs: bridgeKill });
  plan.push({ kind: 'redis_restart', atMs: bridgeKill + REDIS_RESTART_AFTER_BRIDGE_KILL_MS });
  return plan.sort((a, b) => a.atMs - b.atMs);
}

/**
 * The issues' rates: of Gemini calls 20 % 5xx, 10 % 429, 5 % hang, 5 % safety block; of Gemini's fetches of a source
 * URL 10 % failed (checked before the call's own fate, as Gemini fetches first); of uploads 10 % 5xx.
 */
export const RATES = {
  gemini5xx: 0.2,
  gemini429: 0.1,
  geminiHang: 0.05,
  geminiBlock: 0.05,
  geminiUrlUnfetchable: 0.1,
  storage5xx: 0.1,
};

export class FaultLog {
  readonly counts: Partial<Record<FaultKind, number>>;

  /** Every kind of the run starts at 0, so a fault that never happened shows as such. */
  constructor(temporalFaults: readonly TemporalFault[] = []) {
    this.counts = {
      worker_sigkill: 0,
      bridge_sigkill: 0,
      redis_restart: 0,
      postgres_restart: 0,
      ...Object.fromEntries(temporalFaults.map((kind) => [kind, 0])),
      gemini_5xx: 0,
      gemini_429: 0,
      gemini_hang: 0,
      gemini_safety_block: 0,
      gemini_url_unfetchable: 0,
      storage_5xx: 0,
    };
  }

  count(kind: FaultKind): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + 1;
  }

  get total(): number {
    return Object.values(this.counts).reduce((sum, n) => sum + n, 0);
  }
}

/** What share of Gemini calls fails, and how: the chaos run's {@link RATES}, or the soak's small background. */
export type GeminiFaultRates = Pick<typeof RATES, 'gemini5xx' | 'gemini429' | 'geminiHang' | 'geminiBlock'>;

/** Each Gemini call draws its fate; the rest are answered with an image. */
export function geminiFaults(
  random: () => number,
  log: FaultLog,
  rates: GeminiFaultRates = RATES,
): () => GeminiBehaviour {
  return () => {
    const draw = random();
    let edge = rates.gemini5xx;
    if (draw < edge) {
      log.count('gemini_5xx');
      return { kind: 'server-error', status: draw < edge / 2 ? 500 : 503 };
    }
    if (draw < (edge += rates.gemini429)) {
      log.count('gemini_429');
      return { kind: 'rate-limited', retryDelay: '1s' };
    }
    if (draw < (edge += rates.geminiHang)) {
      log.count('gemini_hang');
      return { kind: 'hang' };
    }
    if (draw < (edge += rates.geminiBlock)) {
      log.count('gemini_safety_block');
      return draw < edge - rates.geminiBlock / 2 ? { kind: 'prompt-blocked' } : { kind: 'output-blocked' };
    }
    return { kind: 'image' };
  };
}

/** Each fetch of a source URL by Gemini draws whether it fails, as an expired or unreachable URL does. */
export function urlFetchFaults(random: () => number, log: FaultLog): UrlFetchFaultChooser {
  return () => {
    if (random() >= RATES.geminiUrlUnfetchable) return false;
    log.count('gemini_url_unfetchable');
    return true;
  };
}

export function storageFaults(random: () => number, log: FaultLog): UploadFaultChooser {
  return () => {
    if (random() >= RATES.storage5xx) return undefined;
    log.count('storage_5xx');
    return 503;
  };
}
