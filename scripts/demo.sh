#!/usr/bin/env bash
# `npm run demo [-- --once]`: installs what is missing, then runs the demo (src/demo/main.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/deps.sh
exec node -r ts-node/register/transpile-only src/demo/main.ts "$@"
