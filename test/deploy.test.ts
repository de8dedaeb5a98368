import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { workflowIdForJob } from '../src/contract';
import { checkInvariants } from '../chaos/invariants';
import { spawnService } from '../dev/processes';
import { DATA_DIR } from '../dev/setup-scripts';
import { FAKE_GEMINI_KEY, FAKE_SERVICE_KEY, startStack, type Stack } from '../dev/stack';
import { GeminiStandIn } from '../dev/stand-ins/gemini';
import { TemporalCluster } from '../dev/temporal-cluster';
import { startTemporal } from '../dev/temporal-dev-server';
import { quietLogger, uniqueTaskQueue, workflowBundle } from '../dev/workers';
import { BUILDS, runDeployScenario, type DeployRun, type JobRun } from './support/deploy-scenario';

/**
 * Safe deploys: a new build of the workers goes out while jobs run, under Worker Versioning, on the dev server and on
 * the real cluster. The new build's `imageJob` has a step the old one lacks and no patched() around it
 * (test/fixtures/next-build-workflows.ts); jobs are pinned, so none of the old build's runs ever meets that code.
 */

/**
 * The server checks a build taken out of service for runs still pinned to it every 3 minutes, after a 3-minute
 * grace for visibility to catch up; 2 s each here, so the test can wait for the server's own "drained".
 */
const DRAINAGE_CHECKS = {
  'matching.wv.VersionDrainageStatusVisibilityGracePeriod': 2,
  'matching.wv.VersionDrainageStatusRefreshInterval': 2,
};

interface Engine {
  address: string;
  namespace: string;
  stop(): Promise<void>;
}

const engines: [string, () => Promise<Engine>][] = [
  [
    'dev server',
    async () => {
      const env = await startTemporal({ dynamicConfig: DRAINAGE_CHECKS });
      return { address: env.address, namespace: env.namespace ?? 'default', stop: () => env.teardown() };
    },
  ],
  [
    'cluster',
    async () => {
      const cluster = await TemporalCluster.start({
        extraDynamicConfig: Object.entries(DRAINAGE_CHECKS)
          .map(([key, seconds]) => `${key}:\n  - value: ${seconds}s\n`)
          .join(''),
      });
      return { address: cluster.address, namespace: cluster.namespace, stop: () => cluster.drop() };
    },
  ],
];

describe('npm run deploy refuses, with a reason', () => {
  const deploy = async (args: string[], env: Record<string, string>) => {
    const command = spawnService('deploy', env, args);
    return { code: await command.exited, output: command.output() };
  };
  let temporal: TestWorkflowEnvironment;
  beforeAll(async () => {
    temporal = await startTemporal();
  });
  afterAll(async () => {
    await temporal?.teardown();
  });
  const server = () => ({ TEMPORAL_ADDRESS: temporal.address, TEMPORAL_NAMESPACE: temporal.namespace ?? 'default' });

  test('a command it does not know, or one missing its build: the usage, exit 2', async () => {
    for (const args of [[], ['deploy'], ['promote'], ['ramp', 'v2']]) {
      const { code, output } = await deploy(args, { TEMPORAL_DEPLOYMENT_NAME: 'image-jobs' });
      expect({ code, output }).toEqual({ code: 2, output: expect.stringContaining('usage: npm run deploy -- status') });
    }
  });

  test('no TEMPORAL_DEPLOYMENT_NAME, a ramp that is not a percentage, a deployment the server does not know', async () => {
    expect(await deploy(['status'], server())).toEqual({
      code: 1,
      output: expect.stringContaining('TEMPORAL_DEPLOYMENT_NAME is required'),
    });
    const unknown = { ...server(), TEMPORAL_DEPLOYMENT_NAME: `never-deployed-${Date.now()}` };
    expect(await deploy(['ramp', 'v2', '150'], unknown)).toEqual({
      code: 1,
      output: 'deploy: a ramp is a percentage from 0 to 100\n',
    });
    expect(await deploy(['ramp', 'v2', 'half'], unknown)).toEqual({
      code: 1,
      output: 'deploy: half: a ramp is a percentage from 0 to 100\n',
    });
    for (const args of [['status'], ['rollback']]) {
      expect(await deploy(args, unknown)).toEqual({
        code: 1,
        output: expect.stringContaining(
          `Temporal knows no Worker Deployment ${unknown.TEMPORAL_DEPLOYMENT_NAME} in default`,
        ),
      });
    }
    const promoted = await deploy(['promote', 'v2'], unknown);
    expect(promoted).toEqual({
      code: 1,
      output: expect.stringContaining(
        `deploy: Temporal refused the change to build v2 of ${unknown.TEMPORAL_DEPLOYMENT_NAME}: `,
      ),
    });
  });
});

