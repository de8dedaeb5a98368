import { ApplicationFailure } from '@temporalio/common';
import { ApiError, GoogleGenAI, type GenerateContentResponse } from '@google/genai';
import { FailureType } from '../contract';
import { sniffImageType } from './image-type';
import { createSdkFetch, isOverSizeLimit, redirectMessage } from './sdk-fetch';

/** The one module that knows Gemini. */

export interface GeminiSettings {
  apiKey: { reveal(): string };
  model: string;
  baseUrl?: string;
  /** The REST version the calls go to (`/{apiVersion}/models/…`): the one serving the image model's features. */
  apiVersion: string;
  timeoutMs: number;
  /** An answer larger than this is refused as it is read; default {@link MAX_ANSWER_BYTES}. */
  maxAnswerBytes?: number;
}

/**
 * The largest answer read: room for the largest image Gemini's image models make (4096 px a side; a PNG of a photo
 * that size is 20-35 MB, a third more as base64), where a 1024 px answer is 1-2 MB. A larger one, from a broken
 * endpoint or a proxy, would take 8 slots' worth of memory at once: it is refused instead.
 */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

/** Where the source image comes from: inline base64 in the request, or a URL Gemini fetches itself. */
export type SourceMode = 'url' | 'inline';

/**
 * The source as Gemini takes it: by a signed URL (the request stays small; Gemini reads the bytes from Storage), or
 * inline as base64, encoded once per source rather than once per call.
 */
export type SourceImage = { url: string; mimeType: string } | { base64: string; mimeType: string };

export interface GeneratedImage {
  bytes: Buffer;
  mimeType: string;
  extension: string;
}

/** One variation of a source image per call; failures come classified as Temporal failures. */
export interface ImageGenerator {
  generateVariation(prompt: string, source: SourceImage, call: VariationCall): Promise<GeneratedImage>;
}

const VARIATION_INSTRUCTION = '\n\nPlease generate 1 different variation of this image.';

/**
 * Names the image a call is for (`{jobId}/{stem}`), so a request log on the far side (a proxy's, or the test
 * stand-in's) can tell a retry of one image from a call for another. Gemini ignores it.
 */
export const IMAGE_KEY_HEADER = 'x-quel-image-key';

export interface VariationCall {
  /** `{jobId}/{stem}`: ids only, nothing secret or personal. */
  imageKey: string;
  signal?: AbortSignal;
}

/** Finish reasons that mean the model refused, as opposed to simply answering without an image. */
const BLOCKING_FINISH_REASONS = new Set([
  'SAFETY',
  'IMAGE_SAFETY',
  'IMAGE_PROHIBITED_CONTENT',
  'PROHIBITED_CONTENT',
  'BLOCKLIST',
  'SPII',
  'RECITATION',
  'IMAGE_RECITATION',
]);

export function createGeminiClient(settings: GeminiSettings): GoogleGenAI {
  // No SDK-level retries: Temporal owns retrying, and the SDK's own would ignore the server's RetryInfo.
  return new GoogleGenAI({
    apiKey: settings.apiKey.reveal(),
    httpOptions: {
      apiVersion: settings.apiVersion,
      timeout: settings.timeoutMs,
      fetch: createSdkFetch({ maxResponseBytes: settings.maxAnswerBytes ?? MAX_ANSWER_BYTES }),
      ...(settings.baseUrl ? { baseUrl: settings.baseUrl } : {}),
    },
  });
}

