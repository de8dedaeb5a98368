/**
 * Thrown by the configuration step (config.ts, temporal-config.ts) and by the start-up checks of Postgres, Redis and
 * Temporal when a setting is wrong: one sentence per problem, naming the variable, never its value. The entry point
 * prints it alone, without a stack.
 */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/**
 * An error's message, or the thing thrown as text. Not `instanceof Error`: errors from Node's own modules may come from
 * another realm (as under Jest).
 */
export function messageOf(error: unknown): string {
  const message = (error as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : String(error);
}

/**
 * Node's code for a TLS peer whose certificate did not verify (an unknown or self-signed CA, an expired or misnamed
 * certificate), or undefined for any other error: shared by the Postgres and Redis start-up checks.
 */
export function untrustedCertificateCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) ? code : undefined;
}
