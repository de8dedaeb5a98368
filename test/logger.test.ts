import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, humanLines, temporalLoggerFor, type Logger } from '../src/process/logger';
import { eventually } from './support/eventually';
import { capturedLogger } from './support/log-capture';

const JOB_ID = '64aaf75b-c841-4226-9feb-01b0e047799e';
/** What Temporal's SDK puts on an activity's log lines, as it did on the demo's. */
const activityAttributes = {
  taskToken: 'CiQ5ZmE2YmE2Ni1hY3Rpdml0eS10YXNrLXRva2Vu',
  sdkComponent: 'activity',
  taskQueue: 'image-jobs-gemini',
  isLocal: false,
  attempt: 1,
  namespace: 'default',
  activityId: '5',
  activityType: 'generateImage',
  workflowId: `image-job-${JOB_ID}`,
  workflowRunId: '01a243f7-d31e-7b58-8a4f-81882f530110',
  workflowType: 'imageJob',
};
const ids = ['sdkComponent', 'taskQueue', 'activityId', 'workflowRunId', 'workflowType', 'namespace'] as const;

/** The events of a job as the worker and the bridge log them, through Temporal's logger where the SDK's would go. */
function logAJob(log: Logger): void {
  const worker = temporalLoggerFor(log.child({ component: 'worker' }));
  log.child({ component: 'bridge' }).info({ jobId: JOB_ID, runId: '01a243f7-d31e' }, 'job workflow started');
  worker.info('job loaded', { ...activityAttributes, jobId: JOB_ID, quantity: 4, sourceBytes: 68148 });
  worker.info('image stored', {
    ...activityAttributes,
    jobId: JOB_ID,
    image: 3,
    images: 4,
    path: 'a.png',
    bytes: 79845,
  });
  worker.warn('Activity failed', { ...activityAttributes, error: new Error('Gemini answered 503 UNAVAILABLE: busy') });
  worker.warn('image failed', { jobId: JOB_ID, image: 2, images: 4, stem: 'generated_1', reason: 'Gemini blocked it' });
  worker.info('job finished', { ...activityAttributes, jobId: JOB_ID, status: 'completed', completedImages: 3 });
  worker.info('asset workflow-bundle.js 1.61 MiB\n  modules by path ./src/\nwebpack 5.113.0 compiled successfully', {
    sdkComponent: 'worker',
  });
}

test("Temporal's activity log lines keep their attributes but not the task token", () => {
  const { log, lines, text } = capturedLogger('worker');
  temporalLoggerFor(log).info('image stored', { ...activityAttributes, path: 'generated-images/a.png' });
  expect(lines).toEqual([
    expect.objectContaining({
      msg: 'image stored',
      activityType: 'generateImage',
      workflowId: activityAttributes.workflowId,
      path: 'generated-images/a.png',
    }),
  ]);
  expect(text()).not.toContain('taskToken');
  expect(text()).not.toContain(activityAttributes.taskToken);
});

test('human lines: one line per event, in words, naming the job and the image, without the ids', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'quel-log-')), 'demo.log');
  const log = createLogger('info', 'demo', humanLines(file));
  logAJob(log);
  log.flush();
  const text = await eventually(async () => {
    const written = readFileSync(file, 'utf8');
    return written.split('\n').length > 7 && written;
  }, 'the lines to be written');
  const lines = text.trimEnd().split('\n');
  expect(lines.map((line) => line.replace(/^\[\d\d:\d\d:\d\d\.\d{3}\] /, ''))).toEqual([
    'INFO (bridge): job 64aaf75b…: workflow started',
    'INFO (worker): job 64aaf75b…: loaded (4 images)',
    'INFO (worker): job 64aaf75b…: image 3 of 4 stored (80 KB)',
    'WARN (worker): job 64aaf75b…: Activity failed: Gemini answered 503 UNAVAILABLE: busy',
    'WARN (worker): job 64aaf75b…: image 2 of 4 failed: Gemini blocked it',
    'INFO (worker): job 64aaf75b…: finished (completed, 3 made)',
    'INFO (worker): webpack 5.113.0 compiled successfully',
  ]);
  expect(text).not.toContain(activityAttributes.workflowRunId);
});

test('JSON lines, as deployed, keep every id, the fields, and the message and stack of an error', () => {
  const { log, lines } = capturedLogger('worker');
  logAJob(log);
  const stored = lines.find((line) => line.msg === 'image stored');
  expect(stored).toMatchObject({ jobId: JOB_ID, image: 3, images: 4, path: 'a.png', bytes: 79845 });
  for (const id of ids) expect(stored).toHaveProperty(id, activityAttributes[id]);
  expect(lines.find((line) => line.msg === 'Activity failed')).toMatchObject({
    error: { message: 'Gemini answered 503 UNAVAILABLE: busy', stack: expect.stringContaining('logger.test.ts') },
  });
});

test("an error's URLs are logged without their query, where a key or a signed URL's token sits", () => {
  const { log, text } = capturedLogger('worker');
  const failed = new Error('request to http://gateway.test/v1beta/models?key=gateway-key-42 failed, reason: refused');
  temporalLoggerFor(log).warn('Activity failed', { ...activityAttributes, error: failed });
  log.error({ err: new Error('GET https://storage.test/object/sign/a.png?token=signed-token-42: 500') }, 'failed');
  expect(text()).toContain('request to http://gateway.test/v1beta/models failed, reason: refused');
  expect(text()).toContain('GET https://storage.test/object/sign/a.png: 500');
  expect(text()).not.toMatch(/gateway-key-42|signed-token-42/);
});

test('an error given as its message alone (the bridge logs Redis errors so) is logged, its URLs cut too', () => {
  const { log, text } = capturedLogger('bridge');
  log.warn({ err: 'connect ECONNREFUSED to redis://cache.test:6379/0?password=p4ss' }, 'redis connection error');
  log.warn({ err: 42, error: null }, 'odd');
  expect(text()).toContain('"err":"connect ECONNREFUSED to redis://cache.test:6379/0"');
  expect(text()).toContain('"err":42');
  expect(text()).not.toContain('p4ss');
});

test('a credential-shaped field is censored, whatever logged it', () => {
  const { log, text } = capturedLogger('worker');
  log.info({ jobId: 'job-1', apiKey: 'a-key-that-must-not-show', gemini: { apiKey: 'another' } }, 'job finished');
  expect(text()).toContain('"apiKey":"[redacted]"');
  expect(text()).not.toMatch(/a-key-that-must-not-show|another/);
});

test('JSON lines when stdout is not a terminal', () => {
  expect(process.stdout.isTTY).toBeFalsy();
  const written: string[] = [];
  const original = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string) => (written.push(String(chunk)), true)) as typeof process.stdout.write;
  try {
    createLogger('info', 'worker').info({ jobId: 'job-1' }, 'worker started');
  } finally {
    process.stdout.write = original;
  }
  expect(JSON.parse(written.join(''))).toMatchObject({ name: 'worker', msg: 'worker started', jobId: 'job-1' });
});
