#!/usr/bin/env bash
# `npm start`, `start:worker`, `start:bridge`, `enqueue`, `replay`, `deploy`, `search-attributes`: runs one TypeScript
# entry point on Node 24 (provisioned when the machine's node is older), installing npm dependencies when missing.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
exec node -r ts-node/register/transpile-only "$@"
