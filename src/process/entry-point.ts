import { ConfigError } from './errors';

/**
 * Runs a process's `main` and exits with its code (0 when it returns nothing). A configuration error prints its
 * one sentence per variable; anything else prints with its stack.
 */
export function runEntryPoint(main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      console.error(error instanceof ConfigError ? error.message : error);
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
