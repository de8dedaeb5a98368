import nodeFetch from 'node-fetch';

/**
 * The fetch the Gemini and Storage SDKs send with: node-fetch, over Node's keep-alive agents, in place of Node's
 * built-in (undici) fetch. An image crosses these calls both ways, 16 at a time, and undici's web streams copy every
 * chunk of an answer before joining them, and copy an upload's Buffer whole before sending it; node-fetch joins the
 * socket's chunks once and writes the Buffer as it is. Measured on the bench's fleet (50 jobs of 4 images of
 * 1.5 MB, 16 in flight): 37-45 MB less peak memory in the worker, and no more CPU (docs/performance.md).
 */
export const sdkFetch = nodeFetch as unknown as typeof fetch;
