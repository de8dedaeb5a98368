#!/usr/bin/env bash
# `npm run chaos [-- --quick] [--seed N] [--json FILE]`: installs what the chaos run needs, then runs it.
# It starts its own Temporal dev server, Redis and PostgreSQL cluster, so it can restart them freely.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
TEMPORAL_CLI_PATH="$(bash dev/setup/temporal-cli.sh)"
REDIS_SERVER_BIN="$(bash dev/setup/redis.sh)"
export TEMPORAL_CLI_PATH REDIS_SERVER_BIN
exec node -r ts-node/register/transpile-only chaos/run.ts "$@"
