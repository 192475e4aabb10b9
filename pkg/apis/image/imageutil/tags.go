package imageutil

import (
	"cmp"
	"slices"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
)

// StatusTag returns a pointer into stream.Status.Tags for tag, or nil. The pointer is valid
// only until the slice is next appended to or sorted (AddTagEventToImageStream may do both).
// Validation rejects duplicate tags, so the first match is the only one.
func StatusTag(stream *imagev1.ImageStream, tag string) *imagev1.NamedTagEventList {
	for i := range stream.Status.Tags {
		if stream.Status.Tags[i].Tag == tag {
			return &stream.Status.Tags[i]
		}
	}
	return nil
}

// SpecTag returns a pointer into stream.Spec.Tags for the tag named tag, or nil.
func SpecTag(stream *imagev1.ImageStream, tag string) *imagev1.TagReference {
	for i := range stream.Spec.Tags {
		if stream.Spec.Tags[i].Name == tag {
			return &stream.Spec.Tags[i]
		}
	}
	return nil
}

// LatestTagEvent returns the head (newest) event of tag's history, or nil when the tag has no
// history. An empty tag means "latest", as in openshift's LatestTaggedImage.
func LatestTagEvent(stream *imagev1.ImageStream, tag string) *imagev1.TagEvent {
	if tag == "" {
		tag = imagev1.DefaultImageTag
	}
	list := StatusTag(stream, tag)
	if list == nil || len(list.Items) == 0 {
		return nil
	}
	return &list.Items[0]
}

// AddTagEventToImageStream records next as the newest event of tag and reports whether the
// stream changed, exactly as OpenShift does:
//
//   - no history (or an empty one) → the history becomes exactly [next], conditions dropped;
//   - otherwise next is compared with the head only: same reference, image and generation →
//     no change; same reference and image → head generation updated; same reference → head
//     image and generation updated; same image → head reference and generation updated (in
//     these collapse branches head `created` is kept); all different → next is prepended;
//   - every change clears the tag's conditions.
//
// Older entries are never consulted, so A, B, A yields three entries (kept on purpose, as in
// OpenShift). A new tag's history is appended and status tags are re-sorted by tag, the order
// the real server's map produces on output.
func AddTagEventToImageStream(stream *imagev1.ImageStream, tag string, next imagev1.TagEvent) bool {
	list := StatusTag(stream, tag)
	if list == nil {
		stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{next}})
		sortStatusTags(stream)
		return true
	}
	if len(list.Items) == 0 {
		list.Items = []imagev1.TagEvent{next}
		list.Conditions = nil
		return true
	}

	head := &list.Items[0]
	sameRef := head.DockerImageReference == next.DockerImageReference
	sameImage := head.Image == next.Image
	sameGen := head.Generation == next.Generation
	switch {
	case sameRef && sameImage && sameGen:
		return false
	case sameRef && sameImage:
		// only the generation moves
	case sameRef:
		head.Image = next.Image
	case sameImage:
		head.DockerImageReference = next.DockerImageReference
	default:
		list.Items = append([]imagev1.TagEvent{next}, list.Items...)
		list.Conditions = nil
		return true
	}
	head.Generation = next.Generation
	list.Conditions = nil
	return true
}

// UpdateTrackingTags applies next, just recorded for updatedTag, to every spec tag of the same
// stream that tracks it: from.kind ImageStreamTag, from.namespace empty or the
// stream's, and from.name either "<updatedTag>" or "<stream>:<updatedTag>" ("<stream>:" means
// "latest", as openshift's SplitImageStreamTag reads it). Other streams are never touched.
// It returns how many tracking tags changed.
func UpdateTrackingTags(stream *imagev1.ImageStream, updatedTag string, next imagev1.TagEvent) int {
	changed := 0
	// Collect names first: AddTagEventToImageStream only touches status, but iterating by
	// name keeps this independent of that.
	var tracking []string
	for _, ref := range stream.Spec.Tags {
		if ref.From == nil || ref.From.Kind != "ImageStreamTag" {
			continue
		}
		if ref.From.Namespace != "" && ref.From.Namespace != stream.Namespace {
			continue
		}
		streamName, tag := stream.Name, ref.From.Name
		if s, t, ok := strings.Cut(ref.From.Name, ":"); ok {
			streamName, tag = s, t
			if tag == "" {
				tag = imagev1.DefaultImageTag
			}
		}
		if streamName != stream.Name || tag != updatedTag {
			continue
		}
		tracking = append(tracking, ref.Name)
	}
	for _, name := range tracking {
		if AddTagEventToImageStream(stream, name, next) {
			changed++
		}
	}
	return changed
}

// ResolveReferenceForTagEvent returns the pull spec clients should use for event of tag
// as OpenShift does: with referencePolicy Local, a parseable status.dockerImageRepository and an
// image name, it is "<status repository>@<image>" (pull through the integrated registry);
// otherwise the event's own dockerImageReference. A nil event yields "".
func ResolveReferenceForTagEvent(stream *imagev1.ImageStream, tag string, event *imagev1.TagEvent) string {
	if event == nil {
		return ""
	}
	ref := SpecTag(stream, tag)
	if ref == nil || ref.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		return event.DockerImageReference
	}
	if stream.Status.DockerImageRepository == "" || event.Image == "" {
		return event.DockerImageReference
	}
	spec, ok := pullSpecByDigest(stream.Status.DockerImageRepository, event.Image)
	if !ok {
		return event.DockerImageReference
	}
	return spec
}

// SortTags sorts spec tags by name and status tags by tag, the order the real server's tag
// maps produce on output; used by Canonicalize. The sort is stable so duplicates
// (rejected by validation anyway) keep their relative order.
func SortTags(stream *imagev1.ImageStream) {
	slices.SortStableFunc(stream.Spec.Tags, func(a, b imagev1.TagReference) int {
		return cmp.Compare(a.Name, b.Name)
	})
	sortStatusTags(stream)
}

// sortStatusTags sorts status tags by tag name.
func sortStatusTags(stream *imagev1.ImageStream) {
	slices.SortStableFunc(stream.Status.Tags, func(a, b imagev1.NamedTagEventList) int {
		return cmp.Compare(a.Tag, b.Tag)
	})
}
