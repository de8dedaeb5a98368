import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Page } from 'playwright-core';
import { launchChromium } from '../dev/browser';
import { DATA_DIR } from '../dev/setup-scripts';
import { seedJob, startStack, type Stack } from '../dev/stack';
import { startDevServerProcess, type DevServerProcess } from '../dev/temporal-dev-server';
import { uniqueTaskQueue, withWorkers } from '../dev/workers';
import { jobStartOptions } from '../src/contract';

/**
 * The Temporal Web UI as an operator uses it (the dev server's own, in headless Chromium, as the demo serves it): a
 * finished job found by its JobId, opened, and read. Its summary, its current details (whose job, how many images,
 * the prompt's first words, the progress) and a label on every step are on screen.
 */

let server: DevServerProcess;
let uiPort: number;
let env: TestWorkflowEnvironment;
let stack: Stack;
beforeAll(async () => {
  const cliPath = process.env.TEMPORAL_CLI_PATH;
  if (!cliPath) throw new Error('the Web UI comes with the Temporal CLI: dev/setup/temporal-cli.sh builds it');
  mkdirSync(DATA_DIR, { recursive: true });
  [server, stack] = await Promise.all([
    startDevServerProcess({
      cliPath,
      port: 'free',
      uiPort: 'free',
      logFile: path.join(DATA_DIR, 'temporal-web-ui-test.log'),
    }),
    startStack(),
  ]);
  uiPort = server.uiPort!;
  env = await TestWorkflowEnvironment.createFromExistingServer({ address: server.address, namespace: 'default' });
}, 120_000);
afterAll(async () => {
  await env?.teardown();
  await Promise.all([server?.stop(), stack?.stop()]);
});

test('a finished job, found by its JobId in the Web UI, shows its summary, its details and every step labelled', async () => {
  const prompt = 'The same scene at another time of day, in another season';
  const job = await seedJob(stack, { quantity: 4, prompt, userId: 'demo-user' });
  const taskQueue = uniqueTaskQueue('web-ui');
  // The workers keep running while the page is read: a closed run's current details come from a query, which a
  // worker answers by replaying the run, as in a deployment.
  await withWorkers(env, taskQueue, stack.activities, async () => {
    await env.client.workflow.execute('imageJob', {
      taskQueue,
      args: [{ jobId: job.jobId }],
      ...jobStartOptions(job.jobId),
    });
    const browser = await launchChromium(process.env.CHROMIUM_PATH);
    try {
      const page = await browser.context.newPage();
      await page.setViewportSize({ width: 1200, height: 1250 });
      const search = encodeURIComponent(`JobId="${job.jobId}"`);
      await page.goto(`http://127.0.0.1:${uiPort}/namespaces/default/workflows?query=${search}`);
      await page.getByRole('link', { name: `image-job-${job.jobId}` }).click();

      // The event history: the Gemini steps by their labels in the timeline, and every step's summary in the table.
      for (const image of [1, 2, 3, 4]) await page.getByText(`generateImage • image ${image} of 4: generate`).waitFor();
      const steps = [
        'load the job',
        'mark the job processing',
        ...[1, 2, 3, 4].flatMap((image) => [`image ${image} of 4: generate`, `image ${image} of 4: record`]),
        'finish the job: completed, 4 of 4 images',
      ];
      for (const step of steps) await page.getByText(step, { exact: true }).first().waitFor();

      // User Metadata: the summary the bridge gave, the details the workflow keeps, and the labelled steps.
      await page.getByTestId('user-metadata-tab').click();
      await page.getByText('Events with Metadata').waitFor();
      expect(await renderedMarkdown(page)).toEqual([
        `Image job ${job.jobId}`,
        '4 images for user demo-user: “The same scene at another time of day,…” 4 of 4 images made, 0 failed (done)',
      ]);
      for (const step of steps) await page.getByText(step, { exact: true }).waitFor();
      await page.screenshot({ path: path.join(DATA_DIR, 'web-ui.png') });
    } finally {
      await browser.close();
    }
  });
}, 300_000);

/** The Web UI draws a summary and details as Markdown, each in a frame of its own; their text, on one line each. */
async function renderedMarkdown(page: Page): Promise<string[]> {
  const frames = page.locator('iframe[title="output"]');
  const texts = async () =>
    Promise.all(
      (await frames.all()).map(async (frame) =>
        ((await frame.contentFrame().locator('body').innerText()) ?? '').replace(/\s+/g, ' ').trim(),
      ),
    );
  // The current details arrive by a query after the page is drawn.
  for (let tries = 0; tries < 100; tries++) {
    const drawn = await texts();
    if (drawn.length >= 2 && drawn.every(Boolean)) return drawn;
    await page.waitForTimeout(100);
  }
  return texts();
}
