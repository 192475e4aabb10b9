// Package e2e runs image-apiserver aggregated behind a real kube-apiserver (v1.37.2, built
// from its Go module by `make tools` together with etcd 3.7.3 and kubectl 1.37.2) and drives
// it through the aggregator with the real kubectl.
//
// The tests carry the build tag e2e; run them with `make e2e`, which builds the binaries
// first, or with `go test -tags e2e ./test/e2e/` after `make build tools`. One stack (etcd,
// kube-apiserver, image-apiserver, the APIService) is shared by all tests of the package.
// Everything listens on 127.0.0.1: the APIService points at a Service of type ExternalName
// "localhost", so the aggregator dials our port on loopback.
package e2e
