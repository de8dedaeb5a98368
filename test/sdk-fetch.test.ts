import http from 'node:http';
import { createGeminiClient, createImageGenerator } from '../src/activities/gemini';
import { createSdkFetch } from '../src/activities/sdk-fetch';
import { createImageStore, createStorageClient } from '../src/activities/storage';
import { FailureType } from '../src/contract';
import { Secret } from '../src/process/secret';
import { FAKE_GEMINI_KEY, FAKE_SERVICE_KEY } from '../dev/stack';
import { GeminiStandIn } from '../dev/stand-ins/gemini';
import { closeServer, listenOnLoopback } from '../dev/stand-ins/http';
import { failureOf } from './support/application-failure';

/**
 * What the Storage and Gemini clients' fetch refuses, through the real SDKs: a redirect to another origin (which
 * would carry `apikey` or `x-goog-api-key` there), and a Gemini answer above its size cap.
 */

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A loopback server answering every request with `answer`, and keeping what it was sent. */
async function server(answer: (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void) {
  const seen: Seen[] = [];
  const httpServer = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      answer(req, res, body);
    });
  });
  const url = await listenOnLoopback(httpServer);
  return { url, seen, stop: () => closeServer(httpServer) };
}

let elsewhere: Awaited<ReturnType<typeof server>>;
let redirector: Awaited<ReturnType<typeof server>>;
let gemini: GeminiStandIn;
beforeAll(async () => {
  elsewhere = await server((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  // Another port is another origin: every request is sent on to `elsewhere`, path and query kept.
  redirector = await server((req, res) => res.writeHead(302, { location: `${elsewhere.url}${req.url}` }).end());
  gemini = await GeminiStandIn.start({ apiKey: FAKE_GEMINI_KEY, imageSize: { width: 200, height: 200 } });
});
afterAll(async () => {
  await Promise.all([elsewhere?.stop(), redirector?.stop(), gemini?.stop()]);
});

function geminiClient(baseUrl: string, maxAnswerBytes?: number) {
  const settings = { model: 'gemini-2.5-flash-image', timeoutMs: 5_000, maxAnswerBytes };
  return createImageGenerator(
    createGeminiClient({ ...settings, apiKey: new Secret(FAKE_GEMINI_KEY), baseUrl, apiVersion: 'v1beta' }),
    settings,
  );
}

const source = { base64: Buffer.from('not looked at').toString('base64'), mimeType: 'image/png' };

test('Storage: a redirect to another origin is refused, not retried, and the service key goes nowhere', async () => {
  const store = createImageStore(
    createStorageClient({ url: redirector.url, serviceKey: new Secret(FAKE_SERVICE_KEY), bucket: 'attachments' }),
    'attachments',
  );
  const failures = await Promise.all([
    failureOf(store.download('merged-images/a.png', 1024)),
    failureOf(store.signedUrl('merged-images/a.png', 60)),
  ]);
  for (const failure of failures) {
    expect(failure).toMatchObject({ type: FailureType.storageRejected, nonRetryable: true });
    expect(failure.message).toContain(`refused a redirect from ${redirector.url} to another origin (${elsewhere.url})`);
  }
  expect(redirector.seen.map((request) => request.headers.apikey)).toEqual([FAKE_SERVICE_KEY, FAKE_SERVICE_KEY]);
  expect(elsewhere.seen).toEqual([]);
});

test('Gemini: a redirect to another origin is refused, not retried, and the API key goes nowhere', async () => {
  const failure = await failureOf(geminiClient(redirector.url).generateVariation('a hat', source, { imageKey: 'j/s' }));
  expect(failure).toMatchObject({ type: FailureType.geminiRejected, nonRetryable: true });
  expect(failure.message).toBe(
    `Gemini's answer was a redirect: refused a redirect from ${redirector.url} to another origin ` +
      `(${elsewhere.url}): the request's keys are not sent there`,
  );
  expect(redirector.seen.at(-1)?.headers['x-goog-api-key']).toBe(FAKE_GEMINI_KEY);
  expect(elsewhere.seen).toEqual([]);
});

test('a redirect within the origin is followed as fetch follows it: 307 repeats the request, 303 goes on as a GET', async () => {
  const moving = await server((req, res, body) => {
    if (req.url === '/repeat') return res.writeHead(307, { location: '/echo' }).end();
    if (req.url === '/see-other') return res.writeHead(303, { location: '/echo' }).end();
    if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${body}`);
  });
  try {
    const sdkFetch = createSdkFetch();
    const post = (path: string) => sdkFetch(`${moving.url}${path}`, { method: 'POST', body: 'the body' });
    expect(await (await post('/repeat')).text()).toBe('POST the body');
    expect(await (await post('/see-other')).text()).toBe('GET ');
    await expect(sdkFetch(`${moving.url}/loop`)).rejects.toThrow(`more than 5 redirects within ${moving.url}`);
  } finally {
    await moving.stop();
  }
});

test('Gemini: an answer above the cap is refused as it is read, as GeminiNoImage, not retried', async () => {
  const failure = await failureOf(
    geminiClient(gemini.baseUrl, 64 * 1024).generateVariation('a hat', source, { imageKey: 'j/big' }),
  );
  expect(failure).toMatchObject({ type: FailureType.geminiNoImage, nonRetryable: true });
  expect(failure.message).toBe("Gemini's answer is larger than 65536 bytes: not read");
  // Under the cap, the same answer is taken.
  const image = await geminiClient(gemini.baseUrl, 1024 * 1024).generateVariation('a hat', source, {
    imageKey: 'j/fits',
  });
  expect(image.mimeType).toBe('image/png');
});
