#!/usr/bin/env bash
# Fails when the committed generated code differs from what hack/update-codegen.sh produces.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "${tmp}"' EXIT
files=(pkg/apis/image/v1/zz_generated.defaults.go pkg/generated/openapi/zz_generated.openapi.go hack/api-violations.list)
for f in "${files[@]}"; do mkdir -p "${tmp}/$(dirname "$f")"; cp "${root}/$f" "${tmp}/$f"; done
"${root}/hack/update-codegen.sh"
status=0
for f in "${files[@]}"; do
  if ! diff -Naupr "${tmp}/$f" "${root}/$f"; then status=1; fi
  cp "${tmp}/$f" "${root}/$f"   # leave the tree as it was
done
if [[ ${status} -ne 0 ]]; then
  echo "Generated code is out of date: run hack/update-codegen.sh" >&2
  exit 1
fi
echo "Generated code is up to date"
