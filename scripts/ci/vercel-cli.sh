#!/usr/bin/env bash
# Prints the path of Vercel's CLI entry (vc.js), pinned to one version, installed once into a cache
# folder from the npm registry (no account, no network beyond the registry). Used by the offline
# `vercel build` test and `npm run bench:cold`.
#
# Why not a devDependency: vercel's native helper ships one optional package per platform, and a
# lock file written on a machine whose registry lacks some of them cannot be installed elsewhere
# with `npm ci`; it would also add ~400 MB to every `npm install`. 61.x-64.x do not install
# from the registry at all (a dependency version is missing), hence the pin.
set -euo pipefail
version=${VERCEL_CLI_VERSION:-60.1.3}
dir="${XDG_CACHE_HOME:-$HOME/.cache}/clerk-neon-sync/vercel-$version"
entry="$dir/node_modules/vercel/dist/vc.js"
if [ ! -f "$entry" ]; then
  mkdir -p "$dir"
  echo '{"private":true}' > "$dir/package.json"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "vercel@$version" >&2
fi
echo "$entry"
