import pino from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';
import { sentenceOf } from './log-sentence';
import { withoutUrlSecrets } from './secret';

export type Logger = pino.Logger;

/**
 * One JSON line per event, or a human line when no destination is given and stdout is a terminal. Anything under
 * a credential-shaped key is censored, whatever logged it. An error, under `err` or under `error` (as Temporal's SDK
 * logs a failed activity or workflow), is written with its message and stack, every URL in them cut to its path: a
 * failed fetch's message quotes its URL whole, query and all.
 */
export function createLogger(
  level: string,
  name: string,
  destination: pino.DestinationStream | undefined = process.stdout.isTTY ? humanLines(1, true) : undefined,
): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      serializers: { err: errorLine, error: errorLine },
      redact: {
        paths: [
          'apiKey',
          'serviceKey',
          'password',
          'authorization',
          '*.apiKey',
          '*.serviceKey',
          '*.password',
          '*.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}

/** An `err` or `error` field, with every URL cut to its path: an Error serialised, or a message logged as text. */
function errorLine(error: unknown): unknown {
  if (typeof error === 'string') return withoutUrlSecrets(error);
  // Not `instanceof Error`: an error of Node's own modules may come from another realm (as under Jest).
  if (typeof (error as { message?: unknown } | null)?.message !== 'string') return error;
  const serialized = pino.stdSerializers.err(error as Error);
  serialized.message = withoutUrlSecrets(serialized.message ?? '');
  if (serialized.stack) serialized.stack = withoutUrlSecrets(serialized.stack);
  return serialized;
}

/**
 * Human lines to a file descriptor or a file: the time, the level, the part of the process (worker, bridge) and what
 * happened in words (log-sentence.ts), one line per event; the other fields are left to the JSON lines.
 */
export function humanLines(destination: number | string, colorize = false): pino.DestinationStream {
  // Loaded only here: a process that logs JSON lines, as deployed, does not hold it (2 MB).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { build: pretty } = require('pino-pretty') as typeof import('pino-pretty');
  return pretty({
    destination,
    colorize,
    mkdir: true,
    sync: typeof destination === 'number',
    ignore: 'pid,hostname',
    hideObject: true,
    messageFormat: (line) => sentenceOf(line),
    customPrettifiers: { name: (name, _key, line) => String((line as { component?: string }).component ?? name) },
  });
}

const LEVELS: Record<LogLevel, pino.Level> = {
  TRACE: 'trace',
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
};

/**
 * Temporal's Runtime logger, writing through pino: activity and workflow log lines arrive here carrying
 * workflowId, runId and activity attributes, and workflow lines are not repeated on replay. The activity's task
 * token is left out: it is noise to a reader, and whoever holds it can complete the activity.
 */
export function temporalLoggerFor(logger: Logger): TemporalLogger {
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const { taskToken: _taskToken, ...fields } = meta ?? {};
    logger[LEVELS[level]](fields, message);
  };
  return {
    log: emit,
    trace: (message, meta) => emit('TRACE', message, meta),
    debug: (message, meta) => emit('DEBUG', message, meta),
    info: (message, meta) => emit('INFO', message, meta),
    warn: (message, meta) => emit('WARN', message, meta),
    error: (message, meta) => emit('ERROR', message, meta),
  };
}
