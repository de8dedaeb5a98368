import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { tracedBundlePath } from '../src/worker/workflow-bundle';

/**
 * `npm run build`: the workflow bundles, prebuilt so a worker in an image starts without bundling: the plain one, and
 * one with tracing's workflow interceptors for a worker that traces (src/worker/workflow-bundle.ts picks). With a
 * workflows module and a target (`bundle-workflows.ts MODULE TARGET`), that module's plain bundle instead: the
 * bench's floor.
 */
async function main(): Promise<void> {
  const [workflows, bundle] = process.argv.slice(2);
  const workflowsPath = workflows ? path.resolve(workflows) : require.resolve('../src/workflows');
  const target = bundle ? path.resolve(bundle) : path.join(__dirname, '..', 'dist', 'workflow-bundle.js');
  await write(target, workflowsPath, []);
  if (!bundle) {
    const interceptors = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
    await write(tracedBundlePath(target), workflowsPath, [interceptors]);
  }
}

async function write(target: string, workflowsPath: string, workflowInterceptorModules: string[]): Promise<void> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules,
    // The worker needs the inline source map (it maps workflow stack traces), not the sources inside it: 0.6 MB of
    // them, which the worker's main thread and its workflow thread would each hold (about 6 MB of an idle worker).
    webpackConfigHook: (config) => ({ ...config, devtool: 'inline-nosources-source-map' }),
  });
  await writeFile(target, code);
  console.log(`wrote ${path.relative(process.cwd(), target)} (${(code.length / 1024).toFixed(0)} KiB)`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
