#!/usr/bin/env bash
# The Temporal server as a real cluster runs it (dev/temporal-cluster.ts), not the CLI's dev server. Prints
#   TEMPORAL_SERVER_PATH=      the server binary (`server start --service NAME`)
#   TEMPORAL_SQL_TOOL_PATH=    temporal-sql-tool, which creates and migrates its PostgreSQL databases
#   TEMPORAL_SCHEMA_DIR=       the release's PostgreSQL schemas (v12/temporal/versioned, v12/visibility/versioned)
# Each is, in order: the variable itself when the user already has one; the cached build from an earlier run;
# `go install` of the pinned release through the Go module proxy (several minutes, once).
# Prints nothing when there is no Go toolchain and no override: the cluster test then fails, naming the variable,
# and every other test runs as before.
source "$(dirname "$0")/common.sh"
VERSION="v1.32.1" # the newest release that builds with the Go on these machines (v1.32.2 needs a newer Go)
MODULE="go.temporal.io/server"
dir="$CACHE_DIR/temporal-server-$VERSION"

server="${TEMPORAL_SERVER_PATH:-}"
sql_tool="${TEMPORAL_SQL_TOOL_PATH:-}"
schema="${TEMPORAL_SCHEMA_DIR:-}"
[ -z "$server" ] || [ -x "$server" ] || die "TEMPORAL_SERVER_PATH=$server is not an executable"
[ -z "$sql_tool" ] || [ -x "$sql_tool" ] || die "TEMPORAL_SQL_TOOL_PATH=$sql_tool is not an executable"
[ -z "$schema" ] || [ -d "$schema/v12/temporal/versioned" ] \
  || die "TEMPORAL_SCHEMA_DIR=$schema has no v12/temporal/versioned (it should be a release's schema/postgresql)"
[ -n "$server" ] || [ ! -x "$dir/server" ] || server="$dir/server"
[ -n "$sql_tool" ] || [ ! -x "$dir/temporal-sql-tool" ] || sql_tool="$dir/temporal-sql-tool"
[ -n "$schema" ] || [ ! -f "$dir/schema/.complete" ] || schema="$dir/schema"

if [ -z "$server" ] || [ -z "$sql_tool" ] || [ -z "$schema" ]; then
  if ! command -v go >/dev/null 2>&1; then
    say "no Go toolchain and no TEMPORAL_SERVER_PATH: the Temporal cluster test cannot run"
    exit 0
  fi
  mkdir -p "$dir"
  if [ -z "$server" ]; then
    say "building the Temporal server $VERSION with go install (first run only, takes several minutes)"
    GOBIN="$dir" GOFLAGS=-mod=mod go install "$MODULE/cmd/server@$VERSION" >&2 \
      || die "go install of the Temporal server failed; set TEMPORAL_SERVER_PATH to an existing binary"
    server="$dir/server"
  fi
  if [ -z "$sql_tool" ]; then
    say "building temporal-sql-tool $VERSION with go install (first run only)"
    # `go install` names the binary after its package folder (sql); renamed so that nothing mistakes it for psql.
    tmp="$(mktemp -d "$dir/sql.XXXXXX")"
    GOBIN="$tmp" GOFLAGS=-mod=mod go install "$MODULE/cmd/tools/sql@$VERSION" >&2 \
      || die "go install of temporal-sql-tool failed; set TEMPORAL_SQL_TOOL_PATH to an existing binary"
    mv "$tmp/sql" "$dir/temporal-sql-tool" && rmdir "$tmp"
    sql_tool="$dir/temporal-sql-tool"
  fi
  if [ -z "$schema" ]; then
    module_dir="$(GOFLAGS=-mod=mod go mod download -json "$MODULE@$VERSION" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')"
    [ -d "$module_dir/schema/postgresql/v12" ] || die "the $MODULE@$VERSION module has no schema/postgresql/v12"
    # Copied, not linked: the module cache is read-only and may be cleaned (go clean -modcache) at any time.
    rm -rf "$dir/schema" && mkdir -p "$dir/schema/v12"
    for store in temporal visibility; do
      cp -R "$module_dir/schema/postgresql/v12/$store" "$dir/schema/v12/$store"
    done
    chmod -R u+w "$dir/schema"
    touch "$dir/schema/.complete"
    schema="$dir/schema"
  fi
fi
echo "TEMPORAL_SERVER_PATH=$server"
echo "TEMPORAL_SQL_TOOL_PATH=$sql_tool"
echo "TEMPORAL_SCHEMA_DIR=$schema"
