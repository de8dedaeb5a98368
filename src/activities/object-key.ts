/** S3's limit on a key, which Supabase Storage keeps. */
export const MAX_OBJECT_KEY_BYTES = 1024;

/**
 * Why `path` is not a plain key inside the bucket, or undefined when it is. storage-js puts a path into the request
 * URL as it is, and the URL parser then resolves `.` and `..` segments and reads `\` as `/`, `?` and `#` start a
 * query or a fragment, and the server decodes `%` into any of those: such a path could reach another bucket or route
 * with the service-role key, so none of them is ever sent.
 */
export function objectKeyProblem(path: string): string | undefined {
  if (path.length === 0) return 'is empty';
  if (Buffer.byteLength(path) > MAX_OBJECT_KEY_BYTES) return `is longer than ${MAX_OBJECT_KEY_BYTES} bytes`;
  if (/\p{Cc}/u.test(path)) return 'holds a control character';
  const character = /[?#%\\]/.exec(path)?.[0];
  if (character) return `holds ${character}`;
  if (path.startsWith('/')) return 'starts with /';
  const segments = path.split('/');
  if (segments.some((segment) => segment === '.' || segment === '..')) return 'has a . or .. segment';
  if (segments.some((segment) => segment === '')) return 'has an empty segment';
  return undefined;
}

/** A path as an error message may quote it: escaped, and cut short. */
export function quotedKey(path: string): string {
  return JSON.stringify(path.length > 120 ? `${path.slice(0, 120)}…` : path);
}
