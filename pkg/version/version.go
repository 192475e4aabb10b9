// Package version is image-apiserver's own version, stamped at build time by the Makefile and
// the Dockerfile (-ldflags -X). It is kept apart from k8s.io/component-base/version, which
// the generic apiserver reads as the Kubernetes version it emulates.
package version

// These are set with -ldflags "-X github.com/image-apiserver/image-apiserver/pkg/version.gitVersion=...".
var (
	gitVersion = "v0.0.0-dev"
	gitCommit  = "unknown"
	buildDate  = "unknown"
)

// String is the version, commit and build date, for --version.
func String() string {
	return "image-apiserver " + gitVersion + " (commit " + gitCommit + ", built " + buildDate + ")"
}

// Version is the semantic version alone.
func Version() string { return gitVersion }
