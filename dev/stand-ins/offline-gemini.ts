import http from 'node:http';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/**
 * The demo's stand-in for Gemini when no GEMINI_API_KEY is set: a local server that speaks the same
 * `generateContent` REST shape, so the product's Gemini client runs unchanged against it, and answers each
 * request with a real variation of the source image (its hues turned, every other one mirrored).
 */

interface Pixels {
  width: number;
  height: number;
  data: Buffer; // RGBA
}

export interface OfflineImageGenerator {
  baseUrl: string;
  stop(): Promise<void>;
}

export async function startOfflineImageGenerator(options: {
  port: number;
  latencyMs: number;
}): Promise<OfflineImageGenerator> {
  let made = 0;
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const answer = (status: number, body: unknown) => {
        response.writeHead(status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(body));
      };
      if (request.method !== 'POST' || !/:generateContent$/.test(request.url ?? '')) {
        return answer(404, { error: { code: 404, message: 'Not found', status: 'NOT_FOUND' } });
      }
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString()) as {
          contents?: Array<{ parts?: Array<{ inlineData?: { mimeType?: string; data?: string } }> }>;
        };
        const inline = body.contents?.[0]?.parts?.find((part) => part.inlineData)?.inlineData;
        if (!inline?.data) throw new Error('no inline image in the request');
        const variation = vary(decode(Buffer.from(inline.data, 'base64'), inline.mimeType ?? ''), made++);
        setTimeout(() => {
          answer(200, {
            candidates: [
              {
                content: {
                  role: 'model',
                  parts: [
                    { text: 'Here is a variation (made offline by the demo).' },
                    {
                      inlineData: { mimeType: 'image/png', data: PNG.sync.write(variation as PNG).toString('base64') },
                    },
                  ],
                },
                finishReason: 'STOP',
                index: 0,
              },
            ],
            modelVersion: 'offline-demo',
          });
        }, options.latencyMs);
      } catch (error) {
        answer(400, { error: { code: 400, message: (error as Error).message, status: 'INVALID_ARGUMENT' } });
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, '127.0.0.1', resolve);
  });
  return {
    baseUrl: `http://127.0.0.1:${options.port}`,
    stop: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function decode(bytes: Buffer, mimeType: string): Pixels {
  if (mimeType === 'image/jpeg') return jpeg.decode(bytes, { useTArray: false, formatAsRGBA: true }) as Pixels;
  if (mimeType === 'image/png') return PNG.sync.read(bytes);
  throw new Error(`the offline generator reads PNG and JPEG only, not ${mimeType}`);
}

/** Turns the hues by a different angle for each image and mirrors every other one: visibly different, same scene. */
function vary(source: Pixels, index: number): Pixels {
  const angle = ((index * 137.5 + 60) % 360) * (Math.PI / 180);
  const [cos, sin] = [Math.cos(angle), Math.sin(angle)];
  // The standard luminance-preserving hue-rotation matrix.
  const m = [
    0.213 + cos * 0.787 - sin * 0.213,
    0.715 - cos * 0.715 - sin * 0.715,
    0.072 - cos * 0.072 + sin * 0.928,
    0.213 - cos * 0.213 + sin * 0.143,
    0.715 + cos * 0.285 + sin * 0.14,
    0.072 - cos * 0.072 - sin * 0.283,
    0.213 - cos * 0.213 - sin * 0.787,
    0.715 - cos * 0.715 + sin * 0.715,
    0.072 + cos * 0.928 + sin * 0.072,
  ] as const;
  const out = new PNG({ width: source.width, height: source.height });
  const mirror = index % 2 === 1;
  for (let y = 0; y < source.height; y++) {
    for (let x = 0; x < source.width; x++) {
      const from = (y * source.width + (mirror ? source.width - 1 - x : x)) * 4;
      const to = (y * source.width + x) * 4;
      const [r, g, b] = [source.data[from]!, source.data[from + 1]!, source.data[from + 2]!];
      out.data[to] = clamp(m[0] * r + m[1] * g + m[2] * b);
      out.data[to + 1] = clamp(m[3] * r + m[4] * g + m[5] * b);
      out.data[to + 2] = clamp(m[6] * r + m[7] * g + m[8] * b);
      out.data[to + 3] = source.data[from + 3]!;
    }
  }
  return out;
}

const clamp = (value: number) => Math.max(0, Math.min(255, Math.round(value)));
