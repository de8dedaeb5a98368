#!/usr/bin/env bash
# For checking docker-compose.yml without a Docker engine: prints a DOCKER_CONFIG folder whose cli-plugins hold
# Docker Compose v2, or nothing when `docker compose` already works. Builds Compose from the Go module proxy
# the first time (a few minutes), as these machines have the docker CLI but not its compose plugin.
source "$(dirname "$0")/common.sh"
VERSION="v2.29.7"
command -v docker >/dev/null 2>&1 || die "no docker CLI: install Docker's CLI to check docker-compose.yml"
if docker compose version >/dev/null 2>&1; then exit 0; fi
config_dir="$CACHE_DIR/docker-compose-$VERSION"
if [ ! -x "$config_dir/cli-plugins/docker-compose" ]; then
  command -v go >/dev/null 2>&1 || die "docker compose is missing and there is no Go toolchain to build it"
  say "building Docker Compose $VERSION with go install (first run only, takes a few minutes)"
  mkdir -p "$config_dir/cli-plugins"
  GOBIN="$config_dir/bin" GOFLAGS=-mod=mod go install "github.com/docker/compose/v2/cmd@$VERSION" >&2 \
    || die "go install of Docker Compose failed"
  mv "$config_dir/bin/cmd" "$config_dir/cli-plugins/docker-compose"
fi
echo "$config_dir"
