export { imageJob, progressQuery } from './image-job';
export { sweepStalePendingJobs } from './sweep';
