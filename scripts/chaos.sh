#!/usr/bin/env bash
# `npm run chaos [-- --quick] [--seed N] [--json FILE] [--engine dev|cluster] [--workers N] [--bridges N]`: installs
# what the chaos run needs, then runs it. It starts its own Temporal (the dev server, or a real cluster whose
# databases go on the project's PostgreSQL), Redis and a private PostgreSQL, so it can restart them freely.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
TEMPORAL_CLI_PATH="$(bash dev/setup/temporal-cli.sh)"
REDIS_SERVER_BIN="$(bash dev/setup/redis.sh)"
export TEMPORAL_CLI_PATH REDIS_SERVER_BIN
if [[ " $* " == *" --engine cluster "* || " $* " == *" --engine=cluster "* ]]; then
  TEST_DATABASE_URL="$(bash dev/setup/postgres.sh)"
  export TEST_DATABASE_URL
  while IFS='=' read -r key value; do export "$key=$value"; done < <(bash dev/setup/temporal-server.sh)
fi
exec node -r ts-node/register/transpile-only chaos/run.ts "$@"
