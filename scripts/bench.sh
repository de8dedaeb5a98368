#!/usr/bin/env bash
# `npm run bench [-- --quick] [--json FILE]`: installs and starts what the benchmark needs, then runs it.
source "$(dirname "$0")/setup/common.sh"
source "$(dirname "$0")/setup/node.sh"
cd "$ROOT"
bash scripts/setup/deps.sh
# The worker runs as deployed: compiled, with the prebuilt workflow bundle.
npm run --silent build >/dev/null
while IFS='=' read -r key value; do export "$key=$value"; done < <(bash scripts/setup/services.sh)
exec node -r ts-node/register/transpile-only bench/run.ts "$@"
