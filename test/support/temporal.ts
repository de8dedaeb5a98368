import { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

/**
 * The Temporal CLI dev server: the binary set-up built (or TEMPORAL_CLI_PATH), else the SDK's own download.
 */
export async function startTemporal(): Promise<TestWorkflowEnvironment> {
  const path = process.env.TEMPORAL_CLI_PATH;
  return TestWorkflowEnvironment.createLocal(
    path
      ? { server: { executable: { type: 'existing-path', path }, ip: '127.0.0.1' } }
      : { server: { ip: '127.0.0.1' } },
  );
}

let bundle: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundling takes seconds; a test file does it once. */
export function workflowBundle(): Promise<WorkflowBundleWithSourceMap> {
  bundle ??= bundleWorkflowCode({ workflowsPath: require.resolve('../../src/workflows'), logger: quietLogger });
  return bundle;
}

const noop = () => undefined;
/** Bundler chatter is not test output. */
export const quietLogger = { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: noop };
