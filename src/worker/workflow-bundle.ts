import { existsSync } from 'node:fs';
import type { WorkflowBundleOption } from '@temporalio/worker';

/** Where `npm run build` puts the bundle built with tracing's workflow interceptors: beside the plain one. */
export function tracedBundlePath(bundlePath: string): string {
  return bundlePath.replace(/(\.js)?$/, '.traced.js');
}

/**
 * The prebuilt bundle a worker runs (WORKFLOW_BUNDLE_PATH): the plain one, or, with tracing on, the one built with
 * tracing's workflow interceptors, without which the workflows' spans would be missing. Undefined when there is
 * none to use: the worker then bundles from source at start, which holds webpack's memory for the worker's lifetime
 * (about 100 MB more at the peak of the bench's fleet).
 */
export function prebuiltBundle(bundlePath: string | undefined, tracing: boolean): WorkflowBundleOption | undefined {
  if (!bundlePath) return undefined;
  const codePath = tracing ? tracedBundlePath(bundlePath) : bundlePath;
  return !tracing || existsSync(codePath) ? { codePath } : undefined;
}
