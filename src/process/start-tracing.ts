import { TRACING_OFF, type Tracing } from './tracing';

/**
 * Tracing with OpenTelemetry, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the bridge's start of a job, the
 * workflow and its activities (Temporal's interceptors carry the context across processes in headers), and the
 * Gemini and Storage HTTP calls (both SDKs send with node-fetch, which the http instrumentation sees). Spans go out
 * over OTLP/HTTP, each with the job's id, and with no URL query (where a signed URL's token or a key could sit).
 */

export interface TracingSettings {
  /** The collector's base URL; traces go to `<endpoint>/v1/traces`. Unset: tracing is off. */
  otlpEndpoint?: string;
}

/**
 * Starts the OpenTelemetry Node SDK for this process (once), or nothing when no endpoint is configured. The SDK
 * (tracing-sdk.ts) is loaded only then: loaded, it holds some 13 MB of an idle worker's memory.
 */
export function startTracing(settings: TracingSettings, serviceName: string): Tracing {
  if (!settings.otlpEndpoint) return TRACING_OFF;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded on demand, see above
  const { startTracingSdk } = require('./tracing-sdk') as typeof import('./tracing-sdk');
  return startTracingSdk(settings.otlpEndpoint, serviceName);
}
