/**
 * A last line of defence: whatever an error says (its message, stack and causes) is scrubbed of every
 * configured secret before it leaves the activity, because Temporal stores failures in workflow history.
 */
export function scrubSecrets(error: unknown, secrets: readonly string[]): unknown {
  if (!(error instanceof Error) || secrets.length === 0) return error;
  const scrub = (text: string) => secrets.reduce((acc, secret) => acc.split(secret).join('[redacted]'), text);
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++, current = current.cause) {
    current.message = scrub(current.message);
    if (current.stack) current.stack = scrub(current.stack);
  }
  return error;
}
