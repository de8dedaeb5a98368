import { existsSync, readFileSync } from 'node:fs';
import { sniffImageType } from '../src/activities/image-type';
import { runNpmScript } from './support/npm-script';

/** `npm run demo -- --once` as a newcomer runs it: with nothing configured, it ends with a completed job. */
test('npm run demo -- --once completes the sample job on embedded defaults and exits 0', async () => {
  // Nothing configured: only what a fresh shell has, and the Temporal CLI set-up already built.
  const { code, output } = await runNpmScript('demo', ['--once'], {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH ?? '',
  });

  expect({ code, output }).toMatchObject({ code: 0 });
  expect(output).toContain('NO GEMINI_API_KEY: images are made by the OFFLINE generator');
  expect(output).toMatch(/\[#{30}\] 4\/4 images {2}0 failed {2}completed/);
  expect(output).toMatch(/Workflow: http:\/\/localhost:8233\/namespaces\/default\/workflows\/image-job-[0-9a-f-]{36}/);
  const files = output.match(/^ {2}(\/\S+\/generated_\d+_[0-9a-z]{6}\.png)$/gm)?.map((line) => line.trim()) ?? [];
  expect(files).toHaveLength(4);
  for (const file of files) {
    expect(existsSync(file)).toBe(true);
    expect(await sniffImageType(readFileSync(file))).toMatchObject({ supported: true, mimeType: 'image/png' });
  }
  expect(output.match(/'generated-images\/user-demo-user\/generated_\d+_[0-9a-z]{6}\.png'/g)).toHaveLength(4);
}, 300_000);
