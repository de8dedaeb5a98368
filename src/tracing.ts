import { trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { Resource } from '@opentelemetry/resources';
import { NodeSDK } from '@opentelemetry/sdk-node';
import {
  BatchSpanProcessor,
  type ReadableSpan,
  type Span as SdkSpan,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { OpenTelemetryPlugin, OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import type { WorkflowClientInterceptor } from '@temporalio/client';
import { jobIdOfWorkflowId } from './contract';

/**
 * Tracing with OpenTelemetry, on only when OTEL_EXPORTER_OTLP_ENDPOINT is set: the bridge's start of a job, the
 * workflow and its activities (Temporal's interceptors carry the context across processes in headers), and the
 * Gemini and Storage HTTP calls (both SDKs use fetch, which the undici instrumentation sees). Spans go out over
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
const JOB_ID_ATTRIBUTE = 'job.id';
const WORKFLOW_ID_ATTRIBUTES = ['temporalWorkflowId', 'workflowId'];

/** Starts the OpenTelemetry Node SDK for this process (once), or nothing when no endpoint is configured. */
export function startTracing(settings: TracingSettings, serviceName: string): Tracing {
  if (!settings.otlpEndpoint) return TRACING_OFF;
  const resource = new Resource({ 'service.name': serviceName });
  const exporter = new OTLPTraceExporter({ url: `${settings.otlpEndpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new JobSpanProcessor(new BatchSpanProcessor(exporter));
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [spanProcessor],
    instrumentations: [new UndiciInstrumentation()],
  });
  sdk.start();
  return {
    workerPlugins: [new OpenTelemetryPlugin({ resource, spanProcessor })],
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    shutdown: () => sdk.shutdown(),
  };
}

/** A span around `body`, current while it runs, carrying the job's id; ended however `body` ends. */
export function inJobSpan<T>(name: string, jobId: string, body: () => Promise<T>): Promise<T> {
  return trace
    .getTracer('quel-image-jobs')
    .startActiveSpan(name, { attributes: { [JOB_ID_ATTRIBUTE]: jobId } }, (span) => body().finally(() => span.end()));
}

/**
 * Puts the job's id on every span: from the span's own workflow id (workflow and activity spans), or from its
 * parent in this process (the HTTP calls inside an activity, the start inside the bridge's span); and takes the
 * query off every URL.
 */
class JobSpanProcessor implements SpanProcessor {
  constructor(private readonly next: SpanProcessor) {}

  onStart(span: SdkSpan, parentContext: Context): void {
    const parent = trace.getSpan(parentContext) as (Span & { attributes?: Attributes }) | undefined;
    const jobId = parent?.attributes && jobIdOf(parent.attributes);
    if (jobId) span.setAttribute(JOB_ID_ATTRIBUTE, jobId);
    this.next.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    const attributes: Attributes = { ...span.attributes };
    const jobId = jobIdOf(attributes);
    if (jobId) attributes[JOB_ID_ATTRIBUTE] = jobId;
    for (const key of ['url.full', 'http.url']) {
      const value = attributes[key];
      if (typeof value === 'string') attributes[key] = value.replace(/[?#].*$/, '');
    }
    if (attributes['url.query']) attributes['url.query'] = '[removed]';
    // The span as it ended, with these attributes instead of its own.
    this.next.onEnd(Object.create(span, { attributes: { value: attributes } }) as ReadableSpan);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

function jobIdOf(attributes: Attributes): string | undefined {
  const own = attributes[JOB_ID_ATTRIBUTE];
  if (typeof own === 'string') return own;
  for (const key of WORKFLOW_ID_ATTRIBUTES) {
    const jobId = jobIdOfWorkflowId(String(attributes[key] ?? ''));
    if (jobId) return jobId;
  }
  return undefined;
}
