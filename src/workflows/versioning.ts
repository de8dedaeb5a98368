import type { VersioningBehavior, WorkflowDefinitionOptions } from '@temporalio/common';
import { workflowInfo } from '@temporalio/workflow';

/**
 * A workflow type's versioning behavior, declared on versioned workers only: the server refuses a workflow task
 * completed with a behavior by a worker that has no deployment version, so on an unversioned worker the type
 * declares none. Read once per run as the worker loads it, from the version of the worker that runs the task.
 */
export function onVersionedWorkers(versioningBehavior: VersioningBehavior): () => WorkflowDefinitionOptions {
  return () => (workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior } : {});
}
