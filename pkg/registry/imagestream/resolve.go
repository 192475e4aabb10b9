package imagestream

import (
	"context"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/reference"
)

// StreamLookup reads another stream of the same namespace, for spec tags that follow it.
type StreamLookup func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error)

// lookupHolder lets value-typed strategies share a lookup that is set once the store exists.
type lookupHolder struct {
	get StreamLookup
}

// resolveSpecTags adds the status events that spec tags imply without an importer, as OpenShift
// does on create and update:
//   - a DockerImage tag with reference=true points at its pull spec;
//   - an ImageStreamTag tag ("<tag>" or "<stream>:<tag>") copies that tag's newest event;
//   - an ImageStreamImage tag ("<id>" or "<stream>@<id>") copies the event of the image whose
//     digest the id is or starts, if exactly one matches.
//
// Other streams are read through lookup, in the stream's own namespace only: following a
// stream of another namespace needs an authorization check on the user, so such tags are left
// unresolved, as are tags whose source does not exist (yet). Only tags in changed are
// resolved; nil means all.
func resolveSpecTags(ctx context.Context, stream *imagev1.ImageStream, changed map[string]bool, lookup StreamLookup, hostnames RegistryHostnames) {
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
				event = &imagev1.TagEvent{Created: now, DockerImageReference: tag.From.Name}
			}
		case "ImageStreamTag", "ImageStreamImage":
			source, sourceName, ok := sourceStream(ctx, stream, tag, lookup)
			if !ok {
				continue
			}
			if tag.From.Kind == "ImageStreamTag" {
				if sourceName == stream.Name && sourceTag(tag.From.Name) == tag.Name {
					continue // a tag following itself
				}
				if latest := imageutil.LatestTagEvent(source, sourceTag(tag.From.Name)); latest != nil {
					copied := *latest
					event = &copied
				}
			} else {
				event = eventForImage(source, sourceImageID(tag.From.Name))
			}
			if event != nil && !tag.Reference && sourceName != stream.Name {
				event.DockerImageReference = rebaseReference(event.DockerImageReference, hostnames, stream.Namespace, sourceName, stream.Name)
			}
		}
		if event == nil {
			continue
		}
		event.Generation = generation
		if imageutil.AddTagEventToImageStream(stream, tag.Name, *event) {
			imageutil.UpdateTrackingTags(stream, tag.Name, *event)
		}
	}
}

// sourceStream returns the stream a tag follows: this one, or another of its namespace.
func sourceStream(ctx context.Context, stream *imagev1.ImageStream, tag imagev1.TagReference, lookup StreamLookup) (*imagev1.ImageStream, string, bool) {
	if tag.From.Namespace != "" && tag.From.Namespace != stream.Namespace {
		return nil, "", false
	}
	sep := ":"
	if tag.From.Kind == "ImageStreamImage" {
		sep = "@"
	}
	name, _, found := strings.Cut(tag.From.Name, sep)
	if !found || name == stream.Name {
		return stream, stream.Name, true
	}
	if lookup == nil {
		return nil, "", false
	}
	other, err := lookup(ctx, stream.Namespace, name)
	if err != nil {
		return nil, "", false
	}
	return other, name, true
}

// sourceTag is the tag of "<tag>" or "<stream>:<tag>".
func sourceTag(from string) string {
	if _, tag, found := strings.Cut(from, ":"); found {
		return tag
	}
	return from
}

// sourceImageID is the id of "<id>" or "<stream>@<id>".
func sourceImageID(from string) string {
	if _, id, found := strings.Cut(from, "@"); found {
		return id
	}
	return from
}

// eventForImage finds, over the whole history, the event of the one image whose name is id
// or starts with it (with or without the algorithm).
func eventForImage(stream *imagev1.ImageStream, id string) *imagev1.TagEvent {
	if id == "" {
		return nil
	}
	var found *imagev1.TagEvent
	for _, list := range stream.Status.Tags {
		for i := range list.Items {
			item := list.Items[i]
			_, hex, _ := strings.Cut(item.Image, ":")
			if item.Image == "" || (!strings.HasPrefix(item.Image, id) && !strings.HasPrefix(hex, id)) {
				continue
			}
			if found != nil && found.Image != item.Image {
				return nil // ambiguous
			}
			if found == nil {
				copied := item
				found = &copied
			}
		}
	}
	return found
}

// rebaseReference points an event copied from another stream of the namespace at this
// stream's repository when it referred to the source's repository in the internal registry
// (as OpenShift does).
func rebaseReference(ref string, hostnames RegistryHostnames, namespace, from, to string) string {
	source := hostnames.InternalRepository(namespace, from)
	if source == "" || !strings.HasPrefix(ref, source+"@") {
		return ref
	}
	return hostnames.InternalRepository(namespace, to) + strings.TrimPrefix(ref, source)
}
