import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLogger, humanLines, temporalLoggerFor } from '../src/process/logger';
import { eventually } from './support/eventually';
import { capturedLogger } from './support/log-capture';

const activityAttributes = {
  taskToken: 'CiQ5ZmE2YmE2Ni1hY3Rpdml0eS10YXNrLXRva2Vu',
  activityType: 'generateImage',
  workflowId: 'image-job-0b7d6a4e-1111-4222-8333-444455556666',
};

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

test('human lines: time, level, name and message on one line, the fields after it, credentials censored', async () => {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'quel-log-')), 'demo.log');
  const log = createLogger('info', 'demo', humanLines(file));
  log.info({ jobId: 'job-1', apiKey: 'a-key-that-must-not-show' }, 'job finished');
  log.flush();
  const line = await eventually(async () => {
    const text = readFileSync(file, 'utf8');
    return text.includes('\n') && text.trim();
  }, 'the line to be written');
  expect(line).toMatch(
    /^\[\d\d:\d\d:\d\d\.\d{3}\] INFO \(demo\): job finished \{"jobId":"job-1","apiKey":"\[redacted\]"\}$/,
  );
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
