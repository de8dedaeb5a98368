import { setTimeout as sleep } from 'node:timers/promises';
import { isGrpcServiceError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { messageOf } from '../process/errors';

/**
 * The Worker Deployment as an operator sees and steers it (`npm run deploy`): which build new jobs go to, which
 * builds still run jobs pinned to them, and the routing changes of a rollout and a rollback. Temporal keeps the
 * state; every change here is one call to it.
 */

const { WorkerDeploymentVersionStatus } = temporal.api.enums.v1;
type VersionSummary = temporal.api.deployment.v1.WorkerDeploymentInfo.IWorkerDeploymentVersionSummary;

export type VersionState = 'current' | 'ramping' | 'draining' | 'drained' | 'inactive';

export interface VersionStatus {
  buildId: string;
  state: VersionState;
  /** Workflows pinned to this build and still running: the jobs its workers must stay up for. */
  openPinned: number;
}

export interface DeploymentStatus {
  deploymentName: string;
  /** Where new jobs go (apart from the ramp); undefined: to unversioned workers. */
  current?: string;
  ramping?: { buildId: string; percentage: number };
  versions: VersionStatus[];
}

export interface DeploymentTarget {
  client: Client;
  namespace: string;
  deploymentName: string;
}

const IDENTITY = 'npm run deploy';
const GRPC_NOT_FOUND = 5;

const STATES: Partial<Record<number, VersionState>> = {
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_CURRENT]: 'current',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_RAMPING]: 'ramping',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINING]: 'draining',
  [WorkerDeploymentVersionStatus.WORKER_DEPLOYMENT_VERSION_STATUS_DRAINED]: 'drained',
};

/** The deployment's routing and each of its builds, newest first, with the runs still pinned to it. */
export async function describeDeployment(target: DeploymentTarget): Promise<DeploymentStatus> {
  const { info } = await describe(target);
  const routing = info.routingConfig;
  const summaries = [...(info.versionSummaries ?? [])].sort((a, b) => seconds(b.createTime) - seconds(a.createTime));
  const versions = await Promise.all(
    summaries.map(async (summary) => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      return {
        buildId,
        state: STATES[summary.status ?? 0] ?? 'inactive',
        openPinned: await countOpenPinned(target, buildId),
      };
    }),
  );
  const rampingBuild = routing?.rampingDeploymentVersion?.buildId;
  return {
    deploymentName: target.deploymentName,
    current: routing?.currentDeploymentVersion?.buildId ?? undefined,
    ramping: rampingBuild ? { buildId: rampingBuild, percentage: routing?.rampingVersionPercentage ?? 0 } : undefined,
    versions,
  };
}

/** Sends `percentage` % of new jobs to `buildId`, the rest to the current build. */
export async function rampVersion(target: DeploymentTarget, buildId: string, percentage: number): Promise<void> {
  if (!(percentage >= 0 && percentage <= 100)) throw new Error('a ramp is a percentage from 0 to 100');
  await change(target, buildId, () =>
    target.client.workflowService.setWorkerDeploymentRampingVersion({
      namespace: target.namespace,
      deploymentName: target.deploymentName,
      buildId,
      percentage,
      identity: IDENTITY,
    }),
  );
}

/** Makes `buildId` current: every new job goes to it (a ramp to it ends). Jobs pinned elsewhere stay where they are. */
export async function promoteVersion(target: DeploymentTarget, buildId: string): Promise<void> {
  await change(target, buildId, () =>
    target.client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: target.namespace,
      deploymentName: target.deploymentName,
      buildId,
      identity: IDENTITY,
    }),
  );
}

export type Rollback = { undid: 'ramp'; buildId: string } | { undid: 'promotion'; buildId: string; from: string };

/**
 * Undoes the last step of a rollout: a ramp in progress is taken off (new jobs all go to the current build again);
 * otherwise the build that was current before the current one becomes current again. Its workers must be running:
 * the server refuses a build with none polling. Jobs already pinned to the build rolled back from finish on it.
 */
