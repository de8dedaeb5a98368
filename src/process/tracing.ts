import { trace } from '@opentelemetry/api';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/**
 * What every process needs of tracing, light enough to import anywhere: the handle `startTracing` returns
 * (start-tracing.ts, which loads the OpenTelemetry SDK only when tracing is on), the handle for tracing off, and the
 * job's span. `@opentelemetry/api` does nothing until an SDK registers, so a span started here costs nothing then.
 */

export interface Tracing {
  /** For the worker: the activity and workflow interceptors and the workflow spans' exporter. */
  workerPlugins: OpenTelemetryPlugin[];
  /** For a client that starts workflows: carries the trace into the workflow's headers. */
  clientInterceptors: WorkflowClientInterceptor[];
  /** Sends what is buffered, then stops. */
  shutdown(): Promise<void>;
}

export const TRACING_OFF: Tracing = { workerPlugins: [], clientInterceptors: [], shutdown: async () => undefined };

/** The attribute every span carries. */
export const JOB_ID_ATTRIBUTE = 'job.id';

/** A span around `body`, current while it runs, carrying the job's id; ended however `body` ends. */
export function inJobSpan<T>(name: string, jobId: string, body: () => Promise<T>): Promise<T> {
  return trace
    .getTracer('quel-image-jobs')
    .startActiveSpan(name, { attributes: { [JOB_ID_ATTRIBUTE]: jobId } }, (span) => body().finally(() => span.end()));
}
