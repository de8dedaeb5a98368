import nodeFetch, { type RequestInit as NodeFetchInit, type Response as NodeFetchResponse } from 'node-fetch';

/*
 * The fetch the Gemini and Storage SDKs send with: node-fetch, over Node's keep-alive agents, in place of Node's
 * built-in (undici) fetch. An image crosses these calls both ways, 16 at a time, and undici's web streams copy every
 * chunk of an answer before joining them, and copy an upload's Buffer whole before sending it; node-fetch joins the
 * socket's chunks once and writes the Buffer as it is. Measured on the bench's fleet (50 jobs of 4 images of
 * 1.5 MB, 16 in flight): 37-45 MB less peak memory in the worker, and no more CPU (docs/performance.md).
 */

/** Redirects followed within one origin before giving up, as a loop would otherwise go on. */
const MAX_REDIRECTS = 5;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * A redirect to another origin, refused: node-fetch would follow it with every header but `Authorization`, and the
 * SDKs' keys travel in others (`apikey`, the service-role key; `x-goog-api-key`).
 */
export class CrossOriginRedirectError extends Error {
  constructor(from: string, to: string) {
    // Origins only: the location's path and query may carry a token.
    super(`refused a redirect from ${from} to another origin (${to}): the request's keys are not sent there`);
    this.name = 'CrossOriginRedirectError';
  }
}

/** True when `error`, or what it wraps (a cause, storage-js's `originalError`), is a refused redirect. */
export function isCrossOriginRedirect(error: unknown): boolean {
  return wrapped(error).some((e) => e instanceof CrossOriginRedirectError);
}

/** The refusal's own message, from wherever it is in `error`'s chain. */
export function redirectMessage(error: unknown): string | undefined {
  return (wrapped(error).find((e) => e instanceof CrossOriginRedirectError) as Error | undefined)?.message;
}

/** True when `error`, or what it wraps, is node-fetch giving up on a body larger than its `size`. */
export function isOverSizeLimit(error: unknown): boolean {
  return wrapped(error).some((e) => (e as { type?: unknown }).type === 'max-size');
}

/**
 * A fetch for an SDK: redirects are followed within the request's origin only (at most 5), and an answer's body is
 * refused once it passes `maxResponseBytes`, when given.
 */
export function createSdkFetch(options: { maxResponseBytes?: number } = {}): typeof fetch {
  const size = options.maxResponseBytes ?? 0; // node-fetch's 0: no limit
  async function sdkFetch(input: string | URL, init: NodeFetchInit = {}): Promise<NodeFetchResponse> {
    let url = new URL(input);
    let request = init;
    for (let redirects = 0; ; redirects++) {
      const response = await nodeFetch(url, { ...request, redirect: 'manual', size });
      const location = response.headers.get('location');
      if (!REDIRECT_STATUSES.has(response.status) || location === null) return response;
      response.body?.resume(); // frees the socket for the next request
      const next = new URL(location, url);
      if (next.origin !== url.origin) throw new CrossOriginRedirectError(url.origin, next.origin);
      if (redirects === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects within ${url.origin}`);
      request = redirected(request, response.status);
      url = next;
    }
  }
  return sdkFetch as unknown as typeof fetch;
}

/** What fetch sends after a redirect: a 303, and a 301 or 302 after a POST, go on as a GET without a body. */
function redirected(request: NodeFetchInit, status: number): NodeFetchInit {
  const method = (request.method ?? 'GET').toUpperCase();
  if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
    return { ...request, method: 'GET', body: undefined };
  }
  const { body } = request;
  if (body && typeof body === 'object' && 'pipe' in body)
    throw new Error('cannot repeat a streamed body after a redirect');
  return request;
}

function wrapped(error: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = error; typeof e === 'object' && e !== null && chain.length < 8;) {
    chain.push(e);
    e = (e as { cause?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return chain;
}

/** For the Storage SDK, whose downloads are capped as they are read (storage.ts). */
export const sdkFetch = createSdkFetch();
