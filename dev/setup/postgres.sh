#!/usr/bin/env bash
# Starts the project's own PostgreSQL server (data in .data/postgres, loopback only) unless it already runs,
# installing Debian's postgresql when missing. Prints its admin connection string.
# `postgres.sh stop` stops it again; `postgres.sh remove` stops it and deletes its data (not the default one's).
# QUEL_PG_PORT starts another, private cluster (the chaos run restarts one), with its data apart.
# QUEL_PG_TLS_CERT and QUEL_PG_TLS_KEY (PEM files) start it with TLS on, as Supabase's server runs.
source "$(dirname "$0")/common.sh"
DEFAULT_PORT=54329
PORT="${QUEL_PG_PORT:-$DEFAULT_PORT}"
PGDATA_DIR="$DATA_DIR/postgres"
[ "$PORT" = "$DEFAULT_PORT" ] || PGDATA_DIR="$DATA_DIR/postgres-$PORT"
SERVICE_USER=postgres
URL="postgresql://postgres@127.0.0.1:$PORT/postgres"

pg_bin() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
  [ -n "$dir" ] && [ -x "$dir/$1" ] && { echo "$dir/$1"; return; }
  command -v "$1" || true
}

if [ -z "$(pg_bin initdb)" ]; then
  install_debian_packages postgresql
fi
[ -n "$(pg_bin initdb)" ] || die "PostgreSQL server binaries not found after installing postgresql"

if [ "$(id -u)" = 0 ]; then
  # The server runs as `postgres`, which cannot enter a checkout under a private home folder (/root is 0700).
  runuser -u postgres -- test -x "$DATA_DIR" 2>/dev/null || PGDATA_DIR="/var/lib/quel-image-jobs/postgres-$PORT"
else
  SERVICE_USER="$(id -un)"
fi
if [ "${1:-}" = stop ] || [ "${1:-}" = remove ]; then
  # A run killed with its server leaves a stale postmaster.pid, for which `stop` fails: ask first.
  if [ -f "$PGDATA_DIR/postmaster.pid" ] && as_service_user "$(pg_bin pg_ctl)" -D "$PGDATA_DIR" status >/dev/null; then
    as_service_user "$(pg_bin pg_ctl)" -D "$PGDATA_DIR" -m fast stop >&2
  fi
  if [ "${1:-}" = remove ]; then
    [ "$PORT" != "$DEFAULT_PORT" ] || die "refusing to remove the default cluster's data"
    rm -rf "$PGDATA_DIR"
  fi
  exit 0
fi
if "$(pg_bin pg_isready)" -q -h 127.0.0.1 -p "$PORT"; then
  echo "$URL"; exit 0
fi
if [ ! -f "$PGDATA_DIR/PG_VERSION" ]; then
  say "creating a PostgreSQL cluster in $PGDATA_DIR"
  mkdir -p "$PGDATA_DIR" && chown "$SERVICE_USER" "$PGDATA_DIR" && chmod 700 "$PGDATA_DIR"
  as_service_user "$(pg_bin initdb)" -D "$PGDATA_DIR" -U postgres --auth=trust -E UTF8 >"$DATA_DIR/initdb.log" 2>&1 \
    || die "initdb failed; see $DATA_DIR/initdb.log"
fi
TLS_OPTIONS=""
if [ -n "${QUEL_PG_TLS_CERT:-}" ]; then
  # The server reads its key only when the key is its own and private to it.
  install -m 600 -o "$SERVICE_USER" "$QUEL_PG_TLS_CERT" "$PGDATA_DIR/server.crt"
  install -m 600 -o "$SERVICE_USER" "${QUEL_PG_TLS_KEY:?QUEL_PG_TLS_KEY goes with QUEL_PG_TLS_CERT}" "$PGDATA_DIR/server.key"
  TLS_OPTIONS="-c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key"
fi
say "starting PostgreSQL on 127.0.0.1:$PORT${TLS_OPTIONS:+ with TLS}"
as_service_user "$(pg_bin pg_ctl)" -D "$PGDATA_DIR" -l "$PGDATA_DIR/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories='' -c max_connections=200 -c synchronous_commit=off $TLS_OPTIONS" start >&2 \
  || die "PostgreSQL did not start; see $PGDATA_DIR/server.log"
echo "$URL"
