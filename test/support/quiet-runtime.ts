import { DefaultLogger, Runtime, makeTelemetryFilterString } from '@temporalio/worker';

// Test output shows failures, not the worker's routine state changes; errors still come through.
Runtime.install({
  logger: new DefaultLogger('ERROR'),
  telemetryOptions: { logging: { filter: makeTelemetryFilterString({ core: 'ERROR' }) } },
});
