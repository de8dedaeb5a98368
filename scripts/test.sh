#!/usr/bin/env bash
# `npm test`: installs what is missing, starts the servers the tests use, runs jest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup/deps.sh
exec npx jest "$@"
