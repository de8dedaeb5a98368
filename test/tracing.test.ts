import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnService } from '../dev/processes';
import { ROOT } from '../dev/setup-scripts';
import { RedisServer } from '../dev/redis-server';
import { jobState } from '../dev/seed';
import {
  BUCKET,
  FAKE_GEMINI_KEY,
  FAKE_SERVICE_KEY,
  seedJob,
  startStack,
  workerEnvironment,
  type Stack,
} from '../dev/stack';
import { freePort } from '../dev/ports';
import { tracedWorkflowBundle, uniqueTaskQueue, workflowBundle } from '../dev/workers';
import { tracedBundlePath } from '../src/worker/workflow-bundle';
import { jobStartOptions, workflowIdForJob } from '../src/contract';
import { startTracing } from '../src/process/start-tracing';
import { inJobSpan } from '../src/process/tracing';
import { eventually } from './support/eventually';
import { OtlpReceiver, type ReceivedSpan } from '../dev/otlp-receiver';

/**
 * Tracing, as deployed: a bridge process and a worker process, each exporting over OTLP/HTTP to a local receiver.
 * One trace runs from the bridge's start of a job through its workflow and activities to the Gemini and Storage
 * HTTP calls; every span carries the job id, and none a key or a URL's query.
 */

const execFileAsync = promisify(execFile);
let stack: Stack;
let redis: RedisServer;
let receiver: OtlpReceiver;
beforeAll(async () => {
  [stack, redis, receiver] = await Promise.all([
    startStack({ temporal: true }),
    RedisServer.start(),
    OtlpReceiver.start(),
  ]);
});
afterAll(async () => {
  await Promise.all([redis?.stop(), stack?.stop(), receiver?.stop()]);
});

test('one trace joins the bridge start of a job to its generateImage and recordImage spans and their HTTP calls', async () => {
  const env = {
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: uniqueTaskQueue('tracing'),
    REDIS_URL: redis.url,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
  };
  // The two bundles `npm run build` makes, as the Docker image has them: a tracing worker must run the one with
  // tracing's workflow interceptors, or the workflow's spans would be missing below.
  const prebuilt = path.join(mkdtempSync(path.join(os.tmpdir(), 'quel-bundle-')), 'workflow-bundle.js');
  writeFileSync(prebuilt, (await workflowBundle()).code);
  writeFileSync(tracedBundlePath(prebuilt), (await tracedWorkflowBundle()).code);
  const worker = spawnService('worker', { ...env, ...workerEnvironment(stack), WORKFLOW_BUNDLE_PATH: prebuilt });
  const bridge = spawnService('bridge', env);
  await Promise.all([worker.started, bridge.started]);
  const job = await seedJob(stack, { quantity: 2 });
  const frontEnd = redis.client();
  await frontEnd.lpush('image-jobs:queue', job.jobId);
  frontEnd.disconnect();
  // The workflow's last task, after the row is finished, ends its spans.
  const workflow = stack.temporal!.client.workflow.getHandle(workflowIdForJob(job.jobId));
  await eventually(() => workflow.describe(), 'the bridge to start the workflow');
  await workflow.result();
  expect((await jobState(stack.db.pool, job.jobId)).job_status).toBe('completed');
  // Both processes flush what they hold when they stop.
  worker.child.kill('SIGTERM');
  bridge.child.kill('SIGTERM');
  expect(await Promise.all([worker.exited, bridge.exited])).toEqual([0, 0]);

  // It ran the prebuilt bundle: bundling at start would have kept webpack's memory for the worker's lifetime.
  expect(worker.output()).not.toContain('Workflow bundle created');
  const start = receiver.spans.find((span) => span.name === 'bridge.startJob');
  expect(start).toMatchObject({ service: 'image-jobs-bridge', parentSpanId: '', attributes: { 'job.id': job.jobId } });
  const trace = receiver.spans.filter((span) => span.traceId === start!.traceId);
  const named = (name: string) => trace.filter((span) => span.name === name);
  expect(named('RunActivity:generateImage')).toHaveLength(2);
  expect(named('RunActivity:recordImage')).toHaveLength(2);
  // Each activity span descends from the bridge's start, through the workflow's spans.
  for (const span of [...named('RunActivity:generateImage'), ...named('RunActivity:recordImage')]) {
    expect(ancestry(trace, span).map((s) => s.name)).toEqual(
      expect.arrayContaining(['bridge.startJob', 'StartWorkflow:imageJob', 'RunWorkflow:imageJob']),
    );
    expect(span.service).toBe('image-jobs-worker');
  }
  // The HTTP calls inside generateImage: a Gemini call and a Storage upload each (node-fetch, so the http
  // instrumentation's spans, which name the URL `http.url`).
  const httpCalls = trace.filter((span) => typeof span.attributes['http.url'] === 'string');
  const generateIds = new Set(named('RunActivity:generateImage').map((span) => span.spanId));
  const callsOf = (part: string) =>
    httpCalls.filter(
      (span) => generateIds.has(span.parentSpanId) && String(span.attributes['http.url']).includes(part),
    );
  expect(callsOf(':generateContent')).toHaveLength(2);
  expect(callsOf('/storage/v1/object/attachments/')).not.toHaveLength(0);
  // The signing of the source's URL is traced, its answer (the signed URL) is not.
  expect(callsOf('/storage/v1/object/sign/')).toHaveLength(2);

  // The job id on every span of the trace, and no other trace names this job.
  for (const span of trace)
    expect({ name: span.name, jobId: span.attributes['job.id'] }).toEqual({ name: span.name, jobId: job.jobId });
  // No key anywhere in what was exported.
  const exported = receiver.bodies.join('\n');
  expect(exported).not.toContain(FAKE_GEMINI_KEY);
  expect(exported).not.toContain(FAKE_SERVICE_KEY);
}, 120_000);

