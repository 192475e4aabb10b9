// Package layout names the ways Images and ImageStreams can be laid out in etcd, and turns a
// layout into the key prefixes every reader and writer of the server uses.
//
//   - Default, this server's own: the Kubernetes convention <prefix>/<group>/<resource>, so
//     /registry/image.openshift.io/images/<name> and
//     /registry/image.openshift.io/imagestreams/<namespace>/<name>.
//   - OpenShift, openshift-apiserver's: its storage prefix "openshift.io" and no group segment,
//     so /openshift.io/images/<name> and /openshift.io/imagestreams/<namespace>/<name>.
//
// Only the keys differ. openshift-apiserver stores both kinds as this server does: protobuf
// ("k8s\x00", then a runtime.Unknown of image.openshift.io/v1 holding the openshift/api
// message), which this server's storage codec decodes and encodes to the same bytes. So a
// server started with the OpenShift layout serves an OpenShift cluster's etcd in place, and
// what it writes there openshift-apiserver reads back.
//
// managedFields: openshift-apiserver's stored objects often carry none, while this server
// keeps, under either layout, the managedFields its field manager maintains, as every
// Kubernetes API server does. Both are valid for both servers: metadata.managedFields is an
// ordinary ObjectMeta field, which openshift-apiserver's own generic registry decodes, keeps
// and updates (it runs the same field manager), and an object without it is what the field
// manager starts from. Dropping them here would buy OpenShift nothing and would break
// server-side apply on this server (field ownership and conflicts), so they are kept.
package layout

import (
	"fmt"
	"path"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
)

// Layout is a key layout. Its zero value is Default.
type Layout string

const (
	// Default is this server's layout: <prefix>/image.openshift.io/<resource>/...
	Default Layout = "default"
	// OpenShift is openshift-apiserver's layout: <prefix>/<resource>/..., prefix /openshift.io.
	OpenShift Layout = "openshift"
)

// Names are the valid values of a layout flag.
var Names = []string{string(Default), string(OpenShift)}

// Parse returns the layout named s ("" is Default).
func Parse(s string) (Layout, error) {
	switch Layout(s) {
	case "", Default:
		return Default, nil
	case OpenShift:
		return OpenShift, nil
	}
	return "", fmt.Errorf("unknown storage layout %q: must be %s", s, strings.Join(Names, " or "))
}

// String implements pflag.Value. The zero value prints as "", so that a flag without a
// default shows none.
func (l *Layout) String() string { return string(*l) }

// Set implements pflag.Value.
func (l *Layout) Set(s string) error {
	parsed, err := Parse(s)
	if err != nil {
		return err
	}
	*l = parsed
	return nil
}

// Type implements pflag.Value.
func (l *Layout) Type() string { return "layout" }

// DefaultPrefix is the etcd prefix of the layout when none is given: /registry, the
// Kubernetes default, or /openshift.io, openshift-apiserver's (its
// storageConfig.storagePrefix, "openshift.io" unless its configuration says otherwise).
func (l Layout) DefaultPrefix() string {
	if l == OpenShift {
		return "/openshift.io"
	}
	return "/registry"
}

// ResourcePrefix is where a resource's keys start under the etcd prefix, without slashes:
// "image.openshift.io/images" or, OpenShift's, "images".
func (l Layout) ResourcePrefix(gr schema.GroupResource) string {
	if l == OpenShift {
		return gr.Resource
	}
	return gr.Group + "/" + gr.Resource
}

// Root is the full key prefix of a resource's objects under etcd prefix prefix, ending in a
// slash: every key of the resource is Root followed by <name> (cluster-scoped) or
// <namespace>/<name>. It is the key the etcd3 store builds, normalised the same way
// (a missing leading slash added, a trailing one dropped).
func (l Layout) Root(prefix string, gr schema.GroupResource) string {
	return path.Join("/", prefix, l.ResourcePrefix(gr)) + "/"
}

// RESTOptionsGetter returns g with the layout's resource prefixes. Every Store, and every
// component that derives keys from a Store's RESTOptions (the transaction writer, the image
// index and stream cache through the Stores), then reads, writes and watches the layout's
// keys. The etcd prefix stays whatever g's storage configuration says (--etcd-prefix, whose
// default follows the layout). The Default layout returns g unchanged.
func (l Layout) RESTOptionsGetter(g generic.RESTOptionsGetter) generic.RESTOptionsGetter {
	if l != OpenShift {
		return g
	}
	return getter{layout: l, delegate: g}
}

type getter struct {
	layout   Layout
	delegate generic.RESTOptionsGetter
}

func (g getter) GetRESTOptions(resource schema.GroupResource, example runtime.Object) (generic.RESTOptions, error) {
	opts, err := g.delegate.GetRESTOptions(resource, example)
	if err != nil {
		return opts, err
	}
	opts.ResourcePrefix = g.layout.ResourcePrefix(resource)
	return opts, nil
}

var _ generic.RESTOptionsGetter = getter{}
