#!/usr/bin/env bash
# `npm run demo [-- --once]`: installs what is missing, then runs the demo (src/demo/main.ts).
source "$(dirname "$0")/setup/common.sh"
source "$(dirname "$0")/setup/node.sh"
cd "$ROOT"
echo "[demo] running on Node $(node --version)" >&2
bash scripts/setup/deps.sh
exec node -r ts-node/register/transpile-only src/demo/main.ts "$@"
