import { trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
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
import { jobIdOfWorkflowId } from '../contract';
import { withoutUrlSecrets } from './secret';
import { JOB_ID_ATTRIBUTE, type Tracing } from './tracing';

/** Where a workflow or activity span names its workflow, whose id holds the job's. */
const WORKFLOW_ID_ATTRIBUTES = ['temporalWorkflowId', 'workflowId'];
/** Attributes holding a request's path with its query: no scheme, so not a URL to find in a text. */
const TARGET_ATTRIBUTES = new Set(['http.target']);

/** The OpenTelemetry Node SDK for this process, exporting to `otlpEndpoint` (see start-tracing.ts). */
export function startTracingSdk(otlpEndpoint: string, serviceName: string): Tracing {
  const resource = new Resource({ 'service.name': serviceName });
  const exporter = new OTLPTraceExporter({ url: `${otlpEndpoint.replace(/\/+$/, '')}/v1/traces` });
  const spanProcessor = new JobSpanProcessor(new BatchSpanProcessor(exporter));
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [spanProcessor],
    // The SDKs' calls go through node-fetch (node:http, see activities/sdk-fetch.ts); anything else on fetch, undici.
    instrumentations: [
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true }),
      new UndiciInstrumentation(),
    ],
  });
  sdk.start();
  // The http instrumentation patches node:http and node:https as they are next required; the SDKs' fetch loaded
  // them before tracing started, and calls them through the modules' own objects, which this patches in place.
  /* eslint-disable @typescript-eslint/no-require-imports -- see above */
  require('http');
  require('https');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return {
    workerPlugins: [new OpenTelemetryPlugin({ resource, spanProcessor })],
    clientInterceptors: [new OpenTelemetryWorkflowClientInterceptor()],
    shutdown: () => sdk.shutdown(),
  };
}

/**
 * Puts the job's id on every span: from the span's own workflow id (workflow and activity spans), or from its
 * parent in this process (the HTTP calls inside an activity, the start inside the bridge's span). Takes the query
 * off every URL, in the attributes and in any text the span carries (its status, an exception's message and stack):
 * a signed URL's token or a key may sit there, and a failed fetch's message quotes its URL whole.
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
    const attributes = scrubbed(span.attributes);
    const jobId = jobIdOf(attributes);
    if (jobId) attributes[JOB_ID_ATTRIBUTE] = jobId;
    if (attributes['url.query']) attributes['url.query'] = '[removed]';
    const { message } = span.status;
    // The span as it ended, with these instead of its own.
    const ended = Object.create(span, {
      attributes: { value: attributes },
      status: { value: message === undefined ? span.status : { ...span.status, message: withoutUrlSecrets(message) } },
      events: {
        value: span.events.map((event) => ({ ...event, attributes: event.attributes && scrubbed(event.attributes) })),
      },
    }) as ReadableSpan;
    this.next.onEnd(ended);
  }

  forceFlush(): Promise<void> {
    return this.next.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.next.shutdown();
  }
}

/** A copy of `attributes` in which no URL (whole, or in a text) has a query, credentials or fragment. */
function scrubbed(attributes: Attributes): Attributes {
  const scrub = (key: string, text: string) =>
    TARGET_ATTRIBUTES.has(key) ? text.replace(/[?#].*$/, '') : withoutUrlSecrets(text);
  return Object.fromEntries(
    Object.entries(attributes).map(([key, value]) => [key, typeof value === 'string' ? scrub(key, value) : value]),
  );
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
