#!/usr/bin/env bash
# Checks the nested Go modules, which `go vet ./...` and `go mod tidy` of the main module do not
# enter: each is vetted and must be tidy. test/registry is nested so that the registry's newer
# dependencies never move the main module's pins.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
status=0
for mod in test/registry; do
  cd "${root}/${mod}"
  go vet ./...
  # -diff prints what tidy would change and fails, without touching go.mod and go.sum.
  if ! go mod tidy -diff; then
    echo "${mod}/go.mod or go.sum is not tidy: run (cd ${mod} && go mod tidy)"
    status=1
  fi
done
exit "${status}"
