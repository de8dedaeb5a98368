export { createActivities, type ActivityDependencies, type Activities } from './create-activities';
export { MAX_SOURCE_IMAGE_BYTES, type JobSteps } from './job-steps';
export type { ImageGeneration } from './image-generation';
export type * from './types';
