import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { closeServer, headerValue, listenOnLoopback, readBody, sendJson, serve, waitUnlessClientGone } from './http';
import { noiseJpeg, noisePng, noiseWebp, pngStamper, type EncodedImage } from './images';
import { variationOf } from './variations';
import { sniffImageType } from '../../src/activities/image-type';

/*
 * A local stand-in for the Gemini API `models.generateContent` endpoint, speaking the wire shapes that
 * `@google/genai` sends and parses (request and answer shapes, error bodies, finish reasons), so the real SDK runs against it.
 */

/** GIF is a type Gemini may send and the product cannot store. */
export type GeminiImageMime = 'image/png' | 'image/jpeg' | 'image/webp' | 'image/gif';
export type GeminiBehaviour =
  | { kind: 'image'; mimeType?: GeminiImageMime; declaredMimeType?: string; withText?: boolean }
  | { kind: 'server-error'; status?: 500 | 503 | 504 }
  | { kind: 'rate-limited'; retryDelay?: string }
  | { kind: 'hang' }
  | { kind: 'prompt-blocked'; blockReason?: string }
  | { kind: 'output-blocked'; finishReason?: string }
  | { kind: 'text-only' }
  | { kind: 'malformed-base64' }
  | { kind: 'invalid-argument' };

export interface GeminiRequestRecord {
  index: number;
  at: number;
  model: string;
  apiKey: string | undefined;
  prompt: string;
  imageMimeType: string | undefined;
  imageBytes: number;
  imageSha256: string | undefined;
  /** How the source image came: in the request, or by `fileData.fileUri`, which the stand-in fetched. */
  sourceVia: 'inline' | 'url' | undefined;
  /** The `fileUri` sent, kept so tests can check the signed URL never reaches a log or a history. */
  fileUri?: string;
  /** Why the source behind `fileUri` could not be used; the call was answered 400 INVALID_ARGUMENT. */
  sourceFailure?: SourceFailure;
  behaviour: GeminiBehaviour['kind'];
  /** The product's `x-quel-image-key` header: which image (`{jobId}/{stem}`) the call was for. */
  imageKey: string | undefined;
  /** HTTP status answered; 0 while unanswered, and for ever when the request hung or the client left. */
  status: number;
  /** sha256 of the image bytes answered, when any. */
  answerSha256?: string;
}

/** A fixed wait before each answer, or one drawn per call (the soak run's, between 0.5 and 3 s). */
export type Latency = number | (() => number);

export interface GeminiStandInOptions {
  latencyMs?: Latency;
  /** When set, requests carrying another `x-goog-api-key` get the real API's 400 API_KEY_INVALID. */
  apiKey?: string;
  /** Size of the PNG answers (random noise, about 3 bytes per pixel); default 64x64. */
  imageSize?: { width: number; height: number };
  /** The REST version answered (`/{apiVersion}/models/…`); any other is a 404, as an unknown route is. */
  apiVersion?: string;
  /**
   * What an image answer shows: random noise (default; cheap, unique, of the configured size) or a real variation
   * of the request's source image (the demo's, so a person sees something worth looking at).
   */
  answers?: 'noise' | 'variations';
  /** A fixed loopback port; default: any free one. */
  port?: number;
}

type BehaviourChooser = (request: { index: number; prompt: string; model: string }) => GeminiBehaviour;
export type SourceFailure = 'unfetchable' | 'unsupported-uri' | 'not-an-image';
/** True when this `fileUri` fetch is to fail as if the URL could not be reached (chaos runs). */
export type UrlFetchFaultChooser = () => boolean;

interface Answer {
  status: number;
  body: unknown;
  answerSha256?: string;
  /** The image's base64, sent where the body holds {@link IMAGE_DATA_PLACEHOLDER}, so it is never re-serialised. */
  imageBase64?: Buffer[];
}

const IMAGE_DATA_PLACEHOLDER = '@@image-data@@';

interface ParsedRequest {
  prompt: string;
  imageMimeType: string | undefined;
  image: Buffer | undefined;
  fileUri: string | undefined;
}

/** How long the stand-in waits for a `fileUri` before calling it unreachable. */
const FILE_URI_TIMEOUT_MS = 30_000;

