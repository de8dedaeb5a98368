import { killServices } from '../../dev/processes';

// Whatever a test file spawned and did not stop (a failed assertion skips its clean-up) ends with the file.
afterAll(() => killServices());
