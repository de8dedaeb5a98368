#!/usr/bin/env bash
# Prints the path of a Temporal CLI (dev server + Web UI) binary, building it when needed:
#   1. TEMPORAL_CLI_PATH, when the user already has one;
#   2. the cached build from an earlier run;
#   3. `go install` of the pinned release through the Go module proxy (a few minutes, once).
# Prints nothing when none of these can work: the Temporal SDK then downloads the CLI itself (needs a network).
source "$(dirname "$0")/common.sh"
VERSION="v1.5.1" # the newest release whose go.mod has no `replace` directive, so `go install` can build it
if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || die "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable"
  echo "$TEMPORAL_CLI_PATH"; exit 0
fi
bin_dir="$CACHE_DIR/temporal-cli-$VERSION"
if [ -x "$bin_dir/temporal" ]; then
  echo "$bin_dir/temporal"; exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  say "no Go toolchain: the Temporal SDK will download its dev server instead"
  exit 0
fi
say "building the Temporal CLI $VERSION with go install (first run only, takes a few minutes)"
mkdir -p "$bin_dir"
GOBIN="$bin_dir" GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$VERSION" >&2 \
  || die "go install of the Temporal CLI failed; set TEMPORAL_CLI_PATH to an existing binary"
echo "$bin_dir/temporal"
