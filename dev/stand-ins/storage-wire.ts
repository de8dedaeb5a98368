import { createHash } from 'node:crypto';
import type http from 'node:http';
import { headerValue } from './http';

/*
 * The parts of the Storage stand-in that read and write the server's wire formats: an upload's body (raw or
 * multipart), the listing of `storage.search`, and the rows and headers rendered from a stored object.
 */

export interface StoredObject {
  bytes: Buffer;
  contentType: string;
  cacheControl: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface ObjectEntry extends StoredObject {
  id: string;
  version: string;
}

export interface UploadedFile {
  bytes: Buffer;
  contentType: string;
  cacheControl: string | undefined;
}

const MAX_LIST_LIMIT = 1500; // storage.search caps the page size

/** storage-js sends a Buffer raw with its own content-type, and a Blob or FormData as multipart. */
export function uploadedFile(req: http.IncomingMessage, body: Buffer): UploadedFile | undefined {
  const contentType = headerValue(req, 'content-type');
  const boundary = /^multipart\/form-data;.*boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1];
  if (boundary) return multipartFile(body, boundary);
  return {
    bytes: body,
    contentType: contentType || 'application/octet-stream',
    cacheControl: headerValue(req, 'cache-control'),
  };
}

interface MultipartPart {
  name: string | undefined;
  isFile: boolean;
  contentType: string | undefined;
  content: Buffer;
}

/** The server takes the first file part, a `cacheControl` field in seconds and an optional `contentType` field. */
function multipartFile(body: Buffer, boundary: string): UploadedFile | undefined {
  const parts = multipartParts(body, boundary);
  const file = parts.find((part) => part.isFile);
  if (!file) return undefined;
  const field = (name: string): string | undefined =>
    parts.find((part) => !part.isFile && part.name === name)?.content.toString('utf8');
  const cacheSeconds = field('cacheControl');
  return {
    bytes: file.content,
    contentType: field('contentType') || file.contentType || 'application/octet-stream',
    cacheControl: cacheSeconds ? `max-age=${cacheSeconds}` : undefined,
  };
}

function multipartParts(body: Buffer, boundary: string): MultipartPart[] {
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // A leading CRLF makes the first delimiter look like every other one.
  const data = Buffer.concat([Buffer.from('\r\n'), body]);
  const parts: MultipartPart[] = [];
  let start = data.indexOf(delimiter);
  while (start !== -1) {
    const partStart = start + delimiter.length + 2; // skips the CRLF, or the "--" closing the body
    const end = data.indexOf(delimiter, partStart);
    if (end === -1) break;
    parts.push(multipartPart(data.subarray(partStart, end)));
    start = end;
  }
  return parts;
}

function multipartPart(raw: Buffer): MultipartPart {
  const headerEnd = raw.indexOf('\r\n\r\n');
  const headers = raw.subarray(0, headerEnd).toString('utf8');
  const disposition = /^content-disposition:(.*)$/im.exec(headers)?.[1] ?? '';
  return {
    name: /\bname="([^"]*)"/i.exec(disposition)?.[1],
    isFile: /\bfilename="/i.test(disposition),
    contentType: /^content-type:\s*(.+?)\s*$/im.exec(headers)?.[1],
    content: raw.subarray(headerEnd + 4),
  };
}

export interface SearchQuery {
  prefix: string;
  search?: string;
  limit?: number;
  offset?: number;
  sortBy?: { column?: string; order?: string };
}

interface ListRow {
  name: string;
  id: string | null;
  updated_at: string | null;
  created_at: string | null;
  last_accessed_at: string | null;
  metadata: Record<string, unknown> | null;
}

interface ListChild {
  row: ListRow;
  /** Lower-cased full key the server orders by: the object name, or the folder prefix with its slash. */
  sortKey: string;
  entry: ObjectEntry | undefined;
}

/**
 * Mirrors `storage.search` (migration 0063): the prefix gets a trailing slash, then every object whose name
 * starts with prefix + search, compared case-insensitively, shows up as a direct child of the prefix:
 * a file row, or one folder row (all nulls) per sub-folder. Sorting by name interleaves folders and files;
 * sorting by a date puts the folders first, then the files. Offset and limit apply to that merged list.
 */
