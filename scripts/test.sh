#!/usr/bin/env bash
# `npm test`: installs what is missing, type-checks and lints, then jest (whose global set-up starts the servers).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/deps.sh
echo "[test] type check and lint" >&2
npx tsc --noEmit
npx eslint .
npx prettier --check . --log-level warn
exec npx jest "$@"
