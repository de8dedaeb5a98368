import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type LocalDatabase } from '../dev/database';
import { startPageServer, type PageServer } from '../dev/demo/page-server';

/**
 * The demo page server's own checks, on a real server: only its page starts a job (a JSON body from its own origin),
 * and it answers only by this machine's loopback names, so another site the developer visits (or one whose name a DNS
 * rebinding points at 127.0.0.1) can neither spend quota nor read the job rows and the log.
 */

let db: LocalDatabase;
let server: PageServer;
let port: number;
const started: unknown[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  server = await startPageServer({
    ports: [0],
    pool: db.pool,
    latestJobId: () => undefined,
    startJob: async (request) => {
      started.push(request);
      return 'job-1';
    },
    signedUrl: async (objectPath) => `http://storage.example/${objectPath}?token=t`,
    workflowUrl: () => undefined,
    workflowBuild: async () => undefined,
    logFile: path.join(mkdtempSync(path.join(os.tmpdir(), 'demo-log-')), 'demo.log'),
  });
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  await server?.stop();
  await db?.drop();
});
beforeEach(() => {
  started.length = 0;
});

/** A request with the headers a browser would send, Host included (which fetch will not let a caller set). */
function request(
  method: string,
  pathname: string,
  headers: Record<string, string> = {},
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path: pathname, headers: { host: `localhost:${port}`, ...headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const job = JSON.stringify({ quantity: 2, prompt: 'in the rain' });
const json = { 'content-type': 'application/json' };

test("the page's own POST, a JSON body from its origin, starts a job", async () => {
  for (const origin of [`http://localhost:${port}`, `http://127.0.0.1:${port}`]) {
    expect(await request('POST', '/api/jobs', { ...json, origin }, job)).toEqual({
      status: 201,
      body: JSON.stringify({ jobId: 'job-1' }),
    });
  }
  expect(started).toEqual([
    { quantity: 2, prompt: 'in the rain' },
    { quantity: 2, prompt: 'in the rain' },
  ]);
});

const evil = 'http://evil.example';

test.each<[string, Record<string, string>, number]>([
  [
    'a text/plain body, as a form or a fetch without preflight sends',
    { 'content-type': 'text/plain', origin: evil },
    415,
  ],
  ['a form body', { 'content-type': 'application/x-www-form-urlencoded', origin: evil }, 415],
  ['a JSON body from another site', { ...json, origin: evil }, 403],
  ['a JSON body from another port of this machine', { ...json, origin: 'http://localhost:1' }, 403],
  ['a JSON body without an Origin', json, 403],
])('%s starts no job', async (_case, headers, status) => {
  expect((await request('POST', '/api/jobs', headers, job)).status).toBe(status);
  expect(started).toEqual([]);
});

test('a request by another name (a DNS rebinding) is refused, reads and job starts alike', async () => {
  const rebound = { host: `evil.example:${port}` };
  for (const pathname of ['/', '/api/log', '/api/latest-job', '/api/jobs/job-1']) {
    expect(await request('GET', pathname, rebound)).toEqual({
      status: 403,
      body: JSON.stringify({ error: `this server answers at localhost:${port} only, not at evil.example:${port}` }),
    });
  }
  const post = await request('POST', '/api/jobs', { ...rebound, ...json, origin: `http://evil.example:${port}` }, job);
  expect(post.status).toBe(403);
  expect(started).toEqual([]);
  // By its own names, the page is served.
  expect((await request('GET', '/')).status).toBe(200);
  expect((await request('GET', '/api/latest-job', { host: `127.0.0.1:${port}` })).status).toBe(200);
});
