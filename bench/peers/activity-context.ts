import { asyncLocalStorage, CancelledFailure, Context, type Info } from '@temporalio/activity';
import { noopMetricMeter, type Logger } from '@temporalio/common';

/**
 * Calls one of the product's activity functions as a plain async function, inside the activity context it reads
 * (`Context.current()` for heartbeats, cancellation and metrics; `log`). A BullMQ job has none of Temporal's, so each
 * call gets one made here: heartbeats go nowhere (BullMQ renews its own lock), cancellation is the job's, metrics are
 * dropped. @temporalio/testing's MockActivityEnvironment makes such a context too, but loads @temporalio/worker and
 * its native core for it: 59 MB of resident memory here, which a BullMQ worker would never hold.
 */
export type ActivityCaller = <A extends unknown[], R>(
  call: { attempt: number; signal?: AbortSignal },
  activity: (...args: A) => Promise<R>,
  ...args: A
) => Promise<R>;

const INFO: Info = {
  taskToken: new Uint8Array(),
  base64TaskToken: '',
  activityId: '',
  activityType: '',
  activityNamespace: '', // eslint-disable-line @typescript-eslint/no-deprecated -- still a required field of Info
  attempt: 1,
  isLocal: false,
  scheduledTimestampMs: 0,
  scheduleToCloseTimeoutMs: 0,
  startToCloseTimeoutMs: 0,
  currentAttemptScheduledTimestampMs: 0,
  heartbeatDetails: undefined,
  taskQueue: '',
  namespace: '',
  inWorkflow: false,
};

export function activityCaller(log: Logger): ActivityCaller {
  return async (call, activity, ...args) => {
    const signal = call.signal ?? new AbortController().signal;
    let onAbort = () => undefined as void;
    const cancelled = new Promise<never>((_, reject) => {
      onAbort = () => reject(new CancelledFailure('CANCELLED'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    cancelled.catch(() => undefined); // only an activity that awaits it (a sleep) sees it
    const info = { ...INFO, attempt: call.attempt };
    const context = new Context(info, cancelled, signal, () => undefined, undefined, log, noopMetricMeter, {});
    try {
      return await asyncLocalStorage.run(context, () => activity(...args));
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  };
}
