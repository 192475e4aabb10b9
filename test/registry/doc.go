// Package registry holds tests of the image-apiserver against a real CNCF distribution
// registry (v3), run in the test process: its push notifications recorded in image streams,
// and ImageStreamImport reading from it with and without credentials.
//
// It is a Go module of its own because the registry's dependencies (OpenTelemetry, gRPC,
// x/net) are newer than what the Kubernetes libraries of the main module pin; nested, they
// never move the server's versions.
package registry