/** Each build's workflow bundle as a file, prebuilt as an image carries it (WORKFLOW_BUNDLE_PATH). */
let bundleFiles: Promise<{ old: string; next: string }> | undefined;
function writeBundles(): Promise<{ old: string; next: string }> {
  bundleFiles ??= (async () => {
    const folder = path.join(DATA_DIR, 'deploy-test');
    mkdirSync(folder, { recursive: true });
    const files = { old: path.join(folder, 'old-build.js'), next: path.join(folder, 'next-build.js') };
    writeFileSync(files.old, (await workflowBundle()).code);
    writeFileSync(files.next, (await nextBuildBundle()).code);
    return files;
  })();
  return bundleFiles;
}

let nextBundle: ReturnType<typeof bundleWorkflowCode> | undefined;
function nextBuildBundle() {
  nextBundle ??= bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/next-build-workflows'),
    logger: quietLogger,
  });
  return nextBundle;
}

describe.each(engines)('a deploy on the %s', (engineName, startEngine) => {
  let engine: Engine | undefined;
  let stack: Stack | undefined;
  let nextGemini: GeminiStandIn | undefined;
  let connection: Connection;
  let client: Client;
  let run: DeployRun;

  beforeAll(async () => {
    const started = await Promise.allSettled([
      startEngine().then((e) => (engine = e)),
      startStack().then((s) => (stack = s)),
      GeminiStandIn.start({ apiKey: FAKE_GEMINI_KEY }).then((g) => (nextGemini = g)),
    ]);
    for (const result of started) if (result.status === 'rejected') throw result.reason;
    connection = await Connection.connect({ address: engine!.address });
    client = new Client({ connection, namespace: engine!.namespace });
    run = await runDeployScenario({
      client,
      namespace: engine!.namespace,
      address: engine!.address,
      taskQueue: uniqueTaskQueue('deploy'),
      deploymentName: `image-jobs-${Math.random().toString(36).slice(2, 10)}`,
      stack: stack!,
      nextGemini: nextGemini!,
      bundlePaths: await writeBundles(),
    });
    reportTimeline(engineName, run);
  }, 300_000);

  afterAll(async () => {
    await connection?.close();
    await Promise.all([engine?.stop(), stack?.stop(), nextGemini?.stop()]);
  }, 60_000);

  const jobsOf = (phase: JobRun['phase']) => run.jobs.filter((job) => job.phase === phase);
  const where = (job: JobRun) => ({
    buildId: job.buildId,
    behavior: job.behavior,
    taskBuilds: job.taskBuilds,
    geminiBuilds: job.geminiBuilds,
    status: job.status,
  });
  const on = (buildId: string) => ({
    buildId,
    behavior: 'PINNED',
    taskBuilds: [buildId],
    geminiBuilds: [buildId],
    status: 'COMPLETED',
  });

  test('every job started before the deploy ran to its end on the old build, outliving the promotion', () => {
    const before = jobsOf('before the deploy');
    expect(before).toHaveLength(20);
    for (const job of before) expect(where(job)).toEqual(on(BUILDS.old));
    expect(run.timeline.oldJobsOpenAtPromotion).toBeGreaterThan(0);
    expect(Math.max(...before.map((job) => job.closedAt))).toBeGreaterThan(run.timeline.promotedAt);
  });

  test('the 50 % ramp sent new jobs to both builds, each job whole on one; after the promotion, all to the new', () => {
    const ramped = jobsOf('during the ramp');
    for (const job of ramped) expect(where(job)).toEqual(on(job.buildId === BUILDS.next ? BUILDS.next : BUILDS.old));
    const counts = (buildId: string) => ramped.filter((job) => job.buildId === buildId).length;
    expect(counts(BUILDS.old) + counts(BUILDS.next)).toBe(ramped.length);
    // The ramp splits by a hash of the workflow id: for 16 jobs, all on one side would be 1 chance in 32 768.
    expect(counts(BUILDS.old)).toBeGreaterThan(0);
    expect(counts(BUILDS.next)).toBeGreaterThan(0);
    for (const job of jobsOf('after the promotion')) expect(where(job)).toEqual(on(BUILDS.next));
  });

  test("the sweep's Schedule runs on the current build, not pinned, and the job it starts is pinned there", () => {
    expect(run.sweep).toMatchObject({ buildId: BUILDS.next, behavior: 'AUTO_UPGRADE' });
    const [swept] = jobsOf('by the sweep');
    expect(run.sweep.started).toEqual([swept!.jobId]);
    expect(where(swept!)).toEqual(on(BUILDS.next));
  });

  test('no workflow task failed, so none for nondeterminism, though the new code breaks the old runs', async () => {
    expect(run.jobs.map((job) => job.workflowTaskFailures)).toEqual(run.jobs.map(() => 0));
    // The change is a breaking one: an old build's run replayed on the new code fails.
    const old = jobsOf('before the deploy')[0]!;
    const history = await client.workflow.getHandle(workflowIdForJob(old.jobId)).fetchHistory();
    await expect(Worker.runReplayHistory({ workflowBundle: await nextBuildBundle() }, history)).rejects.toThrow(
      DeterminismViolationError,
    );
  });

  test('each build ran as worker processes that said which build they were, and drained and exited 0 on SIGTERM', () => {
    expect(run.workerLogs.map((worker) => [worker.buildId, worker.exitCode])).toEqual([
      [BUILDS.old, 0],
      [BUILDS.next, 0],
      [BUILDS.old, 0],
    ]);
    for (const worker of run.workerLogs) {
      expect(worker.output).toContain(
        `"deploymentName":"${run.deployment.deploymentName}","buildId":"${worker.buildId}","msg":"worker started"`,
      );
    }
  });

  test('the old build drained: the server said so once its last job ended, then its workers stopped', () => {
    const { oldBuildLastJobEndedAt, oldBuildDrainedAt, oldWorkersStoppedAt, promotedAt } = run.timeline;
    expect(oldBuildLastJobEndedAt).toBeGreaterThan(promotedAt);
    expect(oldBuildDrainedAt).toBeGreaterThan(oldBuildLastJobEndedAt);
    expect(oldWorkersStoppedAt).toBeGreaterThanOrEqual(oldBuildDrainedAt);
    const [, drainedStatus] = run.commands.filter((command) => command.args[0] === 'status');
    expect(drainedStatus!.output).toMatch(
      new RegExp(`^ {4}${BUILDS.old} {2}drained {2}0 pinned run\\(s\\) open$`, 'm'),
    );
  });

  test('npm run deploy: promote, ramp, status and rollback, and after the rollback new jobs go to the old build', () => {
    expect(run.commands.map((command) => [command.args.join(' '), command.code])).toEqual([
      [`promote ${BUILDS.old}`, 0],
      [`ramp ${BUILDS.next} 50`, 0],
      [`promote ${BUILDS.next}`, 0],
      ['status', 0],
      ['status', 0],
      ['rollback', 0],
      ['status', 0],
      [`ramp ${BUILDS.next} 25`, 0],
      ['rollback', 0],
    ]);
    const output = (args: string) =>
      run.commands.filter((command) => command.args.join(' ') === args).map((c) => c.output);
    expect(output(`ramp ${BUILDS.next} 50`)).toEqual([`ramping: 50 % of new jobs go to ${BUILDS.next}\n`]);
    expect(output('rollback')).toEqual([
      `current: ${BUILDS.old} again (was ${BUILDS.next}); jobs pinned to ${BUILDS.next} finish on it\n`,
      `ramp to ${BUILDS.next} taken off; new jobs go to the current build\n`,
    ]);
    const [afterPromotion, , afterRollback] = run.commands.filter((command) => command.args[0] === 'status');
    expect(afterPromotion!.output).toContain(
      `deployment ${run.deployment.deploymentName}\n  current: ${BUILDS.next}\n`,
    );
    // The old build's jobs still running: the workers an operator must keep up.
    const draining = new RegExp(`^ {4}${BUILDS.old} {2}draining {2}(\\d+) pinned run\\(s\\) open$`, 'm').exec(
      afterPromotion!.output,
    );
    expect(Number(draining?.[1])).toBeGreaterThan(0);
    expect(afterRollback!.output).toContain(`  current: ${BUILDS.old}\n  ramping: none\n`);
    for (const job of jobsOf('after the rollback')) expect(where(job)).toEqual(on(BUILDS.old));
  });

  test('temporal worker deployment describe, the CLI command for the same, agrees: the ramp rolled back is gone', () => {
    expect(run.cliDescription).toMatchObject({
      name: run.deployment.deploymentName,
      routingConfig: { currentVersionBuildID: BUILDS.old, rampingVersionBuildID: '' },
    });
  });

  test('every invariant of the chaos run holds over all the jobs', async () => {
    const verdict = await checkInvariants({
      pool: stack!.db.pool,
      client,
      storage: stack!.storage,
      geminiRequests: [...stack!.gemini.requests, ...nextGemini!.requests],
      jobs: run.jobs,
      logs: [...run.workerLogs, ...run.commands].map((process) => process.output).join('\n'),
      secrets: [FAKE_GEMINI_KEY, FAKE_SERVICE_KEY],
    });
    expect(verdict.invariants.filter((invariant) => invariant.broken > 0)).toEqual([]);
    expect(verdict).toMatchObject({ stuckJobs: 0, duplicates: 0, orphans: 0, jobsFailed: 0 });
    expect(verdict.jobsCompleted).toBe(run.jobs.length);
  });
});

