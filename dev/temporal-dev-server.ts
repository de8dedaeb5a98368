/**
 * Dynamic config for every Temporal CLI dev server this project starts (demo, tests, bench, chaos), and, through
 * `deploy/temporal-dynamic-config.yaml` (kept equal by a test), for docker-compose's Temporal.
 *
 * The dev server runs a single history shard. Each shard's transfer queue, which hands new workflow and activity
 * tasks to matching, may poll its backlog at most `history.transferProcessorMaxPollRPS` times a second (20 by
 * default, a value sized for clusters with hundreds of shards, where one shard sees a small share of the load).
 * On one shard that limit is spent within a second of steady work, and from then on every workflow step waits
 * about 45 ms for the next poll before its task is even offered to a worker: a 10-activity workflow takes 105 ms
 * per step instead of 11 ms (see README, Performance). Polls happen only when tasks are added, so raising the
 * limit costs nothing when idle.
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 1000,
};

/** `temporal server start-dev` arguments that apply {@link DEV_SERVER_DYNAMIC_CONFIG}. */
export function devServerTuningArgs(): string[] {
  return Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => [
    '--dynamic-config-value',
    `${key}=${value}`,
  ]);
}
