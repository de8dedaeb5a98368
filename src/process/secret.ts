/**
 * Holds a credential so that it cannot reach a log line, an error message or a payload by accident:
 * every way of printing it prints `[redacted]`; only `reveal()` hands out the value.
 */
export class Secret<T = string> {
  readonly #value: T;
  constructor(value: T) {
    this.#value = value;
  }
  reveal(): T {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

/** Whatever stands between a URL's `scheme://` and its first `@`: the user name and password, wherever one is. */
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s@]*@/gi;

/**
 * A URL's query and fragment: where a signed URL carries its token, and some APIs take a key. It ends where the URL
 * does, at a space or a quote; punctuation just before one (`…?token=x: 500`) is the text's, not the URL's.
 */
const URL_QUERY = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s?#"'<>]*)[?#][^\s"'<>]*?(?=[.,:;!)\]]*(?:[\s"'<>]|$))/gi;

/** Shorter values would match all over a text (a one-letter key in a test's setup), and hide nothing. */
const MIN_SCRUBBED_LENGTH = 4;

/** `text` with every given secret, and the credentials of any URL in it, replaced by `[redacted]`. */
export function scrubText(text: string, secrets: readonly string[]): string {
  const scrubbed = secrets.reduce(
    (acc, secret) => (secret.length >= MIN_SCRUBBED_LENGTH ? acc.split(secret).join('[redacted]') : acc),
    text,
  );
  return scrubbed.replace(URL_CREDENTIALS, '$1[redacted]@');
}

/** `text` with every URL in it cut to its scheme, host and path: no user name, password, query or fragment. */
export function withoutUrlSecrets(text: string): string {
  return text.replace(URL_CREDENTIALS, '$1[redacted]@').replace(URL_QUERY, '$1');
}

/**
 * A last line of defence: whatever an error says (its message, stack and causes) is scrubbed before it leaves,
 * because Temporal stores an activity's failure in workflow history.
 */
export function scrubSecrets(error: unknown, secrets: readonly string[]): unknown {
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 8; depth++, current = current.cause) {
    current.message = scrubText(current.message, secrets);
    if (current.stack) current.stack = scrubText(current.stack, secrets);
  }
  return error;
}
