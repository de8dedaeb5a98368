#!/usr/bin/env bash
# `npm test`: installs what is missing, type-checks and lints, then jest (whose global set-up starts the servers).
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
echo "[test] running on Node $(node --version)" >&2
bash dev/setup/deps.sh
echo "[test] type check and lint" >&2
npx tsc --noEmit
npx eslint .
npx prettier --check . --log-level warn
exec bash scripts/jest.sh "$@"
