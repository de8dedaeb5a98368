import type { Logger } from '../process/logger';
import type { JobStarter, StartResult } from './job-starter';
import type { JobQueue } from './queue';
import { parseQueueElement, type JobIdFormat } from './queue-element';
import { messageOf } from '../process/errors';
import { retryUntilStopped } from './retry';

export interface BridgeOptions {
  queue: JobQueue;
  startJob: JobStarter;
  log: Logger;
  jobIdFormat: JobIdFormat;
  /** Elements in hand at once: taken from Redis and not yet handed over. */
  concurrency: number;
  /**
   * After `stop()`, how long the starts in flight may take to finish. Whatever still waits on Redis or Temporal
   * then is left as it is: its element stays in the processing list, and the next start re-drives it.
   */
  stopGraceMs: number;
}

/** How long one BLMOVE waits before the loop looks at whether it should stop. */
const TAKE_TIMEOUT_SECONDS = 1;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 30_000;

/**
 * Turns each queue element into exactly one `imageJob` workflow: take (atomically into the processing list),
 * start, then acknowledge. Bad elements go to the dead-letter list; an outage of Redis or Temporal is waited
 * out with capped backoff while the element stays in hand (and in the processing list).
 */
export function createBridge(options: BridgeOptions) {
  const { queue, startJob, log } = options;
  const stopped = new AbortController();
  const inFlight = new Set<Promise<void>>();
  // Elements being handled, counted, so a re-drive of the processing list skips what is already in hand.
  const inHand = new Map<string, number>();
  // The main loop and a re-drive may both wait for a slot.
  let slotWaiters: Array<() => void> = [];
  const slotFreed = () => {
    const waiters = slotWaiters;
    slotWaiters = [];
    for (const wake of waiters) wake();
  };

  const isStopping = () => stopped.signal.aborted;
  const abandoned = Promise.withResolvers<void>();

  /** Repeats `step` with capped backoff until it succeeds; undefined once the bridge is stopping. */
  function persist<T>(what: string, fields: object, step: () => Promise<T>): Promise<T | undefined> {
    return retryUntilStopped(step, {
      signal: stopped.signal,
      firstDelayMs: RETRY_FIRST_MS,
      maxDelayMs: RETRY_MAX_MS,
      onFailure: (error, attempt, delayMs) =>
        log.warn({ ...fields, attempt, delayMs, err: messageOf(error) }, `${what} failed; retrying`),
    });
  }

  async function handle(element: string): Promise<void> {
    const parsed = parseQueueElement(element, options.jobIdFormat);
    if (!parsed.ok) {
      const done = await persist('dead-lettering', { reason: parsed.reason }, async () => {
        await queue.deadLetter(element, parsed.reason);
        return true;
      });
      if (done) log.warn({ element: preview(element), reason: parsed.reason }, 'queue element dead-lettered');
      return;
    }
    const { jobId } = parsed;
    const started = await persist('starting the workflow', { jobId }, () => startJob(jobId));
    // Stopped before Temporal took it: it stays in the processing list for the next start of this bridge.
    if (!started) return;
    logOutcome(jobId, started);
    await persist('acknowledging', { jobId }, () => queue.acknowledge(element));
  }

  function logOutcome(jobId: string, result: StartResult): void {
    const fields = { jobId, workflowId: result.workflowId, runId: result.runId };
    if (result.outcome === 'started') log.info(fields, 'job workflow started');
    else if (result.outcome === 'already-running') log.info(fields, 'job workflow already running; nothing started');
    else log.info(fields, 'job workflow already finished; not run again');
  }

  function track(element: string): void {
    inHand.set(element, (inHand.get(element) ?? 0) + 1);
    const work = handle(element)
      .catch((error: unknown) =>
        log.error({ element: preview(element), err: messageOf(error) }, 'queue element not handled'),
      )
      .finally(() => {
        const left = (inHand.get(element) ?? 1) - 1;
        if (left === 0) inHand.delete(element);
        else inHand.set(element, left);
        inFlight.delete(work);
        slotFreed();
      });
    inFlight.add(work);
  }

  async function freeSlot(): Promise<void> {
    while (inFlight.size >= options.concurrency && !isStopping()) {
      await new Promise<void>((resolve) => slotWaiters.push(resolve));
    }
  }

  /** Hands over whatever the processing list holds beyond what is already in hand. */
  async function redrive(): Promise<void> {
    const held = await persist('reading the processing list', {}, () => queue.inProcessing());
    const seen = new Map<string, number>();
    for (const element of held ?? []) {
      seen.set(element, (seen.get(element) ?? 0) + 1);
      if (seen.get(element)! <= (inHand.get(element) ?? 0)) continue;
      await freeSlot();
      if (isStopping()) return;
      log.info({ element: preview(element) }, 're-driving an element from the processing list');
      track(element);
    }
  }

  return {
    /** Runs until `stop()`; resolves once every element in hand has been handed over or left in Redis. */
    async run(): Promise<void> {
      queue.watch({
        reconnected: () => {
          log.info('redis reconnected; re-driving the processing list');
          void redrive();
        },
        error: (error) => log.warn({ err: messageOf(error) }, 'redis connection error'),
      });
      const work = async () => {
        await redrive();
        while (!isStopping()) {
          await freeSlot();
          if (isStopping()) break;
          const element = await persist('taking from the queue', {}, () => queue.take(TAKE_TIMEOUT_SECONDS));
          if (element !== null && element !== undefined) track(element); // "" is an element too: it is dead-lettered
        }
        await Promise.allSettled([...inFlight]);
      };
      await Promise.race([work(), abandoned.promise]);
    },

    /** Stops taking; starts in flight finish, everything not yet taken stays in Redis. */
    stop(): void {
      if (isStopping()) return;
      stopped.abort();
      queue.stopTaking();
      slotFreed();
      setTimeout(() => {
        if (inFlight.size > 0) {
          log.warn({ inHand: inFlight.size }, 'stop grace over; what is in hand stays in the processing list');
        }
        abandoned.resolve();
      }, options.stopGraceMs).unref();
    },
  };
}

/** Enough of a bad element to recognise it in a log line, not 10 KB of it. */
function preview(element: string): string {
  return element.length > 120 ? `${element.slice(0, 120)}… (${element.length} characters)` : element;
}
