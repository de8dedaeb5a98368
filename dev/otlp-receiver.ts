import http from 'node:http';

/**
 * A local OTLP/HTTP trace receiver: what a collector would be, for the tests and the bench. It takes `POST /v1/traces` in OTLP's
 * JSON encoding (what @opentelemetry/exporter-trace-otlp-http sends) and keeps each span, flattened, and every
 * body as it came.
 */

export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  attributes: Record<string, unknown>;
  /** Set on a span that ended in error: what went wrong, in words. */
  statusMessage: string;
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
}

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpValue;
}
interface OtlpTraces {
  resourceSpans?: Array<{
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: Array<{
      spans?: Array<{
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        attributes?: OtlpKeyValue[];
        status?: { message?: string };
        events?: Array<{ name: string; attributes?: OtlpKeyValue[] }>;
      }>;
    }>;
  }>;
}

export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  readonly bodies: string[] = [];

  private constructor(
    private readonly server: http.Server,
    /** What OTEL_EXPORTER_OTLP_ENDPOINT is set to. */
    readonly endpoint: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const receiver = new OtlpReceiver(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/traces' || !req.headers['content-type']?.includes('json')) {
          res.writeHead(415).end();
          return;
        }
        receiver.bodies.push(body);
        receiver.take(JSON.parse(body) as OtlpTraces);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    return receiver;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private take(traces: OtlpTraces): void {
    for (const resourceSpans of traces.resourceSpans ?? []) {
      const service = String(flatten(resourceSpans.resource?.attributes)['service.name'] ?? '');
      for (const scope of resourceSpans.scopeSpans ?? []) {
        for (const span of scope.spans ?? []) {
          this.spans.push({
            service,
            traceId: span.traceId,
            spanId: span.spanId,
            parentSpanId: span.parentSpanId ?? '',
            name: span.name,
            attributes: flatten(span.attributes),
            statusMessage: span.status?.message ?? '',
            events: (span.events ?? []).map((event) => ({ name: event.name, attributes: flatten(event.attributes) })),
          });
        }
      }
    }
  }
}

function flatten(attributes: OtlpKeyValue[] = []): Record<string, unknown> {
  return Object.fromEntries(attributes.map(({ key, value }) => [key, valueOf(value)]));
}

function valueOf(value: OtlpValue = {}): unknown {
  if (value.arrayValue) return (value.arrayValue.values ?? []).map(valueOf);
  if (value.kvlistValue) return flatten(value.kvlistValue.values);
  return value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue;
}
