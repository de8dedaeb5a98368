/**
 * Node's code for a TLS peer whose certificate did not verify (an unknown or self-signed CA, an expired or misnamed
 * certificate), or undefined for any other error: shared by the Postgres and Redis start-up checks.
 */
export function untrustedCertificateCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code) ? code : undefined;
}
