#!/usr/bin/env bash
# Everything the tests need running, idempotently; prints KEY=VALUE lines for the test run's environment.
source "$(dirname "$0")/common.sh"
dir="$(dirname "$0")"
echo "TEST_DATABASE_URL=$(bash "$dir/postgres.sh")"
echo "TEMPORAL_CLI_PATH=$(bash "$dir/temporal-cli.sh")"
