#!/usr/bin/env bash
# Runs every Go native fuzz target (func FuzzXxx(f *testing.F) in a _test.go file under pkg/)
# one after the other, FUZZTIME each: go test fuzzes one target per invocation.
#
#   FUZZTIME          how long each target is fuzzed (go test -fuzztime), default 60s
#   FUZZMINIMIZETIME  how long each attempt to minimize a new or failing input may take
#                     (-fuzzminimizetime), default 2s: go's default minute per attempt, spent
#                     on the larger seeds, would leave a short run no time to fuzz
#   FUZZ              only targets whose name matches this extended regexp, default all
#
# A failing input is written to testdata/fuzz/<FuzzName>/ beside the target; commit it, and
# `go test` replays it as a regression test from then on. All targets run even after a
# failure; the exit status is 1 if any failed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"
fuzztime=${FUZZTIME:-60s}
minimizetime=${FUZZMINIMIZETIME:-2s}
filter=${FUZZ:-.}

mapfile -t targets < <(grep -rlE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*\(f \*testing\.F\)' pkg |
  while read -r file; do
    sed -nE 's/^func (Fuzz[A-Za-z0-9_]*)\(f \*testing\.F\).*/\1/p' "${file}" | while read -r name; do
      echo "./$(dirname "${file}") ${name}"
    done
  done | sort)
failed=()
ran=0
start=${SECONDS}
for target in "${targets[@]}"; do
  read -r pkg name <<<"${target}"
  [[ ${name} =~ ${filter} ]] || continue
  ran=$((ran + 1))
  echo "=== ${name} (${pkg}, ${fuzztime})"
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "${fuzztime}" -fuzzminimizetime "${minimizetime}" "${pkg}"; then
    failed+=("${name}")
  fi
done
if [[ ${ran} -eq 0 ]]; then
  echo "no fuzz target matches ${filter}" >&2
  exit 1
fi
echo "fuzzed ${ran} targets in $((SECONDS - start))s"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "failing fuzz targets: ${failed[*]} (inputs in testdata/fuzz/<FuzzName>/)" >&2
  exit 1
fi
