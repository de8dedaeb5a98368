import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';

/**
 * The demo's stand-in for Supabase Storage: a folder (one sub-folder per bucket) behind the part of the Storage
 * REST API the product uses (upload, download, list), so the product's Storage client runs unchanged against it.
 */

const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
};

export interface LocalStorage {
  /** The "Supabase project URL" to configure: Storage is at `${url}/storage/v1`. */
  url: string;
  /** Where an object of a bucket is on disk. */
  fileOf(bucket: string, objectPath: string): string;
  stop(): Promise<void>;
}

export async function startLocalStorage(options: { root: string; port: number }): Promise<LocalStorage> {
  const fileOf = (bucket: string, objectPath: string) => {
    const bucketRoot = path.resolve(options.root, bucket);
    const file = path.resolve(bucketRoot, objectPath);
    if (file !== bucketRoot && !file.startsWith(bucketRoot + path.sep)) throw new Error('path leaves the bucket');
    return file;
  };
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      handle(
        request.method ?? 'GET',
        new URL(request.url ?? '/', 'http://local'),
        request.headers,
        Buffer.concat(chunks),
      )
        .then(({ status, body, type }) => {
          response.writeHead(status, { 'content-type': type ?? 'application/json' });
          response.end(body);
        })
        .catch((error: Error) => {
          response.writeHead(500, { 'content-type': 'application/json' });
          response.end(JSON.stringify({ statusCode: '500', error: 'internal', message: error.message }));
        });
    });
  });

  async function handle(method: string, url: URL, headers: http.IncomingHttpHeaders, body: Buffer) {
    const segments = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    if (segments[0] !== 'storage' || segments[1] !== 'v1' || segments[2] !== 'object') return notFound();
    const rest = segments.slice(3);
    if (method === 'POST' && rest[0] === 'list') return list(rest[1]!, JSON.parse(body.toString() || '{}'));
    if (rest[0] === 'public' || rest[0] === 'authenticated') rest.shift();
    const [bucket, ...objectPath] = rest;
    if (!bucket || objectPath.length === 0) return notFound();
    const file = fileOf(bucket, objectPath.join('/'));
    if (method === 'GET') {
      const bytes = await readFile(file).catch(() => undefined);
      return bytes
        ? { status: 200, body: bytes, type: TYPES[path.extname(file)] ?? 'application/octet-stream' }
        : notFound();
    }
    if (method === 'POST' || method === 'PUT') {
      const exists = await stat(file).then(
        () => true,
        () => false,
      );
      if (exists && method === 'POST' && headers['x-upsert'] !== 'true') {
        return answer(400, { statusCode: '409', error: 'Duplicate', message: 'The resource already exists' });
      }
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, body);
      return answer(200, { Key: `${bucket}/${objectPath.join('/')}` });
    }
    return notFound();
  }

  async function list(bucket: string, query: { prefix?: string; search?: string; limit?: number }) {
    const folder = fileOf(bucket, query.prefix ?? '');
    const names = (await readdir(folder).catch(() => [] as string[])).filter((name) =>
      name.startsWith(query.search ?? ''),
    );
    const entries = await Promise.all(
      names.slice(0, query.limit ?? 100).map(async (name) => {
        const info = await stat(path.join(folder, name));
        if (info.isDirectory()) return { name, id: null, metadata: null };
        const at = info.mtime.toISOString();
        const mimetype = TYPES[path.extname(name)] ?? 'application/octet-stream';
        return { name, id: name, updated_at: at, created_at: at, metadata: { size: info.size, mimetype } };
      }),
    );
    return answer(200, entries);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${options.port}`,
    fileOf,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function answer(status: number, json: unknown) {
  return { status, body: JSON.stringify(json), type: 'application/json' };
}

function notFound() {
  return answer(400, { statusCode: '404', error: 'not_found', message: 'Object not found' });
}