/** The deploy as it went, for the record: `.data/deploy-<engine>.json`, and a summary on the console. */
function reportTimeline(engineName: string, run: DeployRun): void {
  const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  const perBuild = Object.fromEntries(
    [...new Set(run.jobs.map((job) => job.phase))].map((phase) => {
      const jobs = run.jobs.filter((job) => job.phase === phase);
      return [
        phase,
        Object.values(BUILDS)
          .map((build) => `${build}: ${jobs.filter((j) => j.buildId === build).length}`)
          .join(', '),
      ];
    }),
  );
  const { timeline } = run;
  const summary = {
    engine: engineName,
    jobsPerBuild: perBuild,
    nondeterminismErrors: run.jobs.reduce((sum, job) => sum + job.nondeterminismErrors, 0),
    workflowTaskFailures: run.jobs.reduce((sum, job) => sum + job.workflowTaskFailures, 0),
    rampedAt: seconds(timeline.rampedAt),
    promotedAt: seconds(timeline.promotedAt),
    oldJobsOpenAtPromotion: timeline.oldJobsOpenAtPromotion,
    oldBuildLastJobEndedAfterPromotion: seconds(timeline.oldBuildLastJobEndedAt - timeline.promotedAt),
    oldBuildReportedDrainedAfterPromotion: seconds(timeline.oldBuildDrainedAt - timeline.promotedAt),
    oldWorkersStoppedAt: seconds(timeline.oldWorkersStoppedAt),
    rolledBackAt: seconds(timeline.rolledBackAt),
  };
  mkdirSync(DATA_DIR, { recursive: true });
  const file = path.join(DATA_DIR, `deploy-${engineName.replace(' ', '-')}.json`);
  writeFileSync(file, JSON.stringify({ summary, jobs: run.jobs, commands: run.commands }, null, 2) + '\n');
  console.log(`deploy on the ${engineName} (${file}):\n${JSON.stringify(summary, null, 2)}`);
}
