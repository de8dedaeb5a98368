import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { ensureSweepSchedule } from '../../src/bridge/sweep-schedule';
import { jobStartOptions, workflowIdForJob } from '../../src/contract';
import { buildOf, describeDeployment, type DeploymentTarget } from '../../src/worker/deployment';
import { imageJob } from '../../src/workflows';
import type { SubmittedJob } from '../../chaos/invariants';
import { spawnService, type ServiceProcess } from '../../dev/processes';
import { seedJob, workerEnvironment, type Stack } from '../../dev/stack';
import { untilVersionPolls } from '../../dev/workers';
import type { GeminiStandIn } from '../../dev/stand-ins/gemini';
import { eventually } from './eventually';

/**
 * A rollout of a new worker build under Worker Versioning, and its rollback, with jobs in flight across it: the
 * steps an operator takes (`npm run deploy`), on workers of two builds in this process, each build with a Gemini
 * stand-in of its own so that every Gemini call says which build made it.
 */

export type Phase =
  'before the deploy' | 'during the ramp' | 'after the promotion' | 'by the sweep' | 'after the rollback';

export interface JobRun extends SubmittedJob {
  phase: Phase;
  startedAt: number;
  closedAt: number;
  status: string;
  /** The build the run is bound to, as the server describes it (what the Web UI shows). */
  buildId?: string;
  behavior?: string;
  /** The build of every workflow task its history records as completed. */
  taskBuilds: string[];
  /** The stand-ins that answered its Gemini calls: the builds whose Gemini workers ran them. */
  geminiBuilds: string[];
  workflowTaskFailures: number;
  nondeterminismErrors: number;
}

export interface DeployRun {
  deployment: DeploymentTarget;
  taskQueue: string;
  jobs: JobRun[];
  /** Milliseconds, each from the start of the first job. */
  timeline: {
    rampedAt: number;
    promotedAt: number;
    /** Jobs pinned to the old build still running when the new one was promoted. */
    oldJobsOpenAtPromotion: number;
    /** When the old build's last job ended, and when the server first said the old build was drained. */
    oldBuildLastJobEndedAt: number;
    oldBuildDrainedAt: number;
    oldWorkersStoppedAt: number;
    rolledBackAt: number;
  };
  /** What `npm run deploy` printed at each step. */
  commands: { args: string[]; code: number | null; output: string }[];
  /** The sweep's own run: how it was bound, and where. */
  sweep: { buildId?: string; behavior?: string; started: string[] };
  /** `temporal worker deployment describe -o json` at the end, the CLI command docs/deploying.md gives for status. */
  cliDescription: unknown;
  /** Everything each worker process wrote, in the order they started: old, next, old again for the rollback. */
  workerLogs: { buildId: string; output: string; exitCode: number | null }[];
}

export const BUILDS = { old: 'v1', next: 'v2' } as const;
const run = promisify(execFile);

/** Long enough that every job started before the deploy outlives it (four images one after another). */
const OLD_GEMINI_LATENCY_MS = 4_000;
const PLAN = { before: 20, ramp: 16, promoted: 10, rollback: 3 };

export interface DeployScenarioOptions {
  client: Client;
  namespace: string;
  /** Where the worker processes and `npm run deploy` reach the same server. */
  address: string;
  taskQueue: string;
  deploymentName: string;
  stack: Stack;
  /** The next build's Gemini stand-in; the stack's own serves the old build. */
  nextGemini: GeminiStandIn;
  /** Each build's prebuilt workflow bundle (WORKFLOW_BUNDLE_PATH), as an image carries its own. */
  bundlePaths: { old: string; next: string };
}