test('a URL query, where a signed URL carries its token, never reaches a span; the job id does', async () => {
  const tracing = startTracing({ otlpEndpoint: receiver.endpoint }, 'tracing-test');
  const token = 'signed-url-token-0123456789';
  const jobId = 'a-job-of-this-test';
  const url = `${stack.storage.url}/storage/v1/object/sign/${BUCKET}/some/object.png?token=${token}`;
  const status = await inJobSpan('test.download', jobId, async () => (await fetch(url)).status);
  await tracing.shutdown();
  // The SDKs' fetch (node-fetch, over node:http) in a process of its own: the http instrumentation patches node:http
  // as Node loads modules, which jest's module registry bypasses.
  const child = await execFileAsync(
    process.execPath,
    [
      '-r',
      'ts-node/register/transpile-only',
      '-e',
      `const tracing = require('./src/process/start-tracing').startTracing({ otlpEndpoint: ${JSON.stringify(receiver.endpoint)} }, 'tracing-test-http');
       require('./src/process/tracing').inJobSpan('test.download', ${JSON.stringify(jobId)}, () => require('./src/activities/sdk-fetch').sdkFetch(${JSON.stringify(url)}))
         .then((response) => tracing.shutdown().then(() => console.log(response.status)));`,
    ],
    { cwd: ROOT, encoding: 'utf8' },
  );

  expect({ status, child: child.stdout.trim(), stderr: child.stderr }).toEqual({
    status: 400,
    child: '400',
    stderr: '',
  });
  const path = `/storage/v1/object/sign/${BUCKET}/some/object.png`;
  const call = (service: string) => receiver.spans.find((span) => span.service === service && span.name === 'GET');
  expect(call('tracing-test')?.attributes).toMatchObject({
    'job.id': jobId,
    'url.full': `${stack.storage.url}${path}`,
  });
  expect(call('tracing-test-http')?.attributes).toMatchObject({
    'job.id': jobId,
    'http.url': `${stack.storage.url}${path}`,
    'http.target': path,
  });
  expect(receiver.bodies.join('\n')).not.toContain(token);
});

test("a failed fetch's exception text keeps its words but not the URL's query, where a key can sit", async () => {
  // A Gemini gateway whose URL carries its key; nothing listens there, so the call fails before any answer.
  const key = 'gateway-key-that-must-not-be-exported-42';
  const gateway = `http://127.0.0.1:${await freePort()}/gateway`;
  const taskQueue = uniqueTaskQueue('tracing-failure');
  const worker = spawnService('worker', {
    ...workerEnvironment(stack),
    TEMPORAL_ADDRESS: stack.temporal!.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    GEMINI_BASE_URL: `${gateway}?key=${key}`,
  });
  await worker.started;
  const job = await seedJob(stack, { quantity: 1 });
  const workflow = await stack.temporal!.client.workflow.start('imageJob', {
    taskQueue,
    args: [{ jobId: job.jobId }],
    ...jobStartOptions(job.jobId),
  });
  // The first Gemini attempt fails at once; the spans of that attempt are the ones looked at.
  await eventually(
    async () =>
      (await workflow.describe()).raw.pendingActivities?.some((activity) =>
        activity.lastFailure?.message?.startsWith('Gemini could not be reached'),
      ),
    'a failed Gemini attempt',
  );
  await workflow.terminate('the test saw what it needs');
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);

  const failed = receiver.spans.find(
    (span) => span.name === 'RunActivity:generateImage' && span.attributes['job.id'] === job.jobId,
  );
  const reason = new RegExp(`^Gemini could not be reached: request to ${gateway} failed, reason: connect ECONNREFUSED`);
  expect(failed?.statusMessage).toMatch(reason);
  expect(failed?.events).toContainEqual({
    name: 'exception',
    attributes: expect.objectContaining({ 'exception.message': expect.stringMatching(reason) as string }) as object,
  });
  const call = receiver.spans.find(
    (span) => span.parentSpanId === failed?.spanId && String(span.attributes['http.url']).startsWith(gateway),
  );
  expect(call?.attributes).toMatchObject({ 'http.url': gateway, 'http.target': '/gateway' });
  expect(receiver.bodies.join('\n')).not.toContain(key);
}, 120_000);

/** The span's ancestors within the trace, nearest first. */
function ancestry(trace: ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
  const chain: ReceivedSpan[] = [];
  for (
    let parent = trace.find((s) => s.spanId === span.parentSpanId);
    parent;
    parent = trace.find((s) => s.spanId === parent!.parentSpanId)
  ) {
    chain.push(parent);
    if (chain.length > 50) break;
  }
  return chain;
}
