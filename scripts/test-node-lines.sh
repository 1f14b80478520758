#!/usr/bin/env bash
# Runs the tests listed in scripts/node-lines-tests with vitest on each Node line pinned in
# scripts/node-lines (or only the majors given as arguments), one line after the other, and
# prints each line's duration. Exits non-zero when any line failed (after running them all).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ $# -gt 0 ]; then
  majors=("$@")
else
  mapfile -t majors < <(awk '!/^[[:space:]]*(#|$)/ { print $1 }' scripts/node-lines)
fi

# Absolute paths: vitest keeps a file whose path starts with an absolute filter, where a relative
# one would be matched as a substring anywhere in the path ("clients" would match elsewhere too).
paths=()
while read -r entry; do
  if [ -d "$entry" ]; then
    paths+=("$root/${entry%/}/")
  elif [ -f "$entry" ]; then
    paths+=("$root/$entry")
  else
    echo "node-lines: $entry (scripts/node-lines-tests) does not exist" >&2
    exit 2
  fi
done < <(awk '!/^[[:space:]]*(#|$)/ { print $1 }' scripts/node-lines-tests)
if [ ${#paths[@]} -eq 0 ]; then
  echo "node-lines: scripts/node-lines-tests lists no tests" >&2
  exit 2
fi

summary=()
failed=0
for major in "${majors[@]}"; do
  echo "node-lines: Node $major: vitest run ${paths[*]#"$root/"}"
  start=$(date +%s)
  status=0
  bash scripts/with-node.sh "$major" bash -c 'node --version && exec node_modules/.bin/vitest run "$@"' vitest "${paths[@]}" || status=$?
  seconds=$(( $(date +%s) - start ))
  if [ "$status" -eq 0 ]; then
    summary+=("Node $major: passed in ${seconds} s")
  else
    summary+=("Node $major: FAILED (exit $status) after ${seconds} s")
    failed=1
  fi
  echo "node-lines: ${summary[-1]}"
done

echo "node-lines: summary"
printf '  %s\n' "${summary[@]}"
exit "$failed"
