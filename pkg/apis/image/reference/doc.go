// Package reference parses and renders docker pull specs
// (`[registry/]component(/component)*[:tag][@digest]`) and digests.
//
// It reproduces the behaviour the real OpenShift API server gets from
// openshift/library-go's image/reference package, including its verbatim
// error strings, because those strings surface to clients as `Invalid value`
// details. library-go carries its own copy of distribution's grammar and
// digest code; this package uses the maintained originals,
// github.com/distribution/reference (never its Docker Hub normalisation: a
// spec is recorded as typed) and github.com/opencontainers/go-digest, and adds
// OpenShift's rules where those libraries differ: how a spec splits into
// registry, namespace and name, the length limit counting the registry, and
// uppercase hex allowed in a pull spec's digest. The one deliberate extension
// over OpenShift is distribution's: IPv6 registry hosts (`[fd00::1]:5000/a`).
package reference
