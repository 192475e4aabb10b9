//go:build tools

// Package realbins pins the real etcd, kube-apiserver and kubectl that the integration and
// end-to-end tests run. hack/build-realbins.sh builds them from the Go module proxy into
// _output/bin; nothing here is compiled into image-apiserver.
package realbins

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
