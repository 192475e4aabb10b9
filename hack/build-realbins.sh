#!/usr/bin/env bash
# Builds the real etcd, kube-apiserver and kubectl that the tests run, from the Go module proxy
# (hack/realbins/go.mod), into _output/bin. The binaries are rebuilt only when
# hack/realbins/go.sum changes: a stamp file beside them records the hash they were built from.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="${root}/_output/bin"
stamp="${out}/.realbins.stamp"
want=$(sha256sum "${root}/hack/realbins/go.sum" | cut -d' ' -f1)
if [[ -f "${stamp}" && "$(cat "${stamp}")" == "${want}" && -x "${out}/etcd" && -x "${out}/kube-apiserver" && -x "${out}/kubectl" ]]; then
  exit 0
fi
mkdir -p "${out}"
cd "${root}/hack/realbins"
ldflags='-s -w -X k8s.io/component-base/version.gitVersion=v1.37.2 -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37'
echo "Building etcd, kubectl and kube-apiserver from hack/realbins/go.mod (a few minutes on a cold cache)"
go build -trimpath -ldflags "${ldflags}" -o "${out}/etcd" go.etcd.io/etcd/server/v3
go build -trimpath -ldflags "${ldflags}" -o "${out}/kubectl" k8s.io/kubernetes/cmd/kubectl
go build -trimpath -ldflags "${ldflags}" -o "${out}/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver
echo "${want}" > "${stamp}"
