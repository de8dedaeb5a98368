#!/usr/bin/env bash
# Everything the tests need, idempotently; prints KEY=VALUE lines for the test run's environment.
source "$(dirname "$0")/common.sh"
dir="$(dirname "$0")"
# Assigned first so that a failing step stops here (set -e does not see a failure inside `echo "$(...)"`).
database_url="$(bash "$dir/postgres.sh")"
temporal_cli="$(bash "$dir/temporal-cli.sh")"
temporal_server="$(bash "$dir/temporal-server.sh")"
redis_server="$(bash "$dir/redis.sh")"
compose_config="$(bash "$dir/docker-compose.sh")"
# The TLS tests make their CA and certificates with it.
command -v openssl >/dev/null 2>&1 || install_debian_packages openssl
chromium="$(bash "$dir/chromium.sh")"
echo "TEST_DATABASE_URL=$database_url"
echo "TEMPORAL_CLI_PATH=$temporal_cli"
[ -z "$temporal_server" ] || echo "$temporal_server"
echo "REDIS_SERVER_BIN=$redis_server"
echo "DOCKER_COMPOSE_CONFIG=$compose_config"
echo "CHROMIUM_PATH=$chromium"
