import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { devServerTuningArgs } from './temporal-dev-server';
import { SEARCH_ATTRIBUTES } from '../src/contract';

/**
 * The Temporal CLI dev server: the binary set-up built (or TEMPORAL_CLI_PATH), else the SDK's own download;
 * with the product's search attributes registered, as every namespace it runs on must have them, and tuned as the
 * demo's server is.
 */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_CLI_PATH;
  const server = { ip: '127.0.0.1', searchAttributes: SEARCH_ATTRIBUTES, extraArgs: devServerTuningArgs() };
  return TestWorkflowEnvironment.createLocal({
    server: path ? { ...server, executable: { type: 'existing-path', path } } : server,
  });
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling takes seconds; a test file does it once. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../src/workflows'), logger: quietLogger });
  return bundle;
}

const noop = () => undefined;
/** Bundler chatter is not test output. */
export const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