export function createImageGenerator(
  client: GoogleGenAI,
  settings: Pick<GeminiSettings, 'model' | 'timeoutMs' | 'maxAnswerBytes'>,
): ImageGenerator {
  const maxAnswerBytes = settings.maxAnswerBytes ?? MAX_ANSWER_BYTES;
  return {
    async generateVariation(prompt: string, source: SourceImage, call: VariationCall): Promise<GeneratedImage> {
      const { signal } = call;
      let response: GenerateContentResponse;
      try {
        response = await client.models.generateContent({
          model: settings.model,
          contents: [
            {
              role: 'user',
              parts: [
                { text: prompt + VARIATION_INSTRUCTION },
                'url' in source
                  ? { fileData: { mimeType: source.mimeType, fileUri: source.url } }
                  : { inlineData: { mimeType: source.mimeType, data: source.base64 } },
              ],
            },
          ],
          config: {
            responseModalities: ['TEXT', 'IMAGE'],
            abortSignal: signal,
            // Merged into the client's options (key, base URL and timeout stay).
            httpOptions: { headers: { [IMAGE_KEY_HEADER]: call.imageKey } },
          },
        });
      } catch (error) {
        // Aborted by the activity's own cancellation: hand Temporal its reason, not a Gemini error.
        if (signal?.aborted) throw signal.reason;
        const refusal = refusedAnswer(error, maxAnswerBytes);
        if (refusal) throw refusal;
        throw 'url' in source
          ? classifyUrlCallError(error, source.url, settings.timeoutMs)
          : classifyCallError(error, settings.timeoutMs);
      }
      return takeImage(response);
    },
  };
}

/**
 * What the worker itself refused, which repeats on every try: an answer above the size limit (paid for, but not
 * read), or a redirect to another origin, which would carry the key there.
 */
function refusedAnswer(error: unknown, maxAnswerBytes: number): ApplicationFailure | undefined {
  if (isOverSizeLimit(error)) {
    return ApplicationFailure.nonRetryable(
      `Gemini's answer is larger than ${maxAnswerBytes} bytes: not read`,
      FailureType.geminiNoImage,
    );
  }
  const redirect = redirectMessage(error);
  if (redirect)
    return ApplicationFailure.nonRetryable(`Gemini's answer was a redirect: ${redirect}`, FailureType.geminiRejected);
  return undefined;
}

async function takeImage(response: GenerateContentResponse): Promise<GeneratedImage> {
  const blockReason = response.promptFeedback?.blockReason;
  if (blockReason) {
    throw ApplicationFailure.nonRetryable(`Gemini blocked the prompt (${blockReason})`, FailureType.geminiBlocked);
  }
  const candidate = response.candidates?.[0];
  // `response.data` would join every inline part into one string; one image is the first inline part.
  const inline = candidate?.content?.parts?.find((part) => part.inlineData?.data)?.inlineData;
  if (!inline?.data) {
    const reason = candidate?.finishReason ?? 'no candidate';
    if (BLOCKING_FINISH_REASONS.has(String(reason))) {
      throw ApplicationFailure.nonRetryable(`Gemini blocked the image (${reason})`, FailureType.geminiBlocked);
    }
    throw ApplicationFailure.nonRetryable(`Gemini answered without an image (${reason})`, FailureType.geminiNoImage);
  }
  const bytes = Buffer.from(inline.data, 'base64');
  // The answer's 2 MB of base64 is garbage from here on: drop it from the parsed answer, which the SDK and this
  // call's frames may keep reachable while the image is sniffed, uploaded and recorded.
  inline.data = undefined;
  const type = await sniffImageType(bytes);
  if (!type.supported) {
    throw ApplicationFailure.nonRetryable(
      `Gemini's image part is not a usable image (declared ${inline.mimeType ?? 'nothing'}, found ${type.seen})`,
      FailureType.geminiNoImage,
    );
  }
  return { bytes, mimeType: type.mimeType, extension: type.extension };
}

/**
 * Gemini answers 400 INVALID_ARGUMENT when it cannot use the source behind a URL ("Cannot fetch content from the
 * provided URL": expired, unreachable, denied; "Unable to process input image": not an image). Such a request was
 * refused before the model ran, so nothing was paid for, and the same image sent inline may well succeed: the caller
 * falls back to inline data. A rejected API key is not about the URL and stays a plain rejection. The URL is a
 * credential, and the answer may quote it: it is cut out of every message.
 */
