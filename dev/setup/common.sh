# Shared by the set-up scripts: where things live and how they talk. Sourced, not run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA_DIR="${QUEL_DATA_DIR:-$ROOT/.data}"
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/quel-image-jobs"

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

# Installs Debian packages; needs root (as CI and these machines have), otherwise says what to install.
install_debian_packages() {
  [ "$(id -u)" = 0 ] || die "missing Debian packages, please install: $*"
  command -v apt-get >/dev/null 2>&1 || die "this is not a Debian-like system; please install: $*"
  say "installing $* (Debian packages; first run only)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >"$DATA_DIR/apt.log" 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$DATA_DIR/apt.log" 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >>"$DATA_DIR/apt.log" 2>&1 || die "apt-get install $* failed; see $DATA_DIR/apt.log"
  fi
}

# Runs a command as the unprivileged owner of a data folder: PostgreSQL refuses to run as root.
as_service_user() {
  if [ "$(id -u)" = 0 ]; then (cd / && runuser -u "$SERVICE_USER" -- "$@"); else "$@"; fi
}

mkdir -p "$DATA_DIR"