const ONE_PIXEL_GIF = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const GENERATE_CONTENT_PATH = /^\/([^/]+)\/models\/([^/]+):generateContent$/;
const DEFAULT_IMAGE_SIZE = { width: 64, height: 64 };
const USAGE = { promptTokenCount: 1290, candidatesTokenCount: 1290, totalTokenCount: 2580 };

export class GeminiStandIn {
  readonly requests: GeminiRequestRecord[] = [];
  latencyMs: Latency;
  readonly apiVersion: string;
  /** One noise PNG per stand-in, stamped per answer (see pngStamper). */
  private stampPng?: (text: string) => EncodedImage;
  private readonly queue: GeminiBehaviour[] = [];
  private chooser: BehaviourChooser | undefined;
  private urlFetchFaults: UrlFetchFaultChooser | undefined;
  /** Each image's variation, by job and image key (see {@link variationNumber}). */
  private readonly variationNumbers = new Map<string, Map<string, number>>();

  private imageSize: { width: number; height: number };

  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
    private readonly options: GeminiStandInOptions,
  ) {
    this.latencyMs = options.latencyMs ?? 0;
    this.imageSize = options.imageSize ?? DEFAULT_IMAGE_SIZE;
    this.apiVersion = options.apiVersion ?? 'v1beta';
  }

  /** The PNG answers' size from now on (the bench's runs at two sizes). */
  answerImagesOf(size: { width: number; height: number }): void {
    this.imageSize = size;
    this.stampPng = undefined;
  }

  static async start(options: GeminiStandInOptions = {}): Promise<GeminiStandIn> {
    const server = http.createServer();
    const standIn = new GeminiStandIn(server, await listenOnLoopback(server, options.port), options);
    serve(server, (req, res) => standIn.handle(req, res));
    return standIn;
  }

  /** Queues behaviours for the next requests, consumed in order, one per request. */
  enqueue(...behaviours: GeminiBehaviour[]): void {
    this.queue.push(...behaviours);
  }

  /** Chooses the behaviour once the queue is empty; undefined restores the default PNG answer. */
  respondWith(chooser: BehaviourChooser | undefined): void {
    this.chooser = chooser;
  }

  /** Fails `fileUri` fetches whenever the chooser says so; undefined fetches every one. */
  failUrlFetches(chooser: UrlFetchFaultChooser | undefined): void {
    this.urlFetchFaults = chooser;
  }

  stop(): Promise<void> {
    return closeServer(this.server);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // When the request came, not when it was answered: reading it and fetching its fileUri take time.
    const at = Date.now();
    const { pathname } = new URL(req.url ?? '/', this.baseUrl);
    const route = GENERATE_CONTENT_PATH.exec(pathname);
    const body = await readBody(req);
    if (req.method !== 'POST' || !route || route[1] !== this.apiVersion) {
      if (await waitUnlessClientGone(res, this.nextLatency())) sendAnswer(res, notFound(req.method, pathname));
      return;
    }
    const model = decodeURIComponent(route[2] ?? '');
    const apiKey = headerValue(req, 'x-goog-api-key');
    const parsed = parseGenerateContentBody(body);
    // Like Gemini, the key and the JSON are checked first, then the file behind the URL is fetched.
    const keyOrJson = rejectionOf(this.options.apiKey, apiKey, parsed);
    const sourceFailure = keyOrJson || !parsed?.fileUri ? undefined : await this.fetchSource(parsed);
    const rejection = keyOrJson ?? (sourceFailure && sourceRejection(sourceFailure, parsed!.fileUri!));
    const index = this.requests.length;
    // A rejected request never reaches the model, so it consumes no queued behaviour.
    const behaviour: GeminiBehaviour = rejection
      ? { kind: 'invalid-argument' }
      : this.nextBehaviour({ index, prompt: parsed?.prompt ?? '', model });
    const record = recordOf(index, at, model, apiKey, parsed, behaviour.kind);
    record.imageKey = headerValue(req, 'x-quel-image-key');
    if (sourceFailure) record.sourceFailure = sourceFailure;
    this.requests.push(record);
    if (sourceFailure) {
      // Refused before the model ran: no latency of the model's to wait for.
      record.status = rejection!.status;
      sendAnswer(res, rejection!);
      return;
    }
    if (behaviour.kind === 'hang') return; // the socket is released when the client aborts or on stop()
    if (!(await waitUnlessClientGone(res, this.nextLatency()))) return;
    const answer = rejection ?? this.answerTo(behaviour, model, parsed, record.imageKey);
    record.status = answer.status;
    if (answer.answerSha256) record.answerSha256 = answer.answerSha256;
    sendAnswer(res, answer);
  }

  /**
   * Fetches `fileUri` as Gemini would (no credentials but the URL's own) into `parsed.image`; says why it failed
   * when the URL is expired, denied, unreachable, or does not hold an image.
   */
  private async fetchSource(parsed: ParsedRequest): Promise<SourceFailure | undefined> {
    if (!/^https?:\/\//.test(parsed.fileUri!)) return 'unsupported-uri';
    if (this.urlFetchFaults?.()) return 'unfetchable';
    const bytes = await download(parsed.fileUri!);
    if (!bytes) return 'unfetchable';
    if (!(await sniffImageType(bytes)).supported) return 'not-an-image';
    parsed.image = bytes;
    return undefined;
  }

  private nextLatency(): number {
    return typeof this.latencyMs === 'function' ? this.latencyMs() : this.latencyMs;
  }

  private nextBehaviour(request: { index: number; prompt: string; model: string }): GeminiBehaviour {
    return this.queue.shift() ?? this.chooser?.(request) ?? { kind: 'image' };
  }

  private answerTo(
    behaviour: Exclude<GeminiBehaviour, { kind: 'hang' }>,
    model: string,
    request: ParsedRequest | undefined,
    imageKey: string | undefined,
  ): Answer {
    switch (behaviour.kind) {
      case 'image':
        return this.imageAnswer(behaviour, model, request, imageKey);
      case 'server-error':
        return serverError(behaviour.status ?? 500);
      case 'rate-limited':
        return rateLimited(behaviour.retryDelay ?? '2s');
      case 'prompt-blocked':
        return success({ promptFeedback: { blockReason: behaviour.blockReason ?? 'SAFETY' } }, model);
      case 'output-blocked':
        return success({ candidates: [blockedCandidate(behaviour.finishReason ?? 'IMAGE_SAFETY')] }, model);
      case 'text-only':
        return success(
          { candidates: [candidate([{ text: "I can't edit this image, but here is a description." }])] },
          model,
        );
      case 'malformed-base64':
        return success({ candidates: [candidate([inlineDataPart('image/png', '%%% not base64 %%%')])] }, model);
      case 'invalid-argument':
        return badImage();
    }
  }

  private imageAnswer(
    behaviour: Extract<GeminiBehaviour, { kind: 'image' }>,
    model: string,
    request: ParsedRequest | undefined,
    imageKey: string | undefined,
  ): Answer {
    const mimeType = behaviour.mimeType ?? 'image/png';
    const image =
      this.options.answers === 'variations' ? this.variation(request, imageKey) : this.encodedImage(mimeType);
    if (!image) return badImage();
    const parts = [
      ...(behaviour.withText ? [{ text: 'Here is the edited image.' }] : []),
      inlineDataPart(behaviour.declaredMimeType ?? mimeType, IMAGE_DATA_PLACEHOLDER),
    ];
    return {
      ...success({ candidates: [candidate(parts)] }, model),
      answerSha256: image.sha256,
      imageBase64: image.base64,
    };
  }

  private variation(request: ParsedRequest | undefined, imageKey: string | undefined): EncodedImage | undefined {
    const source = request?.image;
    const png = source && variationOf(source, request.imageMimeType ?? '', this.variationNumber(imageKey));
    return png && { base64: [Buffer.from(png.toString('base64'), 'latin1')], sha256: sha256(png) };
  }

  /**
   * Which variation an image gets: the job's images (the key's `{jobId}/` part) are numbered 0, 1, 2… as each is
   * first asked for, and the number stays with the image, so a retried call answers the same picture and no two
   * images of a job look alike, however their calls interleave. A call naming no image counts as an image of its own.
   */
  private variationNumber(imageKey: string | undefined): number {
    if (!imageKey) return this.requests.length;
    const jobId = imageKey.slice(0, Math.max(0, imageKey.lastIndexOf('/')));
    const numbers = this.variationNumbers.get(jobId) ?? new Map<string, number>();
    this.variationNumbers.set(jobId, numbers);
    if (!numbers.has(imageKey)) numbers.set(imageKey, numbers.size);
    return numbers.get(imageKey)!;
  }

  private encodedImage(mimeType: GeminiImageMime): EncodedImage {
    if (mimeType === 'image/png') {
      const { width, height } = this.imageSize;
      this.stampPng ??= pngStamper(noisePng(width, height));
      return this.stampPng(`answer ${this.requests.length} ${randomBytes(8).toString('hex')}`);
    }
    const bytes = mimeType === 'image/jpeg' ? noiseJpeg() : mimeType === 'image/webp' ? noiseWebp() : ONE_PIXEL_GIF;
    return { base64: [Buffer.from(bytes.toString('base64'), 'latin1')], sha256: sha256(bytes) };
  }
}

