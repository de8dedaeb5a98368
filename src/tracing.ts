import { trace } from '@opentelemetry/api';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import type { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';

/**
 * Tracing with OpenTelemetry, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the bridge's start of a job, the
 * workflow and its activities (Temporal's interceptors carry the context across processes in headers), and the
 * Gemini and Storage HTTP calls (both SDKs send with node-fetch, which the http instrumentation sees). Spans go out over
 * OTLP/HTTP, each with the job's id, and with no URL query (where a signed URL's token or a key could sit).
 */

export interface TracingSettings {
  /** The collector's base URL; traces go to `<endpoint>/v1/traces`. Unset: tracing is off. */
  otlpEndpoint?: string;
}

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

/**
 * Starts the OpenTelemetry Node SDK for this process (once), or nothing when no endpoint is configured. The SDK is
 * loaded only then: loaded, it holds some 13 MB of an idle worker's memory.
 */
export function startTracing(settings: TracingSettings, serviceName: string): Tracing {
  if (!settings.otlpEndpoint) return TRACING_OFF;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  const { startTracingSdk } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  return startTracingSdk(settings.otlpEndpoint, serviceName);
}

/** A span around `body`, current while it runs, carrying the job's id; ended however `body` ends. */
export function inJobSpan<T>(name: string, jobId: string, body: () => Promise<T>): Promise<T> {
  return trace
    .getTracer('quel-image-jobs')
    .startActiveSpan(name, { attributes: { [JOB_ID_ATTRIBUTE]: jobId } }, (span) => body().finally(() => span.end()));
}
