import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launchChromium } from '../dev/browser';
import { freePort } from '../dev/ports';
import { DATA_DIR } from '../dev/setup-scripts';
import { stopProcess } from '../dev/temporal-dev-server';
import { sniffImageType } from '../src/activities/image-type';
import { eventually } from './support/eventually';
import { runNpmScript, startNpmScript } from './support/npm-script';

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
  // Four variations, four different pictures.
  expect(new Set(files.map((file) => createHash('sha256').update(readFileSync(file)).digest('hex'))).size).toBe(4);
  expect(output.match(/'generated-images\/user-demo-user\/generated_\d+_[0-9a-z]{6}\.png'/g)).toHaveLength(4);
}, 300_000);

/** The properties of the page's elements the test reads (the tests are type-checked without the DOM's types). */
interface Drawn {
  naturalWidth: number;
  value: number;
  max: number;
  dataset: Record<string, string | undefined>;
}

/**
 * The demo page in a real browser (Debian's chromium, headless): a 4-image job started from its form is followed
 * as the front end follows it, and the page ends with the completed status and the four images drawn.
 */
test('the demo page starts a 4-image job and shows its four images and its completed status', async () => {
  const port = await freePort();
  const demo = startNpmScript('demo', [], {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    TEMPORAL_CLI_PATH: process.env.TEMPORAL_CLI_PATH ?? '',
    DEMO_PORT: String(port),
    DEMO_QUANTITY: '1',
  });
  const browser = await launchChromium(process.env.CHROMIUM_PATH);
  try {
    await eventually(async () => demo.output().includes('keep serving'), 'the demo to serve', 240_000);
    const pageUrl = `http://localhost:${port}`;
    expect(demo.output()).toContain(`Page:      ${pageUrl}`);

    const page = await browser.context.newPage();
    const answers: string[] = [];
    page.on('response', (response) => {
      if (response.url().startsWith(pageUrl) && response.request().resourceType() !== 'image')
        void response.text().then(
          (text) => answers.push(text),
          () => undefined,
        );
    });
    await page.goto(pageUrl);
    await page.locator('#status').filter({ hasText: 'completed' }).waitFor();
    const sampleJob = await page.locator('#job-id').textContent();

    await page.fill('#quantity', '4');
    await page.fill('#prompt-input', 'The same scene in the rain');
    await page.click('#new-job button');
    await page.waitForURL(/\?job=[0-9a-f-]{36}$/);
    const jobId = new URL(page.url()).searchParams.get('job');
    expect(jobId).not.toBe(sampleJob);
    await page.locator('#status').filter({ hasText: 'completed' }).waitFor({ timeout: 120_000 });
    const images = page.locator('#images img');
    await eventually(
      async () =>
        (await images.evaluateAll((drawn) => drawn.filter((img) => (img as Drawn).naturalWidth > 0).length)) === 4,
      'four loaded images',
    );
    expect(await images.count()).toBe(4);
    expect(await page.locator('#counts').textContent()).toBe('4 of 4 images made, 0 failed');
    expect(await page.locator('#progress').evaluate((bar: Drawn) => [bar.value, bar.max])).toEqual([4, 4]);
    expect(await page.locator('#prompt').textContent()).toBe('The same scene in the rain');
    expect(await page.locator('#source').evaluate((img: Drawn) => img.naturalWidth)).toBeGreaterThan(0);
    // The build Temporal says ran the job: the demo's worker is unversioned (no TEMPORAL_DEPLOYMENT_NAME).
    expect(await page.locator('#build').textContent()).toBe('run by an unversioned worker');
    expect(await page.locator('#workflow').getAttribute('href')).toBe(
      `http://localhost:8233/namespaces/default/workflows/image-job-${jobId}`,
    );
    // One image per id of the row, in its order.
    const ids = await page
      .locator('#images figure')
      .evaluateAll((figures) => figures.map((f) => Number((f as Drawn).dataset.attachId)));
    const row = (await (await page.request.get(`${pageUrl}/api/jobs/${jobId}`)).json()) as {
      generated_attach_ids: number[];
    };
    expect(ids).toEqual(row.generated_attach_ids);
    expect(new Set(ids).size).toBe(4);
    // The log view: a line in words per event, naming the job and the image, without the ids. The row is completed
    // before the last step logs it, and the page polls the log on its own, so the line may come one poll later.
    const job = `job ${jobId!.slice(0, 8)}…`;
    const finished = `] INFO (worker): ${job}: finished (completed, 4 made, 0 failed)\n`;
    const logText = async () => (await page.locator('#log').textContent()) ?? '';
    await eventually(async () => (await logText()).includes(finished), 'the job finished line in the log view');
    const logged = await logText();
    expect(logged).toContain(`] INFO (bridge): ${job}: workflow started\n`);
    for (const image of [1, 2, 3, 4]) {
      expect(logged).toMatch(new RegExp(`\\] INFO \\(worker\\): ${job}: image ${image} of 4 stored \\(\\d+ KB\\)\n`));
    }
    // (The log file outlives a run of the demo: older lines may be in view too.)
    const jobLines = logged.split('\n').filter((line) => line.includes(job));
    expect(jobLines.length).toBeGreaterThanOrEqual(7);
    for (const line of jobLines) expect(line).not.toMatch(/taskToken|workflowRunId|activityId|sdkComponent|\{"/);
    mkdirSync(DATA_DIR, { recursive: true });
    await page.screenshot({ path: path.join(DATA_DIR, 'demo-page.png'), fullPage: true });
    // Nothing the page was sent holds the local Storage key or a database URL.
    expect(answers.join('\n')).not.toMatch(/local-demo-storage|postgres(ql)?:\/\//);

    demo.child.kill('SIGINT');
    expect(await demo.exited).toBe(0);
    expect(demo.output()).not.toContain('while shutting down');
  } finally {
    await browser.close();
    // After a failed assertion too, the demo stops the servers it started (SIGTERM, SIGKILL 10 s later): killed at
    // once it would leave its Temporal dev server running, holding the port for the next run.
    await stopProcess(demo.child);
  }
}, 400_000);
