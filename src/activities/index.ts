export { createActivities, type ActivityDependencies, type Activities } from './create-activities';
export type { JobSteps } from './job-steps';
export { DEFAULT_MAX_SOURCE_IMAGE_BYTES, GEMINI_INLINE_SOURCE_LIMIT } from './source-size';
export type { ImageGeneration } from './image-generation';
export type * from './types';
