import { Client, Connection, type WorkflowClientInterceptor } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import { ConfigError, messageOf } from './errors';
import { SEARCH_ATTRIBUTES } from '../contract';
import type { TemporalSettings } from './temporal-config';

/** The one module that knows how to reach Temporal. */

export type { TemporalSettings };

/**
 * The worker's connection. A refusal that waiting cannot cure (TLS set up wrongly, credentials refused) ends the
 * start with a sentence that names the setting to fix, instead of the transport's own words.
 */
export async function connectWorkerConnection(settings: TemporalSettings): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(settings.connection.reveal());
  } catch (error) {
    throw explainTemporalRefusal(error, settings) ?? error;
  }
}

/**
 * Connects on first use, so a process can start while Temporal is down and wait it out in its own retries.
 * `interceptors`: the tracing's, which carry a trace into the workflows it starts.
 */
export function lazyClient(settings: TemporalSettings, interceptors: WorkflowClientInterceptor[] = []): Client {
  return new Client({
    connection: Connection.lazy(settings.connection.reveal()),
    namespace: settings.namespace,
    interceptors: { workflow: interceptors },
  });
}

/**
 * For a process that connects lazily (the bridge): one connection attempt at start, so that TLS or credentials
 * set up wrongly stop it at once with a clear message. A server that is merely down, or slow to answer, is not an
 * error here: the answer is then why the check could not tell (for the process to log), undefined when it connected.
 */
export async function checkTemporalCredentials(
  settings: TemporalSettings,
  timeoutMs = 10_000,
): Promise<string | undefined> {
  const attempt = NativeConnection.connect(settings.connection.reveal());
  // An address that swallows packets would hold the start up; the bridge's own retries wait that out instead.
  const timedOut = new Promise<'timeout'>((resolve) => setTimeout(resolve, timeoutMs, 'timeout').unref());
  let outcome: NativeConnection | 'timeout';
  try {
    outcome = await Promise.race([attempt, timedOut]);
  } catch (error) {
    const refusal = explainTemporalRefusal(error, settings);
    if (refusal) throw refusal;
    return messageOf(error);
  }
  if (outcome === 'timeout') {
    void attempt.then((late) => late.close()).catch(() => undefined);
    return `no answer within ${timeoutMs / 1000} s`;
  }
  await outcome.close();
  return undefined;
}

/**
 * What each TLS or authentication refusal means for the settings, by the words Temporal's core (rustls, tonic)
 * reports it in; undefined for anything else, such as a server that is not up yet.
 */
export function explainTemporalRefusal(error: unknown, settings: TemporalSettings): ConfigError | undefined {
  const text = error instanceof Error ? error.message : String(error);
  const at = `Temporal at ${settings.address}`;
  const { tls } = settings.connection.reveal();
  const hasClientCertificate = typeof tls === 'object' && tls?.clientCertPair !== undefined;
  // A server that wants a client certificate and gets none sends an alert and hangs up, and the client sees either;
  // a hang-up reads as `broken pipe`, `connection closed`, `Kind(ConnectionReset)` or, when it came before the
  // connection was handed its first request, `connection was not ready`: whichever the race gave.
  const hungUp = /broken pipe|connection ?closed|connection ?reset|connection was not ready/i;
  const reasons: [boolean, RegExp, string][] = [
    [
      settings.tls && !hasClientCertificate,
      new RegExp(`CertificateRequired|${hungUp.source}`, 'i'),
      `${at} requires a client certificate: set TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH`,
    ],
    [
      settings.tls,
      /fatal alert: (BadCertificate|UnknownCA|CertificateUnknown|AccessDenied)/,
      `${at} refused our client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH): it is not signed by a CA the server trusts`,
    ],
    [
      settings.tls,
      /UnknownIssuer|BadSignature|InvalidCertificate\(Expired/,
      `${at} shows a certificate we do not trust: set TEMPORAL_TLS_SERVER_CA_CERT_PATH to the CA that signed it`,
    ],
    [
      settings.tls,
      /NotValidForName/,
      `${at} shows a certificate for another name: set TEMPORAL_TLS_SERVER_NAME to the name on it`,
    ],
    [
      settings.tls,
      /InvalidContentType|CorruptMessage|wrong version/,
      `${at} does not speak TLS: unset TEMPORAL_TLS and the TLS settings, or check the port`,
    ],
    [!settings.tls, hungUp, `${at} closed the connection during set-up; if it requires TLS, set TEMPORAL_TLS=true`],
    [true, /Unauthenticated|PermissionDenied|[Uu]nauthorized/, `${at} refused our credentials (TEMPORAL_API_KEY)`],
  ];
  const reason = reasons.find(([applies, pattern]) => applies && pattern.test(text));
  return reason && new ConfigError([reason[2]]);
}

/**
 * Registers the product's search attributes on a namespace (`npm run search-attributes`, and the demo).
 * Those already there are left alone, so it can run on every start.
 */
export async function registerSearchAttributes(client: Client, namespace: string): Promise<string[]> {
  const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTES.filter((key) => !customAttributes?.[key.name]);
  if (missing.length > 0) {
    await client.connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(
        missing.map((key) => [key.name, temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD]),
      ),
    });
  }
  return missing.map((key) => key.name);
}

/** What the server held before {@link holdFairnessKeyRateLimit} brought it to the configured value. */
export type RateLimitChange = 'unchanged' | 'set' | 'removed';

/**
 * Brings an activity task queue's rate limit per fairness key (Temporal's per-user limit, since our fairness key is
 * the user) to `requestsPerSecond`, or removes it when undefined, so that the worker's configuration is what the
 * fleet runs by, as the queue-wide limit is. Read first, so an unchanged setting costs no write.
 *
 * A server that cannot hold one (older than 1.29, or an API key without the permission) stops the start when a limit
 * is asked for; when none is, there is nothing to remove and nothing to report.
 */
export async function holdFairnessKeyRateLimit(
  connection: NativeConnection,
  target: { namespace: string; taskQueue: string; variable: string },
  requestsPerSecond: number | undefined,
): Promise<RateLimitChange> {
  const taskQueueType = temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY;
  const { namespace, taskQueue } = target;
  try {
    const { config } = await connection.workflowService.describeTaskQueue({
      namespace,
      taskQueue: { name: taskQueue },
      taskQueueType,
      reportConfig: true,
    });
    const current = config?.fairnessKeysRateLimitDefault?.rateLimit?.requestsPerSecond ?? undefined;
    // The server keeps a float32: equal within its precision.
    if (
      current === requestsPerSecond ||
      (current && requestsPerSecond && Math.abs(current / requestsPerSecond - 1) < 1e-6)
    )
      return 'unchanged';
    await connection.workflowService.updateTaskQueueConfig({
      namespace,
      identity: `${target.variable} of a worker`,
      taskQueue,
      taskQueueType,
      updateFairnessKeyRateLimitDefault: {
        rateLimit: requestsPerSecond === undefined ? null : { requestsPerSecond },
        reason: `${target.variable} of the worker's configuration`,
      },
    });
    return requestsPerSecond === undefined ? 'removed' : 'set';
  } catch (error) {
    if (requestsPerSecond === undefined) return 'unchanged';
    throw new ConfigError([
      `${target.variable}: Temporal could not set the per-user rate limit of ${taskQueue} in ${namespace} ` +
        `(${messageOf(error)}); it needs a server of 1.29 or later with fairness switched on`,
    ]);
  }
}
