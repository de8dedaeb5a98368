import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { DeterminismViolationError } from '@temporalio/workflow';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { OpenTelemetryPlugin } from '@temporalio/interceptors-opentelemetry';
import { Resource } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { HISTORIES_DIR } from './support/histories';
import { quietLogger, workflowBundle } from '../dev/workers';

/**
 * Histories of finished runs (recorded by the end-to-end test with RECORD_HISTORIES=1) replayed against the
 * current workflow code: a change that would break runs in flight fails here, before it ships.
 */
async function storedHistories() {
  const files = (await readdir(HISTORIES_DIR, { recursive: true })).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(
    files.map(async (file) => ({
      workflowId: file.slice(0, -'.json'.length),
      history: JSON.parse(await readFile(path.join(HISTORIES_DIR, file), 'utf8')),
    })),
  );
}

test('every stored history replays against the current workflow code', async () => {
  const histories = await storedHistories();
  const runs = [
    'all-made',
    'cancelled-while-recording',
    'cancelled',
    'invalid-data',
    'none-made',
    'replayed',
    'searchable',
    'some-made',
  ];
  // In file name order. `before-deadline` and `past-deadline`: the job's deadline; `pinned`: recorded on a versioned
  // worker, its workflow tasks stamped with a deployment version and PINNED.
  const localSteps = [
    'all-made',
    'before-deadline',
    ...runs.slice(1, 5),
    'past-deadline',
    'pinned',
    ...runs.slice(5),
    'url-fallback',
  ];
  expect(histories.map((h) => h.workflowId)).toEqual([
    ...runs.map((run) => `before-local-steps/${run}`),
    ...localSteps.map((run) => `local-steps/${run}`),
  ]);
  const replayed: string[] = [];
  for await (const result of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    expect({ workflowId: result.workflowId, error: result.error?.message }).toEqual({
      workflowId: result.workflowId,
      error: undefined,
    });
    replayed.push(result.workflowId);
  }
  expect(replayed).toEqual(histories.map((h) => h.workflowId));
});

test('every stored history replays with tracing on, so switching it on does not break runs in flight', async () => {
  const histories = await storedHistories();
  const plugin = new OpenTelemetryPlugin({
    resource: new Resource({ 'service.name': 'replay' }),
    spanProcessor: new SimpleSpanProcessor(new InMemorySpanExporter()),
  });
  const replayed: string[] = [];
  const options = { workflowsPath: require.resolve('../src/workflows'), plugins: [plugin] };
  for await (const result of Worker.runReplayHistories(options, histories)) {
    expect({ workflowId: result.workflowId, error: result.error?.message }).toEqual({
      workflowId: result.workflowId,
      error: undefined,
    });
    replayed.push(result.workflowId);
  }
  expect(replayed).toEqual(histories.map((h) => h.workflowId));
});

test('a workflow that issues its commands in another order fails the replay', async () => {
  const [history] = await storedHistories();
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/reordered-workflow'),
    logger: quietLogger,
  });
  const replay = Worker.runReplayHistory({ workflowBundle: bundle }, history!.history, history!.workflowId);
  await expect(replay).rejects.toThrow(DeterminismViolationError);
});
