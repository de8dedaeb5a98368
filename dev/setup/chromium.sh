#!/usr/bin/env bash
# Makes sure Debian's chromium is installed (the demo page's browser test drives it headless) and prints its path.
source "$(dirname "$0")/common.sh"
command -v chromium >/dev/null 2>&1 || install_debian_packages chromium
command -v chromium || die "chromium not found after installing it"
