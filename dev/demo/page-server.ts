import { open, readFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { Pool } from 'pg';

/**
 * The demo page's own small server: the page and the few reads the front end makes, so the browser never holds
 * the database URL or the service key. It reads the job row as the front end polls it and sends each attachment
 * to a signed Storage URL it makes, valid a few minutes, so the images show from a private bucket too.
 */

export interface PageServerOptions {
  /** Tried in order; 0 is any free port. */
  ports: number[];
  pool: Pool;
  /** The newest job the demo started; the page shows it when no `?job=` is given. */
  latestJobId(): string | undefined;
  /** Creates a job as the front end does (rows, then a push onto Redis) and returns its id. */
  startJob(request: { quantity: unknown; prompt: unknown }): Promise<string>;
  /** A short-lived URL of an object in the bucket, undefined when it is not there. */
  signedUrl(objectPath: string): Promise<string | undefined>;
  workflowUrl(jobId: string): string | undefined;
  /**
   * The worker build the job's workflow runs (or ran) on, as Temporal describes it; `buildId` undefined for an
   * unversioned worker, the whole undefined before the workflow exists.
   */
  workflowBuild(jobId: string): Promise<{ buildId?: string; behavior?: string } | undefined>;
  /** The demo's log file, whose tail the page shows. */
  logFile: string;
}

export interface PageServer {
  url: string;
  stop(): Promise<void>;
}

const PAGE_DIR = path.join(__dirname, 'page');
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/page.js': { file: 'page.js', type: 'text/javascript; charset=utf-8' },
  '/page.css': { file: 'page.css', type: 'text/css; charset=utf-8' },
};
const JOB_ROUTE = /^\/api\/jobs\/([0-9A-Za-z_-]{1,128})$/;
const ATTACHMENT_ROUTE = /^\/attachments\/(\d{1,12})$/;
const LOG_TAIL_BYTES = 16_384;

export async function startPageServer(options: PageServerOptions): Promise<PageServer> {
  const server = http.createServer((req, res) => {
    const port = (server.address() as { port: number }).port;
    const refusal = refusalOf(req, port);
    if (refusal) return send(res, refusal);
    route(options, req).then(
      (answer) => send(res, answer),
      (error: Error) => send(res, { status: 500, json: { error: error.message } }),
    );
  });
  for (const [index, port] of options.ports.entries()) {
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, '127.0.0.1', resolve);
      });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || index === options.ports.length - 1) throw error;
    }
  }
  return {
    url: `http://localhost:${(server.address() as { port: number }).port}`,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

interface Answer {
  status: number;
  json?: unknown;
  body?: Buffer | string;
  type?: string;
  location?: string;
}

/**
 * What the page server refuses before routing. It answers only by the names of this machine's loopback (a page of
 * another site whose name a DNS rebinding points here sends its own name as Host), and creates a job, which spends
 * real quota when `.env` holds a key, only for this page: a JSON body (another site's form or a `text/plain` fetch
 * needs no preflight, a JSON one does) from this page's origin.
 */
function refusalOf(req: http.IncomingMessage, port: number): Answer | undefined {
  const origins = [`http://localhost:${port}`, `http://127.0.0.1:${port}`];
  const host = req.headers.host ?? '';
  if (!origins.some((origin) => origin === `http://${host}`)) {
    return { status: 403, json: { error: `this server answers at localhost:${port} only, not at ${host}` } };
  }
  if (req.method !== 'POST') return undefined;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') return { status: 415, json: { error: 'the body must be application/json' } };
  if (!origins.includes(req.headers.origin ?? '')) {
    return { status: 403, json: { error: 'a job is started only from this page' } };
  }
  return undefined;
}

async function route(options: PageServerOptions, req: http.IncomingMessage): Promise<Answer> {
  const { pathname } = new URL(req.url ?? '/', 'http://localhost');
  const page = STATIC[pathname];
  if (req.method === 'GET' && page) {
    return { status: 200, body: await readFile(path.join(PAGE_DIR, page.file)), type: page.type };
  }
  if (req.method === 'GET' && pathname === '/api/latest-job')
    return { status: 200, json: { jobId: options.latestJobId() ?? null } };
  if (req.method === 'GET' && pathname === '/api/log') {
    return { status: 200, body: await logTail(options.logFile), type: 'text/plain; charset=utf-8' };
  }
  if (req.method === 'POST' && pathname === '/api/jobs') {
    const request = parseJsonObject(await readBody(req));
    if (!request) return { status: 400, json: { error: 'the body must be a JSON object with quantity and prompt' } };
    return {
      status: 201,
      json: { jobId: await options.startJob({ quantity: request.quantity, prompt: request.prompt }) },
    };
  }
  const job = JOB_ROUTE.exec(pathname);
  if (req.method === 'GET' && job) {
    const [row, build] = await Promise.all([pollJob(options.pool, job[1]!), options.workflowBuild(job[1]!)]);
    const workerBuild = build ? { build_id: build.buildId ?? null, behavior: build.behavior ?? null } : null;
    return row
      ? {
          status: 200,
          json: { ...row, workflow_url: options.workflowUrl(job[1]!) ?? null, worker_build: workerBuild },
        }
      : { status: 404, json: { error: `no job ${job[1]}` } };
  }
  const attachment = ATTACHMENT_ROUTE.exec(pathname);
  if (req.method === 'GET' && attachment) {
    const { rows } = await options.pool.query<{ attach_file_path: string }>(
      'SELECT attach_file_path FROM quel_attach WHERE attach_id = $1',
      [Number(attachment[1])],
    );
    const location = rows[0] && (await options.signedUrl(rows[0].attach_file_path));
    return location ? { status: 302, location } : { status: 404, json: { error: `no attachment ${attachment[1]}` } };
  }
  return { status: 404, json: { error: 'not found' } };
}

/** What the front end reads while it polls (docs/domain.md), plus what the page shows beside it. */
async function pollJob(pool: Pool, jobId: string) {
  const { rows } = await pool.query<{
    job_status: string;
    total_images: number;
    completed_images: number;
    failed_images: number;
    generated_attach_ids: number[];
    source_attach_id: number | null;
    prompt: string | null;
  }>(
    `SELECT job_status, total_images, completed_images, failed_images, generated_attach_ids,
            CASE WHEN jsonb_typeof(job_input_data->'mergedImageAttachId') = 'number'
                 THEN (job_input_data->>'mergedImageAttachId')::bigint END AS source_attach_id,
            job_input_data->>'prompt' AS prompt
       FROM quel_production_jobs WHERE job_id::text = $1`,
    [jobId],
  );
  return rows[0];
}

async function logTail(file: string): Promise<string> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return '';
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - LOG_TAIL_BYTES);
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(size - start), 0, size - start, start);
    const text = buffer.subarray(0, bytesRead).toString('utf8');
    // From the first whole line on.
    return start > 0 ? text.slice(text.indexOf('\n') + 1) : text;
  } finally {
    await handle.close();
  }
}

/** The job's data is checked by the product, as the front end's is: this only needs an object. */
function parseJsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > 100_000) throw new Error('request body too large');
  }
  return body;
}

function send(res: http.ServerResponse, answer: Answer): void {
  const headers: Record<string, string> = { 'cache-control': 'no-store' };
  if (answer.location) headers.location = answer.location;
  if (answer.json !== undefined) {
    res.writeHead(answer.status, { ...headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(answer.json));
    return;
  }
  res.writeHead(answer.status, { ...headers, ...(answer.type ? { 'content-type': answer.type } : {}) });
  res.end(answer.body);
}
