import { createHash } from 'node:crypto';
import { ApiError, GoogleGenAI, type GenerateContentResponse, type Part } from '@google/genai';
import { createClient, StorageApiError } from '@supabase/supabase-js';
import type { StorageClient } from '../src/activities/storage';
import { PNG } from 'pngjs';
import { GeminiStandIn } from '../dev/stand-ins/gemini';
import { StorageStandIn } from '../dev/stand-ins/storage';
import { noisePng } from '../dev/stand-ins/images';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MODEL = 'gemini-2.5-flash-image';
const GEMINI_KEY = 'test-key';
const INPUT_PNG = noisePng(16, 16);

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

describe('GeminiStandIn driven by @google/genai', () => {
  let double: GeminiStandIn;

  beforeEach(async () => {
    double = await GeminiStandIn.start({ apiKey: GEMINI_KEY });
  });

  afterEach(() => double.stop());

  function client(options: { timeout?: number; apiKey?: string; apiVersion?: string } = {}): GoogleGenAI {
    return new GoogleGenAI({
      apiKey: options.apiKey ?? GEMINI_KEY,
      httpOptions: {
        baseUrl: double.baseUrl,
        apiVersion: options.apiVersion ?? double.apiVersion,
        timeout: options.timeout ?? 2000,
      },
    });
  }

  function generate(
    ai: GoogleGenAI = client(),
    image: Buffer = INPUT_PNG,
    imageKey?: string,
  ): Promise<GenerateContentResponse> {
    return ai.models.generateContent({
      model: MODEL,
      contents: [
        {
          role: 'user',
          parts: [
            { text: 'make the sky purple' },
            { inlineData: { mimeType: 'image/png', data: image.toString('base64') } },
          ],
        },
      ],
      config: {
        responseModalities: ['TEXT', 'IMAGE'],
        ...(imageKey && { httpOptions: { headers: { 'x-quel-image-key': imageKey } } }),
      },
    });
  }

  function parts(response: GenerateContentResponse): Part[] {
    return response.candidates?.[0]?.content?.parts ?? [];
  }

  function answeredImage(response: GenerateContentResponse): { mimeType: string | undefined; bytes: Buffer } {
    const inline = parts(response).find((part) => part.inlineData)?.inlineData;
    return { mimeType: inline?.mimeType, bytes: Buffer.from(inline?.data ?? '', 'base64') };
  }

  async function apiErrorOf(
    promise: Promise<unknown>,
  ): Promise<{ status: number; body: { error: Record<string, unknown> } }> {
    const error = await rejectionOf(promise);
    expect(error).toBeInstanceOf(ApiError);
    const apiError = error as ApiError;
    return { status: apiError.status, body: JSON.parse(apiError.message) as { error: Record<string, unknown> } };
  }

  it('answers a decodable PNG and records the request', async () => {
    const response = await generate();

    const image = answeredImage(response);
    expect(image.mimeType).toBe('image/png');
    expect(image.bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const decoded = PNG.sync.read(image.bytes);
    expect([decoded.width, decoded.height]).toEqual([64, 64]);
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.modelVersion).toBe(MODEL);
    expect(response.usageMetadata?.totalTokenCount).toBeGreaterThan(0);
    expect(double.requests).toEqual([
      {
        index: 0,
        at: expect.any(Number) as number,
        model: MODEL,
        apiKey: GEMINI_KEY,
        prompt: 'make the sky purple',
        imageMimeType: 'image/png',
        imageBytes: INPUT_PNG.length,
        imageSha256: sha256(INPUT_PNG),
        sourceVia: 'inline',
        behaviour: 'image',
        status: 200,
        answerSha256: sha256(image.bytes),
      },
    ]);
  });

  it('accepts a 2 MB inline image and sizes PNG answers as asked', async () => {
    await double.stop();
    double = await GeminiStandIn.start({ imageSize: { width: 300, height: 200 } });
    const bigInput = noisePng(820, 820);
    expect(bigInput.length).toBeGreaterThan(2_000_000);

    const image = answeredImage(await generate(client(), bigInput));

    expect(PNG.sync.read(image.bytes)).toMatchObject({ width: 300, height: 200 });
    expect(image.bytes.length).toBeGreaterThan(300 * 200 * 3);
    expect(double.requests[0]).toMatchObject({ imageBytes: bigInput.length, imageSha256: sha256(bigInput) });
  });

  it('answers JPEG and WebP with their magic bytes, optional text and a declared type that may lie', async () => {
    double.enqueue(
      { kind: 'image', mimeType: 'image/jpeg', withText: true },
      { kind: 'image', mimeType: 'image/webp', declaredMimeType: 'image/png' },
    );

    const jpegResponse = await generate();
    const webpResponse = await generate();

    expect(parts(jpegResponse)[0]).toEqual({ text: expect.any(String) as string });
    const jpeg = answeredImage(jpegResponse);
    expect(jpeg.mimeType).toBe('image/jpeg');
    expect([...jpeg.bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    expect([...jpeg.bytes.subarray(-2)]).toEqual([0xff, 0xd9]);
    const webp = answeredImage(webpResponse);
    expect(webp.mimeType).toBe('image/png');
    expect(webp.bytes.toString('latin1', 0, 4)).toBe('RIFF');
    expect(webp.bytes.toString('latin1', 8, 16)).toBe('WEBPVP8L');
    expect(webp.bytes.readUInt32LE(4)).toBe(webp.bytes.length - 8);
  });

  it('answers different bytes every time', async () => {
    double.enqueue({ kind: 'image' }, { kind: 'image' }, { kind: 'image', mimeType: 'image/jpeg' });
    double.enqueue({ kind: 'image', mimeType: 'image/jpeg' }, { kind: 'image', mimeType: 'image/webp' });
    double.enqueue({ kind: 'image', mimeType: 'image/webp' });

    const images = [];
    for (let i = 0; i < 6; i++) images.push(answeredImage(await generate()).bytes);

    expect(new Set(images.map(sha256)).size).toBe(6);
    expect(new Set(double.requests.map((request) => request.answerSha256)).size).toBe(6);
  });

  it('answers each image of a job a variation of its own, and the same one when that image is asked again', async () => {
    await double.stop();
    // A latency, so that the four calls are all in before any is answered, as a job's calls come.
    double = await GeminiStandIn.start({ answers: 'variations', latencyMs: 300 });
    const keys = ['aaaaaa', 'bbbbbb', 'cccccc', 'dddddd'].map((suffix) => `job-1/generated_1796436644666_${suffix}`);
    const variationOf = async (key: string) => answeredImage(await generate(client(), INPUT_PNG, key)).bytes;

    const variations = await Promise.all(keys.map(variationOf));

    expect(new Set(variations.map(sha256)).size).toBe(4);
    for (const variation of variations) {
      expect(sha256(variation)).not.toBe(sha256(INPUT_PNG));
      expect(PNG.sync.read(variation)).toMatchObject({ width: 16, height: 16 });
    }
    // A retried call for the third image, then another job's first image.
    expect(sha256(await variationOf(keys[2]!))).toBe(sha256(variations[2]!));
    expect(sha256(await variationOf('job-2/generated_1796436644667_eeeeee'))).toBe(sha256(variations[0]!));
  });

  it('answers 429 RESOURCE_EXHAUSTED with a RetryInfo delay', async () => {
    double.enqueue({ kind: 'rate-limited', retryDelay: '1.5s' });

    const { status, body } = await apiErrorOf(generate());

    expect(status).toBe(429);
    expect(body.error).toMatchObject({ code: 429, status: 'RESOURCE_EXHAUSTED' });
    expect(body.error['details']).toContainEqual({
      '@type': 'type.googleapis.com/google.rpc.RetryInfo',
      retryDelay: '1.5s',
    });
    expect(double.requests[0]).toMatchObject({ behaviour: 'rate-limited', status: 429 });
  });

  it.each([
    [500, 'INTERNAL'],
    [503, 'UNAVAILABLE'],
    [504, 'DEADLINE_EXCEEDED'],
  ] as const)('answers server error %i as %s', async (code, status) => {
    double.enqueue({ kind: 'server-error', status: code });

    const error = await apiErrorOf(generate());

    expect(error.status).toBe(code);
    expect(error.body.error).toMatchObject({ code, status });
  });

  it('hangs until the client times out, then keeps serving', async () => {
    double.enqueue({ kind: 'hang' });

    expect(abortNameOf(await rejectionOf(generate(client({ timeout: 300 }))))).toBe('AbortError');
    const next = await generate();

    expect(answeredImage(next).bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect(double.requests.map(({ behaviour, status }) => ({ behaviour, status }))).toEqual([
      { behaviour: 'hang', status: 0 },
      { behaviour: 'image', status: 200 },
    ]);
  });

  it('stops even while a request hangs', async () => {
    double.enqueue({ kind: 'hang' });
    const pending = generate(client({ timeout: 10_000 }));
    await waitFor(() => double.requests.length === 1);

    await double.stop();

    await expect(pending).rejects.toThrow();
  });

  it('waits latencyMs before answering, and survives a client aborting meanwhile', async () => {
    double.latencyMs = 400;
    expect(abortNameOf(await rejectionOf(generate(client({ timeout: 100 }))))).toBe('AbortError');

    double.latencyMs = 150;
    const started = Date.now();
    await generate();

    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(double.requests.map((request) => request.status)).toEqual([0, 200]);
  });

  it('draws a latency for each call when latencyMs is a function', async () => {
    const draws = [300, 0];
    double.latencyMs = () => draws.shift()!;

    const started = Date.now();
    await generate();
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    await generate();

    expect(draws).toEqual([]);
  });

  it('answers a blocked prompt with promptFeedback and no candidates', async () => {
    double.enqueue({ kind: 'prompt-blocked' }, { kind: 'prompt-blocked', blockReason: 'PROHIBITED_CONTENT' });

    const first = await generate();
    const second = await generate();

    expect(first.candidates).toBeUndefined();
    expect(first.promptFeedback?.blockReason).toBe('SAFETY');
    expect(second.promptFeedback?.blockReason).toBe('PROHIBITED_CONTENT');
  });

  it('answers blocked output with a finishReason and a content without parts', async () => {
    double.enqueue({ kind: 'output-blocked' }, { kind: 'output-blocked', finishReason: 'NO_IMAGE' });

    const first = await generate();
    const second = await generate();

    expect(first.candidates?.[0]?.finishReason).toBe('IMAGE_SAFETY');
    expect(first.candidates?.[0]?.content?.parts).toBeUndefined();
    expect(second.candidates?.[0]?.finishReason).toBe('NO_IMAGE');
  });

  it('answers text only', async () => {
    double.enqueue({ kind: 'text-only' });

    const response = await generate();

    expect(parts(response)).toEqual([{ text: expect.any(String) as string }]);
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
  });

  it('answers inline data that is not base64 of an image', async () => {
    double.enqueue({ kind: 'malformed-base64' });

    const response = await generate();

    const data = parts(response)[0]?.inlineData?.data ?? '';
    expect(data).not.toMatch(/^[A-Za-z0-9+/]*={0,2}$/);
    expect(Buffer.from(data, 'base64').subarray(0, 8)).not.toEqual(PNG_SIGNATURE);
  });

  it('answers 400 INVALID_ARGUMENT on demand', async () => {
    double.enqueue({ kind: 'invalid-argument' });

    const error = await apiErrorOf(generate());

    expect(error.status).toBe(400);
    expect(error.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
  });

  it('rejects a wrong API key like the real API, without consuming the queue or echoing the key', async () => {
    double.enqueue({ kind: 'text-only' });

    const error = await apiErrorOf(generate(client({ apiKey: 'wrong-key' })));

    expect(error.status).toBe(400);
    expect(error.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT' });
    expect(error.body.error['details']).toContainEqual(expect.objectContaining({ reason: 'API_KEY_INVALID' }));
    expect(JSON.stringify(error.body)).not.toContain('wrong-key');
    expect(double.requests[0]).toMatchObject({ apiKey: 'wrong-key', behaviour: 'invalid-argument', status: 400 });
    expect(parts(await generate())).toEqual([{ text: expect.any(String) as string }]);
  });

  it('lets a function choose the behaviour once the queue is empty', async () => {
    double.respondWith(({ index }) =>
      index % 2 === 0 ? { kind: 'server-error', status: 503 } : { kind: 'text-only' },
    );
    double.enqueue({ kind: 'image' });

    await generate();
    await expect(generate()).resolves.toBeDefined();
    await expect(generate()).rejects.toMatchObject({ status: 503 });
    double.respondWith(undefined);
    await generate();

    expect(double.requests.map((request) => request.behaviour)).toEqual([
      'image',
      'text-only',
      'server-error',
      'image',
    ]);
  });

  it('answers unknown routes with a JSON 404', async () => {
    const response = await fetch(`${double.baseUrl}/v1beta/models`, { headers: { 'x-goog-api-key': GEMINI_KEY } });

    expect(response.status).toBe(404);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toMatchObject({ error: { code: 404, status: 'NOT_FOUND' } });
    expect(double.requests).toEqual([]);
  });

  it('answers only on its API version, as the SDK 3 default (v1) reaches another route', async () => {
    const error = await apiErrorOf(generate(client({ apiVersion: 'v1' })));

    expect(error.status).toBe(404);
    expect(double.requests).toEqual([]);
    expect(answeredImage(await generate()).bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
  });
});

describe('GeminiStandIn fetching fileData.fileUri as Gemini does, from signed Storage URLs', () => {
  let gemini: GeminiStandIn;
  let storage: StorageStandIn;
  const SERVICE_KEY = 'service-key';

  beforeEach(async () => {
    [gemini, storage] = await Promise.all([GeminiStandIn.start(), StorageStandIn.start({ serviceKey: SERVICE_KEY })]);
  });
  afterEach(() => Promise.all([gemini.stop(), storage.stop()]));

  async function signedUrl(path: string, bytes: Buffer, contentType: string): Promise<string> {
    storage.put('attachments', path, bytes, contentType);
    const client = createClient(storage.url, SERVICE_KEY, { auth: { persistSession: false } }).storage;
    const { data, error } = await client.from('attachments').createSignedUrl(path, 60);
    if (error) throw error;
    return data.signedUrl;
  }

  function generateFrom(fileUri: string): Promise<GenerateContentResponse> {
    const ai = new GoogleGenAI({
      apiKey: GEMINI_KEY,
      httpOptions: { baseUrl: gemini.baseUrl, apiVersion: gemini.apiVersion, timeout: 5000 },
    });
    return ai.models.generateContent({
      model: MODEL,
      contents: [{ role: 'user', parts: [{ text: 'a hat' }, { fileData: { mimeType: 'image/png', fileUri } }] }],
      config: { responseModalities: ['TEXT', 'IMAGE'] },
    });
  }

  async function rejection(fileUri: string): Promise<{ status: number; error: unknown }> {
    const error = await rejectionOf(generateFrom(fileUri));
    expect(error).toBeInstanceOf(ApiError);
    return {
      status: (error as ApiError).status,
      error: (JSON.parse((error as ApiError).message) as { error: unknown }).error,
    };
  }

  const cannotFetch = { code: 400, status: 'INVALID_ARGUMENT', message: 'Cannot fetch content from the provided URL.' };

  it('reads the image behind a signed URL and answers as for inline data', async () => {
    const url = await signedUrl('sources/a.png', INPUT_PNG, 'image/png');
    const response = await generateFrom(url);
    expect(response.candidates?.[0]?.content?.parts?.[0]?.inlineData?.mimeType).toBe('image/png');
    expect(gemini.requests).toMatchObject([
      { sourceVia: 'url', fileUri: url, imageBytes: INPUT_PNG.length, imageSha256: sha256(INPUT_PNG), status: 200 },
    ]);
    expect(storage.requests.map((r) => r.route)).toEqual(['sign', 'signed-download']);
  });

  it('an expired signed URL: 400 INVALID_ARGUMENT, the model never runs', async () => {
    storage.signedUrlLifetimeMs = -1;
    expect(await rejection(await signedUrl('sources/b.png', INPUT_PNG, 'image/png'))).toEqual({
      status: 400,
      error: cannotFetch,
    });
    expect(gemini.requests).toMatchObject([{ sourceFailure: 'unfetchable', status: 400 }]);
    expect(gemini.requests[0]!.answerSha256).toBeUndefined();
  });

  it('an unreachable URL: the same 400', async () => {
    const closed = await GeminiStandIn.start();
    const url = `${closed.baseUrl}/gone.png`;
    await closed.stop();
    expect(await rejection(url)).toEqual({ status: 400, error: cannotFetch });
  });

  it('a URL that holds no image: 400 INVALID_ARGUMENT, unable to process the image', async () => {
    const { status, error } = await rejection(await signedUrl('sources/c.png', Buffer.from('<html>'), 'image/png'));
    expect({ status, error }).toMatchObject({ status: 400, error: { status: 'INVALID_ARGUMENT' } });
    expect((error as { message: string }).message).toMatch(/^Unable to process input image/);
    expect(gemini.requests).toMatchObject([{ sourceFailure: 'not-an-image' }]);
  });

  it('fails fetches when told to, as chaos runs ask, without reading the URL', async () => {
    gemini.failUrlFetches(() => true);
    expect(await rejection(await signedUrl('sources/d.png', INPUT_PNG, 'image/png'))).toEqual({
      status: 400,
      error: cannotFetch,
    });
    expect(storage.requests.map((r) => r.route)).toEqual(['sign']);
  });
});

describe('StorageStandIn driven by @supabase/supabase-js', () => {
  const KEY = 'service-role-key';
  const PATH = 'jobs/job 1/variation-0.png';
  let double: StorageStandIn;
  let storage: StorageClient;

  beforeEach(async () => {
    double = await StorageStandIn.start({ serviceKey: KEY, buckets: ['attachments', 'other'] });
    storage = clientWith(KEY, KEY);
  });

  afterEach(() => double.stop());

  function clientWith(apiKey: string, bearer: string): StorageClient {
    return createClient(double.url, apiKey, {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { Authorization: `Bearer ${bearer}` } },
    }).storage;
  }

  function attachments(): ReturnType<StorageClient['from']> {
    return storage.from('attachments');
  }

  function upload(
    bytes: Buffer,
    options: { upsert: boolean },
    path = PATH,
  ): ReturnType<ReturnType<StorageClient['from']>['upload']> {
    return attachments().upload(path, bytes, { contentType: 'image/png', cacheControl: '31536000', ...options });
  }

  it('records a WebSocket upgrade to its realtime path, so a test can tell that none was sent', async () => {
    // Where supabase-js's realtime client would connect: the project URL's /realtime/v1/websocket.
    const socket = new WebSocket(`${double.url.replace(/^http/, 'ws')}/realtime/v1/websocket?vsn=1.0.0`);
    await new Promise((resolve) => socket.addEventListener('close', resolve, { once: true }));

    expect(double.upgradeRequests).toEqual(['/realtime/v1/websocket']);
  });

  it('uploads a Buffer raw, refuses a duplicate, and replaces it on upsert', async () => {
    const first = noisePng(8, 8);
    const second = noisePng(8, 8);

    const created = await upload(first, { upsert: false });
    const duplicate = await upload(second, { upsert: false });
    const replaced = await upload(second, { upsert: true });

    expect(created).toEqual({
      data: { path: PATH, fullPath: `attachments/${PATH}`, id: expect.stringMatching(/^[0-9a-f-]{36}$/) as string },
      error: null,
    });
    expect(duplicate.data).toBeNull();
    expect(duplicate.error).toBeInstanceOf(StorageApiError);
    expect(duplicate.error).toMatchObject({ status: 400, statusCode: '409', message: 'The resource already exists' });
    expect(replaced.error).toBeNull();
    expect(replaced.data?.id).toBe(created.data?.id);
    expect(double.get('attachments', PATH)).toMatchObject({
      bytes: second,
      contentType: 'image/png',
      cacheControl: 'max-age=31536000',
    });
    expect(double.requests).toEqual([
      // Only what was stored carries its hash: the refused duplicate stored nothing.
      { ...uploadRecord(first), status: 200, upsert: false, sha256: sha256(first) },
      { ...uploadRecord(second), status: 400, upsert: false },
      { ...uploadRecord(second), status: 200, upsert: true, sha256: sha256(second) },
    ]);
  });

  function uploadRecord(bytes: Buffer): object {
    return {
      at: expect.any(Number) as number,
      method: 'POST',
      // The path as it arrived, percent-encoded, beside the object path it names.
      pathname: `/storage/v1/object/attachments/${PATH.split('/').map(encodeURIComponent).join('/')}`,
      route: 'upload',
      bucket: 'attachments',
      path: PATH,
      contentType: 'image/png',
      bytes: bytes.length,
    };
  }

  it('downloads the stored bytes, and answers a missing object with NoSuchKey', async () => {
    const bytes = noisePng(8, 8);
    await upload(bytes, { upsert: false });

    const found = await attachments().download(PATH);
    const missing = await attachments().download('jobs/missing.png');

    expect(found.error).toBeNull();
    expect(Buffer.from(await found.data!.arrayBuffer())).toEqual(bytes);
    expect(found.data?.type).toBe('image/png');
    expect(missing.error).toMatchObject({ status: 400, statusCode: '404', code: 'NoSuchKey' });
  });

  it('lists the direct children of a folder, filtered by a case-insensitive search on their names', async () => {
    for (const path of [
      'jobs/a/one.png',
      'jobs/a/two.png',
      'jobs/b.png',
      'jobs/B-2.png',
      'jobs/c/d/e.png',
      'root.png',
    ]) {
      double.put('attachments', path, noisePng(4, 4), 'image/png');
    }

    const all = await attachments().list('jobs');
    const searched = await attachments().list('jobs', { search: 'b' });
    const paged = await attachments().list('jobs', { limit: 2, offset: 1, sortBy: { column: 'name', order: 'desc' } });
    const top = await attachments().list();

    expect(all.data?.map((row) => row.name)).toEqual(['a', 'B-2.png', 'b.png', 'c']);
    expect(all.data?.[0]).toEqual({
      name: 'a',
      id: null,
      updated_at: null,
      created_at: null,
      last_accessed_at: null,
      metadata: null,
    });
    expect(searched.data?.map((row) => row.name)).toEqual(['B-2.png', 'b.png']);
    expect(searched.data?.[1]?.metadata).toMatchObject({
      size: double.get('attachments', 'jobs/b.png')?.bytes.length,
      mimetype: 'image/png',
    });
    expect(paged.data?.map((row) => row.name)).toEqual(['b.png', 'B-2.png']);
    expect(top.data?.map((row) => row.name)).toEqual(['jobs', 'root.png']);
  });

  it('lists with a folder prefix in the search, and sorts by date with folders first', async () => {
    double.put('attachments', 'jobs/z.png', Buffer.from('z'), 'image/png');
    await new Promise((resolve) => setTimeout(resolve, 5));
    double.put('attachments', 'jobs/a.png', Buffer.from('a'), 'image/png');
    double.put('attachments', 'jobs/m/inner.png', Buffer.from('m'), 'image/png');

    const byDate = await attachments().list('jobs/', { sortBy: { column: 'created_at', order: 'asc' } });
    const missingBucket = await storage.from('nope').list('jobs');

    expect(byDate.data?.map((row) => row.name)).toEqual(['m', 'z.png', 'a.png']);
    expect(missingBucket).toEqual({ data: [], error: null });
  });

  it('reports existence and info through GET /object/info', async () => {
    const bytes = noisePng(8, 8);
    await upload(bytes, { upsert: false });

    const exists = await attachments().exists(PATH);
    const absent = await attachments().exists('jobs/absent.png');
    const info = await attachments().info(PATH);

    expect(exists).toEqual({ data: true, error: null });
    expect(absent.data).toBe(false);
    expect(info.data).toMatchObject({
      name: PATH,
      bucketId: 'attachments',
      size: bytes.length,
      contentType: 'image/png',
      cacheControl: 'max-age=31536000',
      etag: `"${createHash('md5').update(bytes).digest('hex')}"`,
    });
    expect(double.requests.map((request) => request.route)).toEqual(['upload', 'info', 'info', 'info']);
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    const bytes = noisePng(8, 8);
    await upload(bytes, { upsert: false });
    const headers = { apikey: KEY, authorization: `Bearer ${KEY}` };
    const objectUrl = (path: string): string => `${double.url}/storage/v1/object/attachments/${encodeURI(path)}`;

    const found = await fetch(objectUrl(PATH), { method: 'HEAD', headers });
    const missing = await fetch(objectUrl('jobs/missing.png'), { method: 'HEAD', headers });

    expect(found.status).toBe(200);
    expect(found.headers.get('content-length')).toBe(String(bytes.length));
    expect(found.headers.get('content-type')).toBe('image/png');
    expect(await found.text()).toBe('');
    expect(missing.status).toBe(400);
    expect(await missing.text()).toBe('');
  });

  it('removes objects, leaving missing paths out of the answer', async () => {
    await upload(noisePng(8, 8), { upsert: false });

    const removed = await attachments().remove([PATH, 'jobs/never.png']);

    expect(removed.error).toBeNull();
    expect(removed.data?.map((row) => row.name)).toEqual([PATH]);
    expect(double.get('attachments', PATH)).toBeUndefined();
    expect(double.list('attachments')).toEqual([]);
  });

  it('fails the next uploads on demand without storing them', async () => {
    double.failNextUploads(1);
    const failed = await upload(noisePng(8, 8), { upsert: false });
    const succeeded = await upload(noisePng(8, 8), { upsert: false });
    double.failNextUploads(1, 503);
    const unavailable = await upload(noisePng(8, 8), { upsert: true });

    expect(failed.error).toMatchObject({ status: 500, statusCode: '500', message: 'injected fault' });
    expect(succeeded.error).toBeNull();
    expect(unavailable.error).toMatchObject({ status: 503, statusCode: '503' });
    expect(double.requests.map((request) => request.status)).toEqual([500, 200, 503]);
    expect(double.list('attachments')).toEqual([PATH]);
  });

  it('rejects a wrong API key at the gateway and a wrong JWT at the server, echoing neither', async () => {
    const badApiKey = await clientWith('wrong-api-key', KEY).from('attachments').upload(PATH, Buffer.from('x'));
    const badJwt = await clientWith(KEY, 'wrong-jwt').from('attachments').list('jobs');

    expect(badApiKey.error).toMatchObject({ status: 401, message: 'Invalid API key' });
    expect(badJwt.error).toMatchObject({ status: 400, statusCode: '403', code: 'AccessDenied' });
    expect(JSON.stringify([badApiKey.error, badJwt.error])).not.toMatch(/wrong-|service-role/);
    expect(double.list('attachments')).toEqual([]);
  });

  it('answers an unknown bucket with Bucket not found', async () => {
    const result = await storage.from('nope').upload(PATH, Buffer.from('x'));

    expect(result.error).toMatchObject({
      status: 400,
      statusCode: '404',
      code: 'NoSuchBucket',
      message: 'Bucket not found',
    });
  });

  it('upserts on update(), as the real PUT route does', async () => {
    const bytes = noisePng(8, 8);

    const result = await attachments().update('jobs/new.png', bytes, { contentType: 'image/png' });

    expect(result.error).toBeNull();
    expect(double.get('attachments', 'jobs/new.png')?.bytes).toEqual(bytes);
    expect(double.requests[0]).toMatchObject({ method: 'PUT', route: 'update', status: 200 });
    expect(double.requests[0]?.upsert).toBeUndefined();
  });

  it('accepts a Blob, which storage-js sends as multipart/form-data', async () => {
    const bytes = noisePng(8, 8);

    const result = await attachments().upload('jobs/blob.png', new Blob([bytes], { type: 'image/webp' }), {
      cacheControl: '60',
    });

    expect(result.error).toBeNull();
    expect(double.get('attachments', 'jobs/blob.png')).toMatchObject({
      bytes,
      contentType: 'image/webp',
      cacheControl: 'max-age=60',
    });
  });

  it('serves public URLs without keys, and signed URLs', async () => {
    const bytes = noisePng(8, 8);
    await upload(bytes, { upsert: false });

    const publicUrl = attachments().getPublicUrl(PATH).data.publicUrl;
    const signed = await attachments().createSignedUrl(PATH, 60);
    const publicResponse = await fetch(publicUrl);
    const signedResponse = await fetch(signed.data!.signedUrl);
    const forged = await fetch(signed.data!.signedUrl.replace(/token=.*/, 'token=forged'));

    expect(Buffer.from(await publicResponse.arrayBuffer())).toEqual(bytes);
    expect(publicResponse.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await signedResponse.arrayBuffer())).toEqual(bytes);
    expect(forged.status).toBe(400);
  });

  it('serves a private bucket through signed URLs only', async () => {
    await double.stop();
    double = await StorageStandIn.start({ serviceKey: KEY, privateBuckets: ['attachments'] });
    storage = clientWith(KEY, KEY);
    const bytes = noisePng(8, 8);
    await upload(bytes, { upsert: false });

    const publicResponse = await fetch(attachments().getPublicUrl(PATH).data.publicUrl);
    const signed = await attachments().createSignedUrl(PATH, 60);

    expect(publicResponse.status).toBe(400);
    expect(await publicResponse.json()).toMatchObject({ statusCode: '404', error: 'Bucket not found' });
    expect(Buffer.from(await (await fetch(signed.data!.signedUrl)).arrayBuffer())).toEqual(bytes);
  });

  it('waits latencyMs before answering', async () => {
    double.latencyMs = 150;
    const started = Date.now();

    await upload(noisePng(8, 8), { upsert: false });

    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});

async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/**
 * The SDK rethrows a timeout's DOMException as is only if it is `instanceof Error`. Under jest the DOMException
 * comes from Node's realm, not the test's, so the SDK wraps it: Error('exception AbortError: … sending request',
 * { cause: DOMException }). Outside jest the rejection is the DOMException named AbortError itself.
 */
function abortNameOf(error: unknown): string | undefined {
  const { name, cause } = error as { name?: string; cause?: { name?: string } };
  return cause?.name ?? name;
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 10));
}
