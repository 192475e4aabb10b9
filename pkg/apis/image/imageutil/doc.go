// Package imageutil holds the image.openshift.io behaviour that several registries share and
// that openshift-apiserver keeps in its internal types and helpers: the dockerImageMetadata
// codec (spec §3.2), metadata derivation from manifests and configs (spec §3.4–§3.6), the tag
// history algorithms (spec §5) and the `oc get is` cell helpers (spec §11).
//
// We serve the openshift/api v1 types directly (ARCHITECTURE.md §2, option B), so everything
// here works on imagev1 values: tags are slices kept sorted by name, and dockerImageMetadata is
// a RawExtension that is always stored as canonical Raw bytes with Object nil, because
// protobuf marshals only Raw (ARCHITECTURE.md rule 8).
package imageutil