/**
 * The bytes behind `url`, or undefined when it answers other than 2xx, cannot be reached or does not answer in time.
 * Over node:http rather than fetch: the bench's url mode reads a 1.5 MB source per call here, in the process whose
 * CPU the bench counts as the stand-ins', and fetch's web streams copy every chunk on the way.
 */
function download(url: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const client = url.startsWith('https:') ? https : http;
    const request = client.get(url, { signal: AbortSignal.timeout(FILE_URI_TIMEOUT_MS) }, (response) => {
      const chunks: Buffer[] = [];
      const ok = response.statusCode !== undefined && response.statusCode >= 200 && response.statusCode < 300;
      response.on('data', (chunk: Buffer) => {
        if (ok) chunks.push(chunk);
      });
      response.on('end', () => resolve(ok ? Buffer.concat(chunks) : undefined));
      response.on('error', () => resolve(undefined));
    });
    request.on('error', () => resolve(undefined));
  });
}

function recordOf(
  index: number,
  at: number,
  model: string,
  apiKey: string | undefined,
  parsed: ParsedRequest | undefined,
  behaviour: GeminiBehaviour['kind'],
): GeminiRequestRecord {
  return {
    index,
    at,
    model,
    apiKey,
    prompt: parsed?.prompt ?? '',
    imageMimeType: parsed?.imageMimeType,
    imageBytes: parsed?.image?.length ?? 0,
    imageSha256: parsed?.image ? sha256(parsed.image) : undefined,
    sourceVia: parsed?.fileUri ? 'url' : parsed?.image ? 'inline' : undefined,
    ...(parsed?.fileUri && { fileUri: parsed.fileUri }),
    behaviour,
    imageKey: undefined,
    status: 0,
  };
}