export async function runDeployScenario(options: DeployScenarioOptions): Promise<DeployRun> {
  const { client, taskQueue, stack } = options;
  const deployment = { client, namespace: options.namespace, deploymentName: options.deploymentName };
  const temporalEnv = {
    TEMPORAL_ADDRESS: options.address,
    TEMPORAL_NAMESPACE: options.namespace,
    TEMPORAL_DEPLOYMENT_NAME: options.deploymentName,
  };
  const workers: { buildId: string; worker: ServiceProcess }[] = [];
  /** A worker process of the build, as its image would run it, serving once the server lists it polling. */
  const startBuild = async (buildId: string, gemini: GeminiStandIn, bundlePath: string) => {
    const worker = spawnService('worker', {
      ...workerEnvironment({ ...stack, gemini }),
      ...temporalEnv,
      TEMPORAL_TASK_QUEUE: taskQueue,
      TEMPORAL_BUILD_ID: buildId,
      WORKFLOW_BUNDLE_PATH: bundlePath,
      GEMINI_MAX_CONCURRENT_CALLS: '64',
    });
    workers.push({ buildId, worker });
    await Promise.race([
      worker.started,
      worker.exited.then((code) => Promise.reject(new Error(`worker ${buildId} exited ${code}: ${worker.output()}`))),
    ]);
    await untilVersionPolls(client, options.namespace, { deploymentName: options.deploymentName, buildId }, taskQueue);
    return worker;
  };
  /** SIGTERM, as a deploy stops a container: the worker drains and exits 0. */
  const stopBuild = async (worker: ServiceProcess) => {
    worker.child.kill('SIGTERM');
    const code = await worker.exited;
    if (code !== 0) throw new Error(`a worker exited ${code} on SIGTERM: ${worker.output()}`);
  };
  const commands: DeployRun['commands'] = [];
  const deploy = async (...args: string[]) => {
    const command = spawnService('deploy', temporalEnv, args);
    const code = await command.exited;
    commands.push({ args, code, output: command.output() });
    if (code !== 0) throw new Error(`npm run deploy -- ${args.join(' ')} exited ${code}: ${command.output()}`);
  };

  // Seeded up front, so that each phase only starts its workflows, as the bridge would: the deploy's steps follow
  // one another closely, well inside the old build's jobs.
  const seed = (count: number, quantity: number) =>
    Promise.all(
      Array.from({ length: count }, async (_, i): Promise<SubmittedJob> => {
        const userId = `deploy-user-${i % 4}`;
        const seeded = await seedJob(stack, { quantity, userId });
        return { jobId: seeded.jobId, productionId: seeded.productionId, userId, quantity };
      }),
    );
  const submitted: { job: SubmittedJob; phase: Phase }[] = [];
  const start = async (phase: Phase, jobs: SubmittedJob[]) => {
    for (const job of jobs) {
      // One image after another, so that a job lasts its images' Gemini time added up.
      await client.workflow.start(imageJob, {
        taskQueue,
        ...jobStartOptions(job.jobId),
        args: [{ jobId: job.jobId, imageConcurrency: 1 }],
      });
      submitted.push({ job, phase });
    }
    return jobs;
  };
  const planned = {
    before: await seed(PLAN.before, 4),
    ramp: await seed(PLAN.ramp, 1),
    promoted: await seed(PLAN.promoted, 2),
    rollback: await seed(PLAN.rollback, 1),
  };

  stack.gemini.latencyMs = OLD_GEMINI_LATENCY_MS;
  options.nextGemini.latencyMs = 200;
  try {
    const old = await startBuild(BUILDS.old, stack.gemini, options.bundlePaths.old);
    await deploy('promote', BUILDS.old);

    const began = Date.now();
    const since = () => Date.now() - began;
    const before = await start('before the deploy', planned.before);
    // Every one of them under way on the old build: its first image is with the old build's Gemini.
    await eventually(
      async () => before.every((job) => stack.gemini.requests.some((r) => r.imageKey?.startsWith(`${job.jobId}/`))),
      'every job of the old build making its first image',
    );

    await startBuild(BUILDS.next, options.nextGemini, options.bundlePaths.next);
    await deploy('ramp', BUILDS.next, '50');
    const rampedAt = since();
    await start('during the ramp', planned.ramp);
    await deploy('promote', BUILDS.next);
    const promotedAt = since();
    const oldBuildDrained = whenDrained(deployment, BUILDS.old, 90_000).then(since);
    oldBuildDrained.catch(() => undefined); // awaited below; a failure meanwhile is not an unhandled one
    const oldJobsOpenAtPromotion = await countOpen(client, before);
    await start('after the promotion', planned.promoted);
    await deploy('status');

    const sweep = await sweepOnce(options, taskQueue);
    submitted.push({ job: sweep.job, phase: 'by the sweep' });

    await Promise.all(submitted.map(({ job }) => client.workflow.getHandle(workflowIdForJob(job.jobId)).result()));
    const oldBuildLastJobEndedAt = await lastCloseOnBuild(client, submitted, BUILDS.old, began);
    const oldBuildDrainedAt = await oldBuildDrained;
    await stopBuild(old);
    const oldWorkersStoppedAt = since();
    await deploy('status');

    // A rollback: the old build's workers back up, then new jobs go to it again.
    await startBuild(BUILDS.old, stack.gemini, options.bundlePaths.old);
    await deploy('rollback');
    const rolledBackAt = since();
    await start('after the rollback', planned.rollback);
    await Promise.all(submitted.map(({ job }) => client.workflow.getHandle(workflowIdForJob(job.jobId)).result()));
    await deploy('status');
    // A ramp taken back: rollback ends it, and the current build stays as it was.
    await deploy('ramp', BUILDS.next, '25');
    await deploy('rollback');
    const cliDescription = await describeWithCli(options);

    const jobs = await Promise.all(
      submitted.map(({ job, phase }) =>
        describeRun(client, job, phase, began, { old: stack.gemini, next: options.nextGemini }),
      ),
    );
    return {
      deployment,
      taskQueue,
      jobs,
      timeline: {
        rampedAt,
        promotedAt,
        oldJobsOpenAtPromotion,
        oldBuildLastJobEndedAt,
        oldBuildDrainedAt,
        oldWorkersStoppedAt,
        rolledBackAt,
      },
      commands,
      cliDescription,
      sweep: sweep.run,
      workerLogs: await Promise.all(
        workers.map(async ({ buildId, worker }) => {
          worker.child.kill('SIGTERM');
          return { buildId, exitCode: await worker.exited, output: worker.output() };
        }),
      ),
    };
  } finally {
    for (const { worker } of workers) worker.child.kill('SIGTERM');
    await Promise.all(workers.map(({ worker }) => worker.exited));
    stack.gemini.latencyMs = 0;
  }
}

