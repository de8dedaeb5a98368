#!/usr/bin/env bash
# Installs node_modules when missing, older than package-lock.json, or installed by another Node ABI.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
stamp="node_modules/.package-lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-abi-$(node -p process.versions.modules)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
say "installing npm dependencies (npm ci)"
npm ci --no-audit --no-fund --loglevel=error >&2
echo "$want" >"$stamp"
