#!/usr/bin/env bash
# `npm run soak -- --minutes N [--engine dev|cluster] [--json FILE] [--plot FILE.png] [--seed N]`: installs and starts
# what the soak needs, then runs it. It starts its own Temporal (the dev server, or a real cluster), Redis and
# PostgreSQL, and draws its plot in the Chromium the page test uses.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
# The worker and bridge run as deployed: compiled, with the prebuilt workflow bundle.
npm run --silent build >/dev/null
TEMPORAL_CLI_PATH="$(bash dev/setup/temporal-cli.sh)"
REDIS_SERVER_BIN="$(bash dev/setup/redis.sh)"
CHROMIUM_PATH="$(bash dev/setup/chromium.sh)"
export TEMPORAL_CLI_PATH REDIS_SERVER_BIN CHROMIUM_PATH
if [[ " $* " == *" --engine cluster "* || " $* " == *" --engine=cluster "* ]]; then
  while IFS='=' read -r key value; do export "$key=$value"; done < <(bash dev/setup/temporal-server.sh)
fi
# The stand-ins share this process and its two cores with what is measured; their buffers counted with the heap, as in
# scripts/bench.sh, they cost less CPU.
exec node --external-memory-accounted-in-global-limit -r ts-node/register/transpile-only soak/run.ts "$@"
