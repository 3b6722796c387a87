#!/usr/bin/env bash
# Prints the path of the pinned Bun binary, for CI, the Bun tests and anyone running the Bun gates:
# the binary the npm registry ships inside `@oven/bun-linux-<arch>` (its package's bin/bun), installed
# once into a cache folder (no system install, nothing fetched outside the npm registry, never the
# `bun` that happens to be on PATH). Usage: scripts/ci/bun-binary.sh   (BUN_VERSION overrides the pin)
set -euo pipefail
# The pin: bump it here (and in package.json's @types/bun) after `bun test` passes on the new one.
version=${BUN_VERSION:-1.4.5}
case "$(uname -m)" in
  x86_64) pkg=@oven/bun-linux-x64 ;;
  aarch64 | arm64) pkg=@oven/bun-linux-aarch64 ;;
  *) echo "bun-binary.sh: no npm package ships Bun for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/clerk-neon-sync/bun-$version"
bin="$dir/node_modules/$pkg/bin/bun"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$pkg@$version" >&2
fi
[ "$("$bin" --version)" = "$version" ] || { echo "bun-binary.sh: $bin is not Bun $version" >&2; exit 1; }
echo "$bin"
