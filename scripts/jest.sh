#!/usr/bin/env bash
# `npm run jest -- [files]`: jest alone on Node 24 (no type check or lint), for one file or a few.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
# Jest loads ESM-only packages (file-type) through Node's vm modules, still behind a flag in Node 24.
exec node --experimental-vm-modules --disable-warning=ExperimentalWarning node_modules/jest/bin/jest.js "$@"