export async function rollBack(target: DeploymentTarget): Promise<Rollback> {
  const { info, conflictToken } = await describe(target);
  const routing = info.routingConfig;
  const ramping = routing?.rampingDeploymentVersion?.buildId;
  if (ramping) {
    await change(target, ramping, () =>
      target.client.workflowService.setWorkerDeploymentRampingVersion({
        namespace: target.namespace,
        deploymentName: target.deploymentName,
        buildId: '',
        identity: IDENTITY,
        conflictToken,
      }),
    );
    return { undid: 'ramp', buildId: ramping };
  }
  const current = routing?.currentDeploymentVersion?.buildId ?? undefined;
  const previous = previousCurrent(info.versionSummaries ?? [], current);
  if (!current || !previous) {
    throw new Error(`${target.deploymentName} has no earlier build to roll back to; promote one by its build id`);
  }
  await change(target, previous, () =>
    target.client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace: target.namespace,
      deploymentName: target.deploymentName,
      buildId: previous,
      identity: IDENTITY,
      conflictToken,
    }),
  );
  return { undid: 'promotion', buildId: previous, from: current };
}

/**
 * The build current before `current`: of the others, the one taken out of service last. Servers from 1.32 say when
 * each build was last current, which skips a build that was only ever ramped; 1.29 does not, and its answer is the
 * build most recently current or ramping.
 */
function previousCurrent(summaries: VersionSummary[], current: string | undefined): string | undefined {
  const others = summaries.filter(
    (summary) => summary.deploymentVersion?.buildId !== current && summary.lastDeactivationTime,
  );
  const everCurrent = others.filter((summary) => summary.lastCurrentTime);
  const candidates = everCurrent.length > 0 ? everCurrent : others;
  candidates.sort((a, b) => seconds(b.lastDeactivationTime) - seconds(a.lastDeactivationTime));
  return candidates[0]?.deploymentVersion?.buildId ?? undefined;
}

/** Which build ran (or runs) a workflow, and how it is bound to it; undefined build: an unversioned worker. */
export function buildOf(description: WorkflowExecutionDescription): { buildId?: string; behavior?: string } {
  const versioning = description.raw.workflowExecutionInfo?.versioningInfo;
  const behavior = versioning?.behavior;
  return {
    buildId: versioning?.deploymentVersion?.buildId ?? undefined,
    behavior: behavior
      ? temporal.api.enums.v1.VersioningBehavior[behavior]?.replace('VERSIONING_BEHAVIOR_', '')
      : undefined,
  };
}

/**
 * Servers before 1.32 answer NOT_FOUND for a deployment that exists while its workflow continues as new (the
 * describe is a query that an open run must answer), so a NOT_FOUND is asked again before it is believed.
 */
const NOT_FOUND_ATTEMPTS = 4;
const NOT_FOUND_DELAY_MS = 500;

async function describe(target: DeploymentTarget) {
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await target.client.workflowService.describeWorkerDeployment({
        namespace: target.namespace,
        deploymentName: target.deploymentName,
      });
      return { info: response.workerDeploymentInfo ?? {}, conflictToken: response.conflictToken ?? undefined };
    } catch (error) {
      if (!(isGrpcServiceError(error) && error.code === GRPC_NOT_FOUND)) throw error;
      if (attempt < NOT_FOUND_ATTEMPTS) {
        await sleep(NOT_FOUND_DELAY_MS);
        continue;
      }
      throw new Error(
        `Temporal knows no Worker Deployment ${target.deploymentName} in ${target.namespace} (${messageOf(error)}); ` +
          'it appears once a worker with TEMPORAL_DEPLOYMENT_NAME set has started',
        { cause: error },
      );
    }
  }
}

/** One routing change; a refusal becomes a sentence naming the build, with the server's reason. */
async function change(target: DeploymentTarget, buildId: string, call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (error) {
    throw new Error(
      `Temporal refused the change to build ${buildId} of ${target.deploymentName}: ${messageOf(error)}`,
      {
        cause: error,
      },
    );
  }
}

async function countOpenPinned(target: DeploymentTarget, buildId: string): Promise<number> {
  const version = `${target.deploymentName}:${buildId}`;
  const { count } = await target.client.workflow.count(
    `TemporalWorkerDeploymentVersion = '${version}' AND TemporalWorkflowVersioningBehavior = 'Pinned' AND ExecutionStatus = 'Running'`,
  );
  return count;
}

function seconds(timestamp: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  return Number(timestamp?.seconds ?? 0) + (timestamp?.nanos ?? 0) / 1e9;
}
