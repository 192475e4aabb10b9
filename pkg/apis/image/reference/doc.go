// Package reference parses and renders docker pull specs
// (`[registry/]component(/component)*[:tag][@digest]`).
//
// It reproduces the behaviour the real OpenShift API server gets from
// openshift/library-go's image/reference package,
// including its verbatim error strings, because those strings surface to
// clients as `Invalid value` details. We cannot depend on library-go, so this
// is an independent implementation of the same grammar.
package reference
