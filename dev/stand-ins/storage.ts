import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { closeServer, headerValue, listenOnLoopback, readBody, sendJson, serve, waitUnlessClientGone } from './http';
import {
  effectiveCacheControl,
  eTagOf,
  removedRow,
  searchChildren,
  uploadedFile,
  type ObjectEntry,
  type SearchQuery,
  type UploadedFile,
  type StoredObject,
} from './storage-wire';

export type { StoredObject } from './storage-wire';

/*
 * A local stand-in for Supabase Storage's object API, speaking the wire shapes that `@supabase/storage-js`
 * sends and parses, checked against the storage server's sources (supabase/storage: routes under
 * src/http/routes/object, errors in src/internal/errors, listing in migrations/tenant/0063 `storage.search`).
 * Like the real server, it answers most errors with HTTP 400 and the meaningful code in the body.
 */

export interface StorageRequestRecord {
  at: number;
  method: string;
  /** The path asked for, as it arrived (percent-encoded, without the query, whose token is a credential). */
  pathname: string;
  route: StorageRouteName;
  bucket?: string;
  path?: string;
  /** HTTP status answered; 0 when the client left before the answer. */
  status: number;
  upsert?: boolean;
  contentType?: string;
  bytes?: number;
  /** sha256 of an upload's bytes, set when it was stored. */
  sha256?: string;
  /** The lifetime a signing asked for, in seconds. */
  expiresIn?: number;
}

export type UploadFaultChooser = (path: string) => 500 | 502 | 503 | undefined;

export type StorageRouteName =
  | 'upload'
  | 'update'
  | 'download'
  | 'public-download'
  | 'signed-download'
  | 'info'
  | 'list'
  | 'remove'
  | 'sign'
  | 'unknown';

export interface StorageStandInOptions {
  /** When set, `apikey` and `authorization: Bearer …` must carry exactly this key. */
  serviceKey?: string;
  latencyMs?: number;
  /** Existing buckets; default ['attachments']. Every bucket is public for `/object/public/…` unless made private. */
  buckets?: string[];
  /**
   * Buckets that are private, as Supabase's are by default: `/object/public/…` answers Bucket not found, and only a
   * signed URL or the service key reads their objects.
   */
  privateBuckets?: string[];
  /** A fixed loopback port; default: any free one. */
  port?: number;
  /**
   * Keeps every object as a file under `{root}/{bucket}/{path}` too, and starts with the files already there, so
   * the demo's objects outlive its process and a person can open them. Default: in memory only.
   */
  root?: string;
}

/** Types of the files a `root` folder starts with, by extension. */
const TYPES_BY_EXTENSION: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.heic': 'image/heic',
  '.heif': 'image/heif',
};

interface Route {
  name: StorageRouteName;
  bucket?: string;
  path?: string;
}

interface Answer {
  status: number;
  json?: unknown;
  bytes?: Buffer;
  headers?: Record<string, string>;
}

interface SignedUrlGrant {
  bucket: string;
  path: string;
  expiresAt: number;
}

const OBJECT_ROUTE = /^\/storage\/v1\/object\/(.+)$/;

export class StorageStandIn {
  readonly requests: StorageRequestRecord[] = [];
  /** Paths of WebSocket upgrade requests (Supabase realtime): a server-side Storage client must send none. */
  readonly upgradeRequests: string[] = [];
  latencyMs: number;
  /**
   * When set, URLs signed from now on live this long (negative: expired at birth) whatever their signing asked, so
   * a test can hand Gemini an expired URL.
   */
  signedUrlLifetimeMs: number | undefined;
  private readonly buckets = new Map<string, Map<string, ObjectEntry>>();
  private readonly signedUrls = new Map<string, SignedUrlGrant>();
  private pendingFaults: { count: number; status: 500 | 502 | 503 } = { count: 0, status: 500 };
  private faultChooser: UploadFaultChooser | undefined;

  private constructor(
    private readonly server: http.Server,
    readonly url: string,
    private readonly options: StorageStandInOptions,
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    for (const bucket of options.buckets ?? ['attachments']) {
      const objects = new Map<string, ObjectEntry>();
      this.buckets.set(bucket, objects);
      if (options.root) this.loadFolder(objects, bucket);
    }
  }

