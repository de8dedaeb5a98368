import { secretValuesIn } from './config';
import { ConfigError, messageOf } from './errors';
import { scrubText } from './secret';

/**
 * Runs a process's `main` and exits with its code (0 when it returns nothing). A configuration error prints its
 * one sentence per variable; anything else its message and stack. Never the error object itself: a parser's error
 * may carry its whole input (a URL with its password) in a property that printing the object would show.
 */
export function runEntryPoint(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      const text = error instanceof ConfigError ? error.message : ((error as Error)?.stack ?? messageOf(error));
      console.error(scrubText(text, secretValuesIn(process.env)));
      process.exit(1);
    },
  );
}

/** Aborted by the first SIGINT or SIGTERM, so a process can drain what it has in hand and exit 0. */
export function abortOnSignals(): AbortController {
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
  return controller;
}
