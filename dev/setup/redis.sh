#!/usr/bin/env bash
# Makes sure a redis-server binary is installed (Debian's redis-server) and prints its path. The tests start
# their own servers from it, on ports of their own, so they can restart them.
source "$(dirname "$0")/common.sh"
if ! command -v redis-server >/dev/null 2>&1; then
  install_debian_packages redis-server
  # The package's own service is not needed: the project starts the servers it uses.
  (service redis-server stop || true) >/dev/null 2>&1
fi
command -v redis-server || die "redis-server not found after installing it"