async function describeWithCli(options: DeployScenarioOptions): Promise<unknown> {
  const cli = process.env.TEMPORAL_CLI_PATH;
  if (!cli) throw new Error("TEMPORAL_CLI_PATH is not set: jest's global set-up exports it");
  const args = ['worker', 'deployment', 'describe', '--name', options.deploymentName, '--output', 'json'];
  const connection = ['--address', options.address, '--namespace', options.namespace];
  const { stdout } = await run(cli, [...args, ...connection]);
  return JSON.parse(stdout);
}

/** Resolves when the server first reports the build drained: no run pinned to it is open any more. */
async function whenDrained(deployment: DeploymentTarget, buildId: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { versions } = await describeDeployment(deployment);
    if (versions.some((version) => version.buildId === buildId && version.state === 'drained')) return;
    if (Date.now() > deadline) throw new Error(`build ${buildId} not reported drained within ${timeoutMs} ms`);
    await sleep(250);
  }
}

/** A stale pending job, found and started by the sweep's Schedule, fired once. */
async function sweepOnce(options: DeployScenarioOptions, taskQueue: string) {
  const { client, stack } = options;
  const seeded = await seedJob(stack, { quantity: 1, userId: 'deploy-user-swept' });
  await stack.db.pool.query(
    `UPDATE quel_production_jobs SET created_at = now() - interval '1 hour' WHERE job_id = $1`,
    [seeded.jobId],
  );
  const scheduleId = await ensureSweepSchedule(client, { taskQueue, everySeconds: 3600, staleAfterSeconds: 600 });
  const schedule = client.schedule.getHandle(scheduleId);
  try {
    await schedule.trigger();
    const sweepRun = await eventually(
      async () => (await schedule.describe()).info.recentActions[0]?.action.workflow,
      'the sweep started by its Schedule',
    );
    const handle = client.workflow.getHandle(sweepRun.workflowId, sweepRun.firstExecutionRunId);
    const result = (await handle.result()) as { started: string[] };
    // As the Web UI's list finds it: the behavior is a search attribute too.
    const query = `WorkflowId = '${sweepRun.workflowId}' AND TemporalWorkflowVersioningBehavior = 'AutoUpgrade'`;
    await eventually(async () => (await client.workflow.count(query)).count === 1, `the sweep listed by ${query}`);
    return {
      job: { jobId: seeded.jobId, productionId: seeded.productionId, userId: 'deploy-user-swept', quantity: 1 },
      run: { ...buildOf(await handle.describe()), started: result.started },
    };
  } finally {
    await schedule.delete();
  }
}

async function countOpen(client: Client, jobs: SubmittedJob[]): Promise<number> {
  const statuses = await Promise.all(
    jobs.map(async (job) => (await client.workflow.getHandle(workflowIdForJob(job.jobId)).describe()).status.name),
  );
  return statuses.filter((status) => status === 'RUNNING').length;
}

async function lastCloseOnBuild(
  client: Client,
  submitted: { job: SubmittedJob }[],
  buildId: string,
  began: number,
): Promise<number> {
  let last = 0;
  for (const { job } of submitted) {
    const description = await client.workflow.getHandle(workflowIdForJob(job.jobId)).describe();
    if (buildOf(description).buildId === buildId) last = Math.max(last, description.closeTime?.getTime() ?? 0);
  }
  return last - began;
}

const { EventType, WorkflowTaskFailedCause } = temporal.api.enums.v1;

async function describeRun(
  client: Client,
  job: SubmittedJob,
  phase: Phase,
  began: number,
  gemini: { old: GeminiStandIn; next: GeminiStandIn },
): Promise<JobRun> {
  const handle = client.workflow.getHandle(workflowIdForJob(job.jobId));
  const [description, history] = await Promise.all([handle.describe(), handle.fetchHistory()]);
  const events = history.events ?? [];
  const taskBuilds = events
    .filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
    .map((event) => event.workflowTaskCompletedEventAttributes?.deploymentVersion?.buildId ?? 'unversioned');
  const failures = events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
  const calledOn = (standIn: GeminiStandIn) => standIn.requests.some((r) => r.imageKey?.startsWith(`${job.jobId}/`));
  return {
    ...job,
    phase,
    startedAt: description.startTime.getTime() - began,
    closedAt: (description.closeTime?.getTime() ?? Number.NaN) - began,
    status: description.status.name,
    ...buildOf(description),
    taskBuilds: [...new Set(taskBuilds)],
    geminiBuilds: [...(calledOn(gemini.old) ? [BUILDS.old] : []), ...(calledOn(gemini.next) ? [BUILDS.next] : [])],
    workflowTaskFailures: failures.length,
    nondeterminismErrors: failures.filter(
      (event) =>
        event.workflowTaskFailedEventAttributes?.cause ===
        WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR,
    ).length,
  };
}
