#!/usr/bin/env bash
# `npm run bench [-- --quick] [--scale] [--json FILE]`: installs and starts what the benchmark needs, then runs it.
source "$(dirname "$0")/../dev/setup/common.sh"
source "$(dirname "$0")/../dev/setup/node.sh"
cd "$ROOT"
bash dev/setup/deps.sh
# The worker runs as deployed: compiled, with the prebuilt workflow bundle; the peers' workers (bench/peers/) alike.
npm run --silent build >/dev/null
node_modules/.bin/tsc -p bench/peers/tsconfig.json
node -r ts-node/register/transpile-only scripts/bundle-workflows.ts bench/peers/floor-workflow.ts dist/peers/floor-bundle.js >/dev/null
while IFS='=' read -r key value; do export "$key=$value"; done < <(bash dev/setup/services.sh)
# The stand-ins play remote services, whose CPU a deployment does not pay, yet here they share the two cores with what
# is measured. V8 collects their process's whole heap (the TypeScript compiler's, the test client's) each time its
# short-lived buffers add up to 64 MB; counted with the heap instead, the stand-ins cost 20 ms of CPU an image, not 48.
exec node --external-memory-accounted-in-global-limit -r ts-node/register/transpile-only bench/run.ts "$@"
