#!/usr/bin/env bash
# `npm run bench [-- --quick] [--scale] [--json FILE]`: installs and starts what the benchmark needs, then runs it.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
# The worker runs as deployed: compiled, with the prebuilt workflow bundle.
npm run --silent build >/dev/null
while IFS='=' read -r key value; do export "$key=$value"; done < <(bash dev/setup/services.sh)
exec node -r ts-node/register/transpile-only bench/run.ts "$@"