function classifyUrlCallError(error: unknown, url: string, timeoutMs: number): Error {
  // Redacted as the failure is made, so its stack (which Temporal keeps in history too) never held the URL.
  const failure = () => classifyCallError(error, timeoutMs, (text) => withoutUrl(text, url));
  if (!(error instanceof ApiError) || error.status !== 400) return failure();
  const body = parseErrorBody(error.message);
  if (body.status !== 'INVALID_ARGUMENT' || body.reason === 'API_KEY_INVALID') return failure();
  return ApplicationFailure.retryable(
    `Gemini could not use the source image by its URL: ${withoutUrl(body.message, url)}`,
    FailureType.geminiSourceUrlUnusable,
  );
}

/** The signed URL, and any token it carries (quoted whole, decoded or re-encoded), as `[signed URL]`. */
function withoutUrl(text: string, url: string): string {
  return text
    .split(url)
    .join('[signed URL]')
    .replace(/token=[^&\s"']+/g, 'token=[redacted]');
}

/** The fallback's trigger: this image's source must go inline. */
export function isSourceUrlUnusable(error: unknown): boolean {
  return error instanceof ApplicationFailure && error.type === FailureType.geminiSourceUrlUnusable;
}

/**
 * 429 waits for the server's RetryInfo delay; 5xx, timeouts and network errors retry with backoff; anything
 * else (invalid argument, bad key, unknown model) cannot succeed by trying again.
 */
function classifyCallError(error: unknown, timeoutMs: number, redact = (text: string) => text): Error {
  if (error instanceof ApiError) {
    const body = parseErrorBody(error.message);
    const detail = redact(`Gemini answered ${error.status}${body.status ? ` ${body.status}` : ''}: ${body.message}`);
    if (error.status === 429) {
      return ApplicationFailure.create({
        message: detail,
        type: FailureType.geminiRateLimited,
        nextRetryDelay: body.retryDelay,
      });
    }
    if (error.status >= 500 || error.status === 408) {
      return ApplicationFailure.retryable(detail, FailureType.geminiUnavailable);
    }
    return ApplicationFailure.nonRetryable(detail, FailureType.geminiRejected);
  }
  if (causes(error).some((cause) => cause.name === 'AbortError')) {
    return ApplicationFailure.retryable(`Gemini did not answer within ${timeoutMs} ms`, FailureType.geminiUnavailable);
  }
  const message = redact(error instanceof Error ? error.message : String(error));
  return ApplicationFailure.retryable(`Gemini could not be reached: ${message}`, FailureType.geminiUnavailable);
}

/** The SDK wraps fetch's errors (`exception AbortError: … sending request`), so look down the cause chain. */
function causes(error: unknown): Array<{ name?: unknown; cause?: unknown }> {
  const chain: Array<{ name?: unknown; cause?: unknown }> = [];
  // Not `instanceof Error`: the abort reason is a DOMException, which may come from another realm.
  for (let e = error; typeof e === 'object' && e !== null && chain.length < 8; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
  }
  return chain;
}

interface GoogleErrorBody {
  status?: string;
  message: string;
  /** ErrorInfo's reason, e.g. API_KEY_INVALID. */
  reason?: string;
  /** Milliseconds. */
  retryDelay?: number;
}

/** The SDK puts the JSON error body in the message; RetryInfo's delay (`"38s"`, `"45.8s"`) is in its details. */
function parseErrorBody(text: string): GoogleErrorBody {
  const start = text.indexOf('{');
  try {
    const { error } = JSON.parse(start >= 0 ? text.slice(start) : text) as {
      error?: {
        status?: string;
        message?: string;
        details?: Array<{ '@type'?: string; retryDelay?: string; reason?: string }>;
      };
    };
    const retryInfo = error?.details?.find((d) => d['@type']?.endsWith('google.rpc.RetryInfo'));
    const errorInfo = error?.details?.find((d) => d['@type']?.endsWith('google.rpc.ErrorInfo'));
    const seconds = retryInfo?.retryDelay ? Number.parseFloat(retryInfo.retryDelay) : Number.NaN;
    return {
      status: error?.status,
      message: error?.message ?? text,
      reason: errorInfo?.reason,
      retryDelay: Number.isFinite(seconds) ? Math.ceil(seconds * 1000) : undefined,
    };
  } catch {
    return { message: text };
  }
}
