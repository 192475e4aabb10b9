package imagestream

import (
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// resolveSpecTags adds the status events that spec tags imply without an importer (spec §4.5):
// a DockerImage tag with reference=true points at its pull spec, and a tag that follows
// another tag of the same stream copies that tag's newest event. Only tags in changed are
// resolved; nil means all. Tags that need another stream or an import are left to the
// ImageStreamMapping path and future importers.
func resolveSpecTags(stream *imagev1.ImageStream, changed map[string]bool) {
	now := metav1.Now()
	for i := range stream.Spec.Tags {
		tag := stream.Spec.Tags[i]
		if tag.From == nil || (changed != nil && !changed[tag.Name]) {
			continue
		}
		var generation int64
		if tag.Generation != nil {
			generation = *tag.Generation
		}
		var event *imagev1.TagEvent
		switch tag.From.Kind {
		case "DockerImage":
			// An unparseable pull spec is rejected by validation at spec.tags[i].from.name;
			// copying it into status would only report the same mistake twice.
			if _, err := reference.Parse(tag.From.Name); tag.Reference && err == nil {
				event = &imagev1.TagEvent{Created: now, DockerImageReference: tag.From.Name, Generation: generation}
			}
		case "ImageStreamTag":
			if source, ok := sameStreamTag(stream, tag.From); ok && source != tag.Name {
				if latest := imageutil.LatestTagEvent(stream, source); latest != nil {
					copied := *latest
					copied.Generation = generation
					event = &copied
				}
			}
		}
		if event != nil && imageutil.AddTagEventToImageStream(stream, tag.Name, *event) {
			imageutil.UpdateTrackingTags(stream, tag.Name, *event)
		}
	}
}

// sameStreamTag returns the tag name that an ImageStreamTag reference names in this stream:
// "<tag>" or "<this stream>:<tag>" in the stream's own namespace.
func sameStreamTag(stream *imagev1.ImageStream, from *corev1.ObjectReference) (string, bool) {
	if from.Namespace != "" && from.Namespace != stream.Namespace {
		return "", false
	}
	name, tag, found := strings.Cut(from.Name, ":")
	if !found {
		return name, name != ""
	}
	if name != stream.Name || tag == "" {
		return "", false
	}
	return tag, true
}
