export { imageJob, progressQuery } from './image-job';
