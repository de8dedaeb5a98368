import { existsSync } from 'node:fs';
import { loadClientConfigProfile, toClientOptions, type ClientConfigProfile } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';
import { messageOf } from './errors';
import { Secret } from './secret';

/**
 * Where Temporal is and how to prove who we are, read the way Temporal's own CLI and SDKs read it: a profile of
 * a TOML file (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE) under the TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_API_KEY and TEMPORAL_TLS_* variables. So one set of settings serves the worker, the bridge, the
 * scripts and the `temporal` CLI alike, for a local server, a self-hosted cluster with mutual TLS, or Temporal
 * Cloud (an API key, or a client certificate).
 */
export interface TemporalSettings {
  address: string;
  namespace: string;
  taskQueue: string;
  /** Whether the connection uses TLS: for log lines, which must never show the options themselves. */
  tls: boolean;
  /** Everything the SDK connects with. Secret: it holds the API key and the client certificate's private key. */
  connection: Secret<Pick<NativeConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'>>;
  apiKey?: Secret;
}

const DEFAULT_ADDRESS = 'localhost:7233';
const DEFAULT_NAMESPACE = 'default';

/** The settings, or the problems with them, one sentence each, naming variables and never printing a value. */
export function loadTemporalSettings(
  env: Record<string, string>,
  taskQueue: string,
): { settings: TemporalSettings; problems?: never } | { settings?: never; problems: string[] } {
  // envconfig reads a missing file as an empty one; a file the operator named must exist.
  if (env.TEMPORAL_CONFIG_FILE && !existsSync(env.TEMPORAL_CONFIG_FILE)) {
    return { problems: ['TEMPORAL_CONFIG_FILE names a file that does not exist'] };
  }
  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({ overrideEnvVars: env });
  } catch (error) {
    return { problems: [`Temporal client config (TEMPORAL_CONFIG_FILE, TEMPORAL_PROFILE): ${messageOf(error)}`] };
  }
  const { clientCert, clientKey } = profile.tls ?? {};
  if (Boolean(clientCert) !== Boolean(clientKey)) {
    const missing = clientCert ? 'key (TEMPORAL_TLS_CLIENT_KEY_PATH)' : 'certificate (TEMPORAL_TLS_CLIENT_CERT_PATH)';
    return { problems: [`Temporal TLS: a client certificate needs both halves; the ${missing} is missing`] };
  }
  let options: ReturnType<typeof toClientOptions>['connectionOptions'];
  try {
    options = toClientOptions(profile).connectionOptions;
  } catch (error) {
    // A certificate or key file that cannot be read: the message names the path, never the content.
    return { problems: [`Temporal TLS: ${messageOf(error)}`] };
  }
  const address = profile.address ?? DEFAULT_ADDRESS;
  return {
    settings: {
      address,
      namespace: profile.namespace ?? DEFAULT_NAMESPACE,
      taskQueue,
      tls: Boolean(options.tls),
      connection: new Secret({ address, tls: options.tls, apiKey: options.apiKey, metadata: options.metadata }),
      apiKey: profile.apiKey ? new Secret(profile.apiKey) : undefined,
    },
  };
}