  static async start(options: StorageStandInOptions = {}): Promise<StorageStandIn> {
    const server = http.createServer();
    const standIn = new StorageStandIn(server, await listenOnLoopback(server, options.port), options);
    serve(server, (req, res) => standIn.handle(req, res));
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex) => {
      standIn.upgradeRequests.push(new URL(req.url ?? '/', standIn.url).pathname);
      socket.destroy();
    });
    return standIn;
  }

  /** Seeds an object without going through HTTP. */
  put(bucket: string, path: string, bytes: Buffer, contentType: string): void {
    this.store(bucket, path, { bytes, contentType, cacheControl: undefined });
  }

  get(bucket: string, path: string): StoredObject | undefined {
    const entry = this.bucketOrThrow(bucket).get(path);
    if (!entry) return undefined;
    const { bytes, contentType, cacheControl, createdAt, updatedAt } = entry;
    return { bytes, contentType, cacheControl, createdAt, updatedAt };
  }

  /** Where `root` keeps an object (undefined without a root). */
  fileOf(bucket: string, objectPath: string): string | undefined {
    if (!this.options.root) return undefined;
    const bucketRoot = resolve(this.options.root, bucket);
    const file = resolve(bucketRoot, objectPath);
    if (!file.startsWith(bucketRoot + sep)) throw new Error(`object path ${objectPath} leaves its bucket`);
    return file;
  }

  /** Paths of the objects under `prefix` (a plain, case-sensitive string prefix), sorted. */
  list(bucket: string, prefix = ''): string[] {
    return [...this.bucketOrThrow(bucket).keys()].filter((path) => path.startsWith(prefix)).sort();
  }

  /** The next `count` uploads (POST or PUT) read their body, store nothing and answer `status`. */
  failNextUploads(count: number, status: 500 | 502 | 503 = 500): void {
    this.pendingFaults = { count, status };
  }

  /** Asked at every upload once `failNextUploads` is spent: a status fails it, undefined lets it through. */
  failUploadsWhen(chooser: UploadFaultChooser | undefined): void {
    this.faultChooser = chooser;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = Date.now();
    const method = req.method ?? 'GET';
    const body = await readBody(req);
    const requestUrl = new URL(req.url ?? '/', this.url);
    const route = parseRoute(method, requestUrl.pathname);
    const record: StorageRequestRecord = { at, method, pathname: requestUrl.pathname, route: route.name, status: 0 };
    if (route.bucket !== undefined) record.bucket = route.bucket;
    if (route.path !== undefined) record.path = route.path;
    const clientStayed = await waitUnlessClientGone(res, this.latencyMs);
    if (clientStayed) {
      const answer = this.authFailure(req, route) ?? this.answerRoute(route, req, body, requestUrl, record);
      record.status = answer.status;
      send(res, answer);
    }
    this.requests.push(record);
  }

  /** The gateway checks `apikey` (401); the storage server then checks the JWT (400 with 403 inside). */
  private authFailure(req: http.IncomingMessage, route: Route): Answer | undefined {
    if (route.name === 'public-download' || route.name === 'signed-download') return undefined;
    const apiKey = headerValue(req, 'apikey');
    if (!apiKey) {
      return {
        status: 401,
        json: { message: 'No API key found in request', hint: 'No `apikey` request header was found.' },
      };
    }
    const { serviceKey } = this.options;
    if (serviceKey !== undefined && apiKey !== serviceKey) return { status: 401, json: { message: 'Invalid API key' } };
    const bearer = /^Bearer (.+)$/i.exec(headerValue(req, 'authorization') ?? '')?.[1];
    if (!bearer) return accessDenied('jwt must be provided');
    if (serviceKey !== undefined && bearer !== serviceKey) return accessDenied('jwt malformed');
    return undefined;
  }

  private answerRoute(
    route: Route,
    req: http.IncomingMessage,
    body: Buffer,
    requestUrl: URL,
    record: StorageRequestRecord,
  ): Answer {
    const { bucket = '', path = '' } = route;
    switch (route.name) {
      case 'upload':
      case 'update':
        return this.upload(route.name, bucket, path, req, body, record);
      case 'download':
        return this.download(bucket, path);
      case 'public-download':
        return this.options.privateBuckets?.includes(bucket) ? noSuchBucket() : this.download(bucket, path);
      case 'signed-download':
        return this.signedDownload(bucket, path, requestUrl.searchParams.get('token'));
      case 'info':
        return this.info(bucket, path);
      case 'list':
        return this.search(bucket, body);
      case 'remove':
        return this.remove(bucket, body);
      case 'sign':
        return this.sign(bucket, path, body, record);
      case 'unknown':
        return routeNotFound(req.method, requestUrl.pathname);
    }
  }

  private upload(
    kind: 'upload' | 'update',
    bucket: string,
    path: string,
    req: http.IncomingMessage,
    body: Buffer,
    record: StorageRequestRecord,
  ): Answer {
    const upsertHeader = headerValue(req, 'x-upsert');
    if (upsertHeader !== undefined) record.upsert = upsertHeader === 'true';
    const file = uploadedFile(req, body);
    if (!file) return invalidRequest('No content provided');
    record.contentType = file.contentType;
    record.bytes = file.bytes.length;
    const fault = this.takeFault(path);
    if (fault) return fault;
    const objects = this.buckets.get(bucket);
    if (!objects) return noSuchBucket();
    // PUT is an upsert on the real server too, despite storage-js calling it update().
    const upsert = kind === 'update' || record.upsert === true;
    if (!upsert && objects.has(path)) {
      return storageError('409', 'ResourceAlreadyExists', 'Duplicate', 'The resource already exists');
    }
    const entry = this.store(bucket, path, file);
    record.sha256 = createHash('sha256').update(file.bytes).digest('hex');
    return { status: 200, json: { Id: entry.id, Key: `${bucket}/${path}` } };
  }

  private takeFault(path: string): Answer | undefined {
    let status: number | undefined;
    if (this.pendingFaults.count > 0) {
      this.pendingFaults.count -= 1;
      status = this.pendingFaults.status;
    } else {
      status = this.faultChooser?.(path);
    }
    if (status === undefined) return undefined;
    return { status, json: { statusCode: String(status), error: 'internal', message: 'injected fault' } };
  }

  /** The stored entry, or the error answer the real server gives for a missing bucket or object. */
  private find(bucket: string, path: string): ObjectEntry | Answer {
    const objects = this.buckets.get(bucket);
    if (!objects) return noSuchBucket();
    return objects.get(path) ?? noSuchKey();
  }

  private download(bucket: string, path: string): Answer {
    const entry = this.find(bucket, path);
    if ('status' in entry) return entry;
    return {
      status: 200,
      bytes: entry.bytes,
      headers: {
        'content-type': entry.contentType,
        'cache-control': effectiveCacheControl(entry),
        etag: eTagOf(entry),
        'last-modified': entry.updatedAt.toUTCString(),
      },
    };
  }

  private signedDownload(bucket: string, path: string, token: string | null): Answer {
    const grant = token === null ? undefined : this.signedUrls.get(token);
    if (!grant || grant.bucket !== bucket || grant.path !== path) {
      return storageError('400', 'InvalidJWT', 'InvalidJWT', 'jwt malformed');
    }
    if (grant.expiresAt < Date.now()) return storageError('400', 'InvalidJWT', 'InvalidJWT', 'jwt expired');
    return this.download(bucket, path);
  }

  /** Shape of the server's InfoRenderer; storage-js camel-cases it, and `exists()` is built on it. */
  private info(bucket: string, path: string): Answer {
    const entry = this.find(bucket, path);
    if ('status' in entry) return entry;
    return {
      status: 200,
      json: {
        id: entry.id,
        name: path,
        version: entry.version,
        bucket_id: bucket,
        size: entry.bytes.length,
        content_type: entry.contentType,
        cache_control: effectiveCacheControl(entry),
        etag: eTagOf(entry),
        metadata: {},
        last_modified: entry.updatedAt.toISOString(),
        created_at: entry.createdAt.toISOString(),
      },
    };
  }

  /** Like the server, an unknown bucket lists nothing rather than failing. */
  private search(bucket: string, body: Buffer): Answer {
    const query = parseJson(body) as Partial<SearchQuery> | undefined;
    if (typeof query?.prefix !== 'string') return invalidRequest("body must have required property 'prefix'");
    const objects = this.buckets.get(bucket) ?? new Map<string, ObjectEntry>();
    return { status: 200, json: searchChildren([...objects], { ...query, prefix: query.prefix }) };
  }

  /** `prefixes` are exact object names; names that do not exist are silently left out of the answer. */
  private remove(bucket: string, body: Buffer): Answer {
    const prefixes = (parseJson(body) as { prefixes?: unknown } | undefined)?.prefixes;
    if (!Array.isArray(prefixes)) return invalidRequest("body must have required property 'prefixes'");
    const objects = this.buckets.get(bucket);
    if (!objects) return { status: 200, json: [] };
    const removed = prefixes
      .filter((path): path is string => typeof path === 'string')
      .flatMap((path) => {
        const entry = objects.get(path);
        if (!entry) return [];
        objects.delete(path);
        const file = this.fileOf(bucket, path);
        if (file) rmSync(file, { force: true });
        return [removedRow(bucket, path, entry)];
      });
    return { status: 200, json: removed };
  }

  private sign(bucket: string, path: string, body: Buffer, record: StorageRequestRecord): Answer {
    const expiresIn = (parseJson(body) as { expiresIn?: unknown } | undefined)?.expiresIn;
    if (typeof expiresIn !== 'number' || expiresIn < 1) return invalidRequest('body/expiresIn must be >= 1');
    record.expiresIn = expiresIn;
    if (!this.buckets.get(bucket)?.has(path)) return noSuchKey();
    const token = randomBytes(24).toString('base64url');
    const lifetimeMs = this.signedUrlLifetimeMs ?? expiresIn * 1000;
    this.signedUrls.set(token, { bucket, path, expiresAt: Date.now() + lifetimeMs });
    // The path goes back raw: storage-js runs encodeURI over the whole signed URL.
    return { status: 200, json: { signedURL: `/object/sign/${bucket}/${path}?token=${token}` } };
  }

  private store(bucket: string, path: string, file: UploadedFile): ObjectEntry {
    const objects = this.bucketOrThrow(bucket);
    const now = new Date();
    const previous = objects.get(path);
    const entry: ObjectEntry = {
      ...file,
      id: previous?.id ?? randomUUID(),
      version: randomUUID(),
      createdAt: previous?.createdAt ?? now,
      updatedAt: now,
    };
    objects.set(path, entry);
    const onDisk = this.fileOf(bucket, path);
    if (onDisk) {
      mkdirSync(dirname(onDisk), { recursive: true });
      writeFileSync(onDisk, entry.bytes);
    }
    return entry;
  }

  private loadFolder(objects: Map<string, ObjectEntry>, bucket: string): void {
    const bucketRoot = resolve(this.options.root!, bucket);
    if (!existsSync(bucketRoot)) return;
    const files = readdirSync(bucketRoot, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    for (const entry of files) {
      const file = join(entry.parentPath, entry.name);
      const { mtime, birthtime } = statSync(file);
      const contentType = TYPES_BY_EXTENSION[extname(file).toLowerCase()] ?? 'application/octet-stream';
      objects.set(relative(bucketRoot, file).split(sep).join('/'), {
        bytes: readFileSync(file),
        contentType,
        cacheControl: undefined,
        id: randomUUID(),
        version: randomUUID(),
        createdAt: birthtime,
        updatedAt: mtime,
      });
    }
  }

  private bucketOrThrow(bucket: string): Map<string, ObjectEntry> {
    const objects = this.buckets.get(bucket);
    if (!objects) throw new Error(`StorageStandIn has no bucket '${bucket}'`);
    return objects;
  }
}

