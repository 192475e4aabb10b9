// Package tagwrite holds what the imagestreamtags and imagetags endpoints share: their
// <stream>:<tag> names, the changes they make to a stream, which go through the stream writer
// in one transaction without conflicts between writers (D15), and how the writer's errors are
// named after the resource the client asked for.
package tagwrite

import (
	"context"
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
)

// SplitName splits "<stream>:<tag>". Both parts must be non-empty and the name may hold only
// one colon, as in OpenShift.
func SplitName(name string) (stream, tag string, ok bool) {
	stream, tag, found := strings.Cut(name, ":")
	if !found || stream == "" || tag == "" || strings.Contains(tag, ":") {
		return "", "", false
	}
	return stream, tag, true
}

// JoinName is "<stream>:<tag>".
func JoinName(stream, tag string) string { return stream + ":" + tag }

// Mutation changes a stream on a client's behalf. It reports whether it changed anything; an
// error is that change's own answer. It must derive everything from its arguments: the writer
// may apply it again to a fresher stream.
type Mutation func(stream *imagev1.ImageStream, tx *streamwriter.Tx) (changed bool, err error)

// Change is a tag write as a stream writer change. After a spec change it applies the
// main endpoint's spec rules (generations, resolution of new or changed spec tags), so that a
// tag written here ends up exactly as if the stream had been updated through imagestreams.
type Change struct {
	// Description names the change in answers, e.g. "the creation of imagestreamtag ruby:latest".
	Description string
	// Creates says the stream is created when it does not exist (create and update of a tag).
	Creates  bool
	Strategy imagestream.Strategy
	Mutate   Mutation
}

var _ streamwriter.StreamCreator = &Change{}

// Apply implements streamwriter.Change.
func (c *Change) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	// The spec rules compare against the spec and generation before this change only.
	before := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Generation: stream.Generation}, Spec: *stream.Spec.DeepCopy()}
	changed, err := c.Mutate(stream, tx)
	if err != nil || !changed {
		return changed, err
	}
	// A new stream gets the create rules when the writer finishes it.
	if !tx.Creating() {
		c.Strategy.PrepareSpecChange(context.Background(), stream, before)
	}
	return true, nil
}

// CreatesStream implements streamwriter.StreamCreator.
func (c *Change) CreatesStream() bool { return c.Creates }

// String implements streamwriter.Change.
func (c *Change) String() string { return c.Description }

// SetSpecTag sets the spec tag ref.Name to ref, replacing any tag of that name, and reports
// whether the spec changed.
func SetSpecTag(stream *imagev1.ImageStream, ref imagev1.TagReference) bool {
	if existing := imageutil.SpecTag(stream, ref.Name); existing != nil {
		// A tag sent without a generation keeps its own, as the spec rules would restore it.
		if ref.Generation == nil && existing.Generation != nil {
			ref.Generation = ptr.To(*existing.Generation)
		}
		if equality.Semantic.DeepEqual(*existing, ref) {
			return false
		}
		*existing = ref
		return true
	}
	stream.Spec.Tags = append(stream.Spec.Tags, ref)
	imageutil.SortTags(stream)
	return true
}

// RemoveSpecTag removes the spec tag named tag and reports whether there was one.
func RemoveSpecTag(stream *imagev1.ImageStream, tag string) bool {
	for i := range stream.Spec.Tags {
		if stream.Spec.Tags[i].Name == tag {
			stream.Spec.Tags = append(stream.Spec.Tags[:i:i], stream.Spec.Tags[i+1:]...)
			return true
		}
	}
	return false
}

// RemoveStatusTag removes tag's history and reports whether there was any.
func RemoveStatusTag(stream *imagev1.ImageStream, tag string) bool {
	for i := range stream.Status.Tags {
		if stream.Status.Tags[i].Tag == tag {
			stream.Status.Tags = append(stream.Status.Tags[:i:i], stream.Status.Tags[i+1:]...)
			return true
		}
	}
	return false
}

// Delete is the mutation of DELETE on a tag: both its spec and its history go (its images
// stay). A tag that is neither is 404; a UID precondition is the stream's UID.
func Delete(resource schema.GroupResource, stream, tag string, uid *string) Mutation {
	return func(s *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
		if uid != nil && string(s.UID) != *uid {
			return false, apierrors.NewConflict(resource, JoinName(stream, tag),
				fmt.Errorf("the UID precondition was not met: the image stream's UID is %s, not %s", s.UID, *uid))
		}
		removedStatus := RemoveStatusTag(s, tag)
		removedSpec := RemoveSpecTag(s, tag)
		if !removedStatus && !removedSpec {
			return false, apierrors.NewNotFound(resource, JoinName(stream, tag))
		}
		return true, nil
	}
}

// CheckResourceVersion enforces a client's resourceVersion on an update: the tag's
// resourceVersion is its stream's. Empty means an unconditional write. A stream that does not
// exist has no version to match: 404.
func CheckResourceVersion(resource schema.GroupResource, name, rv string, tx *streamwriter.Tx, stream *imagev1.ImageStream) error {
	switch {
	case rv == "":
		return nil
	case tx.Creating():
		return apierrors.NewNotFound(resource, name)
	case !tx.ResourceVersionIs(rv):
		return apierrors.NewConflict(resource, name, fmt.Errorf(
			"another caller has updated the resource version to %s: read the %s again and retry, or leave metadata.resourceVersion empty to write unconditionally",
			currentVersion(stream, tx), strings.TrimSuffix(resource.Resource, "s")))
	}
	return nil
}

// currentVersion names the stream's version for a conflict message: the stored one, unless an
// earlier change of the same transaction moved it.
func currentVersion(stream *imagev1.ImageStream, tx *streamwriter.Tx) string {
	if tx.ResourceVersionIs(stream.ResourceVersion) {
		return stream.ResourceVersion
	}
	return "a newer one"
}
