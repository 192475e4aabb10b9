// Package imageutil holds the image.openshift.io behaviour that several registries share and
// that openshift-apiserver keeps in its internal types and helpers: the dockerImageMetadata
// codec, metadata derivation from manifests and configs on create and update, the tag history
// algorithms and the `oc get is` cell helpers.
//
// We serve the openshift/api v1 types directly (they are also our in-memory types), so
// everything here works on imagev1 values: tags are slices kept sorted by name, and
// dockerImageMetadata is a RawExtension that is always stored as canonical Raw bytes with Object
// nil, because protobuf marshals only Raw and silently drops Object.
package imageutil