/** Paths arrive percent-encoded segment by segment; an undecodable path matches no route. */
function parseRoute(method: string, pathname: string): Route {
  const match = OBJECT_ROUTE.exec(pathname);
  const segments = match?.[1] === undefined ? undefined : decodeSegments(match[1]);
  if (!segments) return { name: 'unknown' };
  const [first, ...rest] = segments;
  const isRead = method === 'GET' || method === 'HEAD';
  if (method === 'POST' && first === 'list' && rest.length === 1) return { name: 'list', bucket: rest[0] };
  if (method === 'POST' && first === 'sign') return objectRoute('sign', rest);
  if (isRead && first === 'sign') return objectRoute('signed-download', rest);
  if (isRead && first === 'info') return objectRoute('info', rest[0] === 'authenticated' ? rest.slice(1) : rest);
  if (isRead && first === 'public') return objectRoute('public-download', rest);
  if (isRead && first === 'authenticated') return objectRoute('download', rest);
  if (isRead) return objectRoute('download', segments);
  if (method === 'POST') return objectRoute('upload', segments);
  if (method === 'PUT') return objectRoute('update', segments);
  if (method === 'DELETE' && segments.length === 1) return { name: 'remove', bucket: first };
  return { name: 'unknown' };
}

function decodeSegments(encodedPath: string): string[] | undefined {
  try {
    return encodedPath.split('/').map(decodeURIComponent);
  } catch {
    return undefined;
  }
}