interface WirePart {
  text?: unknown;
  inlineData?: { mimeType?: unknown; data?: unknown };
  fileData?: { mimeType?: unknown; fileUri?: unknown };
}

/** Reads the prompt (text parts joined by newlines) and the first image, inline or by URI; undefined if not JSON. */
function parseGenerateContentBody(body: Buffer): ParsedRequest | undefined {
  let json: { contents?: { parts?: WirePart[] }[] };
  try {
    json = JSON.parse(body.toString('utf8')) as typeof json;
  } catch {
    return undefined;
  }
  const parts = (json.contents ?? []).flatMap((content) => content.parts ?? []);
  const texts = parts.flatMap((part) => (typeof part.text === 'string' ? [part.text] : []));
  const inline = parts.find((part) => typeof part.inlineData?.data === 'string')?.inlineData;
  const file = parts.find((part) => typeof part.fileData?.fileUri === 'string')?.fileData;
  const mimeType = inline?.mimeType ?? file?.mimeType;
  return {
    prompt: texts.join('\n'),
    imageMimeType: typeof mimeType === 'string' ? mimeType : undefined,
    image: inline ? Buffer.from(inline.data as string, 'base64') : undefined,
    fileUri: !inline && file ? (file.fileUri as string) : undefined,
  };
}

