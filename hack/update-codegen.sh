#!/usr/bin/env bash
# Regenerates every generated file: defaulters for our v1 package and the OpenAPI definitions.
# The generators are the versions pinned by go.mod's `tool` directives, so the output only
# changes when go.mod does. hack/verify-codegen.sh checks that the committed output is current.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "${root}"
module=$(go list -m)
boilerplate=hack/boilerplate.go.txt

rm -f pkg/apis/image/v1/zz_generated.defaults.go
go tool defaulter-gen --go-header-file "${boilerplate}" --output-file zz_generated.defaults.go \
  "${module}/pkg/apis/image/v1"

# The openshift types break about 70 API naming rules; the accepted list is committed and any
# new violation fails the run, as kube_codegen.sh does.
report=$(mktemp)
trap 'rm -f "${report}"' EXIT
rm -f pkg/generated/openapi/zz_generated.openapi.go
go tool openapi-gen --go-header-file "${boilerplate}" --output-file zz_generated.openapi.go \
  --output-dir pkg/generated/openapi --output-pkg "${module}/pkg/generated/openapi" \
  --report-filename "${report}" \
  k8s.io/apimachinery/pkg/apis/meta/v1 k8s.io/apimachinery/pkg/runtime k8s.io/apimachinery/pkg/version \
  k8s.io/apimachinery/pkg/api/resource k8s.io/apimachinery/pkg/util/intstr \
  k8s.io/api/core/v1 github.com/openshift/api/image/v1
if [[ "${UPDATE_API_VIOLATIONS:-}" == "true" ]]; then
  cp "${report}" hack/api-violations.list
elif ! diff -u hack/api-violations.list "${report}"; then
  echo "New API rule violations (see above). If they are intended, run UPDATE_API_VIOLATIONS=true hack/update-codegen.sh" >&2
  exit 1
fi
gofmt -w pkg/apis/image/v1/zz_generated.defaults.go pkg/generated/openapi/zz_generated.openapi.go