function objectRoute(name: StorageRouteName, segments: string[]): Route {
  const [bucket, ...pathSegments] = segments;
  const path = pathSegments.join('/');
  return bucket && path ? { name, bucket, path } : { name: 'unknown' };
}

/** Fastify's own 404, which the storage server leaves as it is. */
function routeNotFound(method: string | undefined, pathname: string): Answer {
  return {
    status: 404,
    json: { statusCode: 404, error: 'Not Found', message: `Route ${method ?? ''}:${pathname} not found` },
  };
}

function storageError(statusCode: string, code: string, error: string, message: string): Answer {
  return { status: 400, json: { statusCode, code, error, message } };
}

function noSuchBucket(): Answer {
  return storageError('404', 'NoSuchBucket', 'Bucket not found', 'Bucket not found');
}

function noSuchKey(): Answer {
  return storageError('404', 'NoSuchKey', 'not_found', 'Object not found');
}

function accessDenied(message: string): Answer {
  return storageError('403', 'AccessDenied', 'Unauthorized', message);
}

function invalidRequest(message: string): Answer {
  return storageError('400', 'InvalidRequest', 'Bad Request', message);
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

function send(res: http.ServerResponse, answer: Answer): void {
  if (!answer.bytes) {
    sendJson(res, answer.status, answer.json);
    return;
  }
  res.writeHead(answer.status, { ...answer.headers, 'content-length': answer.bytes.length });
  res.end(answer.bytes);
}