export function searchChildren(objects: [string, ObjectEntry][], query: SearchQuery): ListRow[] {
  const prefix = query.prefix === '' || query.prefix.endsWith('/') ? query.prefix : `${query.prefix}/`;
  const scope = (prefix + (query.search ?? '')).toLowerCase();
  const children = new Map<string, ListChild>();
  for (const [name, entry] of objects) {
    if (!name.toLowerCase().startsWith(scope)) continue;
    const child = childOf(name, entry, prefix.length, scope.length);
    // Files are distinct objects even when names differ only by case; a folder shows once (lower-cased).
    const key = child.entry ? name : child.sortKey;
    if (!children.has(key)) children.set(key, child);
  }
  const offset = query.offset || 0;
  const limit = Math.min(query.limit || 100, MAX_LIST_LIMIT);
  return sortChildren([...children.values()], query.sortBy)
    .slice(offset, offset + limit)
    .map((child) => child.row);
}

function childOf(name: string, entry: ObjectEntry, prefixLength: number, scopeLength: number): ListChild {
  const slash = name.indexOf('/', scopeLength);
  if (slash === -1) return { row: fileRow(name.slice(prefixLength), entry), sortKey: name.toLowerCase(), entry };
  const folder = name.slice(0, slash + 1);
  return { row: folderRow(folder.slice(prefixLength, -1)), sortKey: folder.toLowerCase(), entry: undefined };
}

function sortChildren(children: ListChild[], sortBy: SearchQuery['sortBy']): ListChild[] {
  const column = ['updated_at', 'created_at', 'last_accessed_at'].includes(sortBy?.column ?? '')
    ? (sortBy?.column as 'updated_at' | 'created_at' | 'last_accessed_at')
    : 'name';
  const direction = sortBy?.order?.toLowerCase() === 'desc' ? -1 : 1;
  const byKey = (a: ListChild, b: ListChild): number => direction * compare(a.sortKey, b.sortKey);
  if (column === 'name') return children.sort(byKey);
  const folders = children.filter((child) => !child.entry).sort(byKey);
  const files = children
    .filter((child) => child.entry)
    .sort((a, b) => direction * compare(a.row[column] ?? '', b.row[column] ?? '') || byKey(a, b));
  return [...folders, ...files];
}

function compare(a: string, b: string): number {
  if (a === b) return 0;
  return a < b ? -1 : 1;
}

function fileRow(name: string, entry: ObjectEntry): ListRow {
  return {
    name,
    id: entry.id,
    updated_at: entry.updatedAt.toISOString(),
    created_at: entry.createdAt.toISOString(),
    last_accessed_at: entry.createdAt.toISOString(),
    metadata: objectMetadata(entry),
  };
}

function folderRow(name: string): ListRow {
  return { name, id: null, updated_at: null, created_at: null, last_accessed_at: null, metadata: null };
}

/** The `metadata` column the server fills from the backend's head-object answer. */
function objectMetadata(entry: ObjectEntry): Record<string, unknown> {
  return {
    eTag: eTagOf(entry),
    size: entry.bytes.length,
    mimetype: entry.contentType,
    cacheControl: effectiveCacheControl(entry),
    lastModified: entry.updatedAt.toISOString(),
    contentLength: entry.bytes.length,
    httpStatusCode: 200,
  };
}

/** A row of `DELETE … RETURNING *` on storage.objects. */
export function removedRow(bucket: string, path: string, entry: ObjectEntry): Record<string, unknown> {
  return {
    bucket_id: bucket,
    name: path,
    owner: null,
    owner_id: null,
    id: entry.id,
    version: entry.version,
    created_at: entry.createdAt.toISOString(),
    updated_at: entry.updatedAt.toISOString(),
    last_accessed_at: entry.createdAt.toISOString(),
    metadata: objectMetadata(entry),
    user_metadata: {},
  };
}

/** Each write stores a new entry, so an entry's ETag never changes: hashed once, not on every read and listing. */
const eTags = new WeakMap<ObjectEntry, string>();

export function eTagOf(entry: ObjectEntry): string {
  let eTag = eTags.get(entry);
  if (eTag === undefined) {
    eTag = `"${createHash('md5').update(entry.bytes).digest('hex')}"`;
    eTags.set(entry, eTag);
  }
  return eTag;
}

/** What the server stores when an upload carries no cache-control. */
export function effectiveCacheControl(entry: ObjectEntry): string {
  return entry.cacheControl ?? 'no-cache';
}
