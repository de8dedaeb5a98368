/**
 * Gemini takes at most 100 MB of inline data per request (since January 2026; 20 MB before), and base64 makes the
 * source 4/3 larger: the ceiling of MAX_SOURCE_IMAGE_BYTES. It bounds the url mode too, whose fallback sends the
 * source inline.
 */
export const GEMINI_INLINE_SOURCE_LIMIT = Math.floor(((100 * 1024 * 1024 - 64 * 1024) * 3) / 4);

/**
 * MAX_SOURCE_IMAGE_BYTES's default. Sources are 1-2 MB (the domain), and 20 MiB is ten times that: a 48-megapixel
 * phone photo (JPEG or HEIC, 8-15 MB) or a large PNG still fits. What a source costs the worker grows with it: in
 * inline mode every call in flight holds its own request body, the source's base64 twice (the SDK's JSON string and
 * the Buffer sent), so 8 Gemini slots busy on one 20 MB source took the worker to 643 MB, against 216 MB by URL
 * (docs/performance.md). At Gemini's ceiling (75 MiB) it would be some 1.8 GB.
 */
export const DEFAULT_MAX_SOURCE_IMAGE_BYTES = 20 * 1024 * 1024;

/** The length of `bytes` bytes as base64. */
export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}
