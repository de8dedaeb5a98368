#!/usr/bin/env bash
# `npm run demo [-- --once]`: installs what is missing, then runs the demo (dev/demo/main.ts).
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
echo "[demo] running on Node $(node --version)" >&2
bash dev/setup/deps.sh
exec node -r ts-node/register/transpile-only dev/demo/main.ts "$@"