function sendAnswer(res: http.ServerResponse, answer: Answer): void {
  if (!answer.imageBase64) return sendJson(res, answer.status, answer.body);
  const [head, tail] = JSON.stringify(answer.body).split(IMAGE_DATA_PLACEHOLDER) as [string, string];
  const pieces = [Buffer.from(head), ...answer.imageBase64, Buffer.from(tail)];
  const length = pieces.reduce((sum, piece) => sum + piece.length, 0);
  res.writeHead(answer.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': length });
  for (const piece of pieces.slice(0, -1)) res.write(piece);
  res.end(pieces.at(-1));
}

function success(fields: Record<string, unknown>, model: string): Answer {
  const usageMetadata = 'candidates' in fields ? USAGE : { promptTokenCount: USAGE.promptTokenCount };
  return { status: 200, body: { ...fields, usageMetadata, modelVersion: model, responseId: responseId() } };
}

function candidate(parts: unknown[]): unknown {
  return { content: { role: 'model', parts }, finishReason: 'STOP', index: 0 };
}

function blockedCandidate(finishReason: string): unknown {
  return {
    content: { role: 'model' },
    finishReason,
    finishMessage: 'Unable to show the generated image. The image was filtered out because it violated policies.',
    index: 0,
  };
}

function inlineDataPart(mimeType: string, data: string): unknown {
  return { inlineData: { mimeType, data } };
}

function responseId(): string {
  return randomBytes(16).toString('base64url');
}

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function apiError(code: number, status: string, message: string, details?: unknown[]): Answer {
  return { status: code, body: { error: { code, message, status, ...(details && { details }) } } };
}

function notFound(method: string | undefined, pathname: string): Answer {
  return apiError(404, 'NOT_FOUND', `Method not found: ${method ?? ''} ${pathname}`);
}

function serverError(status: 500 | 503 | 504): Answer {
  switch (status) {
    case 500:
      return apiError(
        500,
        'INTERNAL',
        'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
      );
    case 503:
      return apiError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
    case 504:
      return apiError(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.');
  }
}

function rateLimited(retryDelay: string): Answer {
  const message =
    'You exceeded your current quota, please check your plan and billing details. For more information on this ' +
    `error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. Please retry in ${retryDelay}.`;
  return apiError(429, 'RESOURCE_EXHAUSTED', message, [
    {
      '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
      violations: [
        {
          quotaMetric: 'generativelanguage.googleapis.com/generate_content_paid_tier_requests',
          quotaId: 'GenerateRequestsPerMinutePerProjectPerModel',
        },
      ],
    },
    {
      '@type': 'type.googleapis.com/google.rpc.Help',
      links: [
        { description: 'Learn more about Gemini API quotas', url: 'https://ai.google.dev/gemini-api/docs/rate-limits' },
      ],
    },
    { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay },
  ]);
}

function badImage(): Answer {
  return apiError(
    400,
    'INVALID_ARGUMENT',
    'Unable to process input image. Please retry or report in https://developers.generativeai.google/guide/troubleshooting',
  );
}

/** Gemini's answers when the file behind `fileUri` cannot be used. */
function sourceRejection(failure: SourceFailure, fileUri: string): Answer {
  switch (failure) {
    case 'unfetchable':
      return apiError(400, 'INVALID_ARGUMENT', 'Cannot fetch content from the provided URL.');
    case 'unsupported-uri':
      // Gemini quotes the URI back, signature and all.
      return apiError(400, 'INVALID_ARGUMENT', `Unsupported file uri: ${fileUri}`);
    case 'not-an-image':
      return badImage();
  }
}

/** The real API checks the key, then the JSON, before anything else. */
function rejectionOf(
  expectedKey: string | undefined,
  apiKey: string | undefined,
  parsed: ParsedRequest | undefined,
): Answer | undefined {
  if (expectedKey !== undefined && apiKey !== expectedKey) return invalidApiKey();
  if (!parsed) return apiError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.');
  return undefined;
}

function invalidApiKey(): Answer {
  const message = 'API key not valid. Please pass a valid API key.';
  return apiError(400, 'INVALID_ARGUMENT', message, [
    {
      '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
      reason: 'API_KEY_INVALID',
      domain: 'googleapis.com',
      metadata: { service: 'generativelanguage.googleapis.com' },
    },
    { '@type': 'type.googleapis.com/google.rpc.LocalizedMessage', locale: 'en-US', message },
  ]);
}
