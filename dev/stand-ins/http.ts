import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type RequestHandler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

/** Listens on a loopback port (any free one by default) and resolves with the base URL (no trailing slash). */
export async function listenOnLoopback(server: http.Server, wantedPort = 0): Promise<string> {
  // Gemini requests with a 2 MB image can take a while on a loaded machine; never cut them off.
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(wantedPort, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

/** Routes requests to `handler`, answering a failure of the stand-in itself with a 500. */
export function serve(server: http.Server, handler: RequestHandler): void {
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler(req, res).catch((error: unknown) => answerUnexpectedError(res, error));
  });
}

/** Closes the server and every open socket, including ones held by hanging requests. */
export async function closeServer(server: http.Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}

/** Reads the whole request body; rejects when the client goes away before it is complete. */
export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
    req.on('close', () => {
      if (!req.complete) reject(new ClientGoneError());
    });
  });
}

export class ClientGoneError extends Error {
  constructor() {
    super('client disconnected before the request was complete');
    this.name = 'ClientGoneError';
  }
}

/**
 * Waits `ms` unless the client disconnects first.
 * Resolves false when the client is gone, so callers can skip answering.
 */
export function waitUnlessClientGone(res: http.ServerResponse, ms: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(true);
    }, ms);
    res.once('close', onClose);
  });
}

export function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': payload.length });
  res.end(payload);
}

/** Answers a bug in a stand-in with a 500 instead of leaving the client hanging. */
function answerUnexpectedError(res: http.ServerResponse, error: unknown): void {
  if (error instanceof ClientGoneError || res.destroyed) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, 500, { message: `stand-in failed: ${error instanceof Error ? error.message : String(error)}` });
}
