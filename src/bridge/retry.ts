import { setTimeout as sleep } from 'node:timers/promises';

export interface RetryOptions {
  /** Retrying ends, without a result, once this aborts; a pending wait ends at once. */
  signal: AbortSignal;
  firstDelayMs: number;
  maxDelayMs: number;
  onFailure: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `step` until it succeeds, waiting twice as long after each failure up to a cap: never a busy loop.
 * The first attempt is always made, so work already in hand when stopping still gets its one try.
 */
export async function retryUntilStopped<T>(step: () => Promise<T>, options: RetryOptions): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      if (options.signal.aborted) break;
      const delayMs = Math.min(options.firstDelayMs * 2 ** (attempt - 1), options.maxDelayMs);
      options.onFailure(error, attempt, delayMs);
      await sleep(delayMs, undefined, { signal: options.signal }).catch(() => undefined);
      if (options.signal.aborted) break;
    }
  }
  return undefined;
}
