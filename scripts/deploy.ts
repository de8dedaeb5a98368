import 'dotenv/config';
import { loadDeploymentConfig } from '../src/process/config';
import { ConfigError, messageOf } from '../src/process/errors';
import { lazyClient } from '../src/process/temporal-connection';
import {
  describeDeployment,
  promoteVersion,
  rampVersion,
  rollBack,
  type DeploymentStatus,
  type DeploymentTarget,
} from '../src/worker/deployment';

const USAGE = `usage: npm run deploy -- status | ramp <build> <percent> | promote <build> | rollback
  status                   which build new jobs go to, and each build's state and jobs still pinned to it
  ramp <build> <percent>   send that share of new jobs to <build>, the rest to the current build
  promote <build>          send every new job to <build>; jobs pinned to other builds finish where they are
  rollback                 take a ramp off, or else make the previous build current again
TEMPORAL_DEPLOYMENT_NAME names the deployment, and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE etc. the server, as for the
worker.`;

/**
 * `npm run deploy -- …`: a rollout and a rollback of a new worker build under Worker Versioning, steered by hand
 * (docs/deploying.md, "Deploying a new version"). Exit code 0: done; 1: refused, with the reason; 2: bad usage.
 */
async function main([command, ...args]: string[]): Promise<number> {
  const run = commands[command ?? ''];
  if (!run || args.length !== run.arity) {
    console.error(USAGE);
    return 2;
  }
  const { temporal, deploymentName } = loadDeploymentConfig();
  const client = lazyClient(temporal);
  const target = { client, namespace: temporal.namespace, deploymentName };
  try {
    await run.action(target, args);
    return 0;
  } finally {
    await client.connection.close();
  }
}

type Command = { arity: number; action: (target: DeploymentTarget, args: string[]) => Promise<void> };

const commands: Record<string, Command> = {
  status: {
    arity: 0,
    action: async (target) => console.log(formatStatus(await describeDeployment(target))),
  },
  ramp: {
    arity: 2,
    action: async (target, [buildId, percent]) => {
      const percentage = Number(percent);
      if (!/^\d+(\.\d+)?$/.test(percent!)) throw new Error(`${percent}: a ramp is a percentage from 0 to 100`);
      await rampVersion(target, buildId!, percentage);
      console.log(`ramping: ${percentage} % of new jobs go to ${buildId}`);
    },
  },
  promote: {
    arity: 1,
    action: async (target, [buildId]) => {
      await promoteVersion(target, buildId!);
      console.log(`current: ${buildId}; every new job goes to it`);
    },
  },
  rollback: {
    arity: 0,
    action: async (target) => {
      const done = await rollBack(target);
      console.log(
        done.undid === 'ramp'
          ? `ramp to ${done.buildId} taken off; new jobs go to the current build`
          : `current: ${done.buildId} again (was ${done.from}); jobs pinned to ${done.from} finish on it`,
      );
    },
  },
};

function formatStatus(status: DeploymentStatus): string {
  const lines = [
    `deployment ${status.deploymentName}`,
    `  current: ${status.current ?? 'none (new jobs go to unversioned workers)'}`,
    `  ramping: ${status.ramping ? `${status.ramping.buildId} at ${status.ramping.percentage} %` : 'none'}`,
    '  builds, newest first:',
    ...status.versions.map(
      (version) => `    ${version.buildId}  ${version.state}  ${version.openPinned} pinned run(s) open`,
    ),
  ];
  return lines.join('\n');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof ConfigError ? error.message : `deploy: ${messageOf(error)}`);
    process.exit(1);
  },
);
