package imagestream_test

import (
	"context"
	"net/http"
	"sort"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/fuzzing"
)

// FuzzImageStreamCreate feeds request bodies to what POST imagestreams runs before storage:
// decoding by content type with defaults, PrepareForCreate (status dropped, generation 1, spec
// tags resolved) and validation. Properties:
//   - nothing panics, and a refused body gets a 400 or 422 Status whose causes name fields;
//   - validation is deterministic, and every error's path starts at a field of ImageStream;
//   - an accepted stream has generation 1 on itself and every spec tag, spec and status tags
//     sorted by unique names, and survives the storage codec and the JSON, YAML and protobuf
//     a client reads and sends back unchanged;
//   - an unchanged update of it (PUT what GET returned), through the main and the status
//     endpoint, is accepted and changes nothing.
func FuzzImageStreamCreate(f *testing.F) {
	fuzzing.AddSeeds(f, fuzzing.StreamSeeds(f)...)
	f.Fuzz(func(t *testing.T, format uint8, body []byte) {
		obj, err := fuzzing.Decode(fuzzing.FormatOf(format), body, &imagev1.ImageStream{})
		if err != nil {
			return // the handler answers 400
		}
		stream := obj.(*imagev1.ImageStream)
		createErr := fuzzing.CreateImageStream(stream)
		errs := fuzzing.CheckDeterministic(t, stream, func(s *imagev1.ImageStream) field.ErrorList {
			return fuzzing.StreamStrategy.Validate(context.Background(), s)
		})
		fuzzing.CheckFieldErrors(t, errs, stream)
		if createErr != nil {
			fuzzing.CheckStatusError(t, createErr, http.StatusBadRequest, http.StatusUnprocessableEntity)
			return
		}
		checkCreated(t, stream)
		stored := fuzzing.CheckRoundTrips(t, stream)

		for _, status := range []bool{false, true} {
			again := stored.DeepCopy()
			if err := fuzzing.UpdateImageStream(again, stored, status); err != nil {
				t.Fatalf("unchanged update (status endpoint: %v) refused: %v", status, err)
			}
			if !equality.Semantic.DeepEqual(again, stored) {
				t.Fatalf("unchanged update (status endpoint: %v) changed the stream:\n%#v\n%#v", status, stored, again)
			}
		}
	})
}

// checkCreated checks what PrepareForCreate and Canonicalize promise of a new stream.
func checkCreated(t *testing.T, stream *imagev1.ImageStream) {
	t.Helper()
	if stream.Generation != 1 {
		t.Fatalf("new stream has generation %d", stream.Generation)
	}
	for _, tag := range stream.Spec.Tags {
		if tag.Generation == nil || *tag.Generation != 1 {
			t.Fatalf("new spec tag %q has generation %v", tag.Name, tag.Generation)
		}
	}
	checkSortedTags(t, stream)
}

// checkSortedTags checks that spec and status tags are sorted by unique names, as Canonicalize
// and validation leave them.
func checkSortedTags(t *testing.T, stream *imagev1.ImageStream) {
	t.Helper()
	var spec, status []string
	for _, tag := range stream.Spec.Tags {
		spec = append(spec, tag.Name)
	}
	for _, tag := range stream.Status.Tags {
		status = append(status, tag.Tag)
	}
	for _, names := range [][]string{spec, status} {
		if !sort.StringsAreSorted(names) {
			t.Fatalf("tags not sorted: %q", names)
		}
		for i := 1; i < len(names); i++ {
			if names[i] == names[i-1] {
				t.Fatalf("tag %q twice", names[i])
			}
		}
	}
}

// FuzzImageStreamUpdate feeds request bodies to what PUT imagestreams/<name> and PUT
// imagestreams/<name>/status run before storage, over one of the seed streams as stored.
// Properties:
//   - nothing panics, and a refused body gets a 400 or 422 Status whose causes name fields;
//   - the stored stream is never modified: the mapping passes the stream it caches as the old
//     object of a status update;
//   - validation of the update is deterministic and names fields of ImageStream;
//   - an accepted update survives every encoding unchanged and keeps tags sorted and unique;
//   - the main endpoint keeps the stored status apart from what resolving its spec tags adds,
//     and moves the generation by at most one; every spec tag has a generation, never newer
//     than the stream's;
//   - the status endpoint keeps the stored spec, labels, annotations and generation.
func FuzzImageStreamUpdate(f *testing.F) {
	var stored []*imagev1.ImageStream
	for i, seed := range fuzzing.StreamSeeds(f) {
		stream := seed.(*imagev1.ImageStream).DeepCopy()
		if err := fuzzing.CreateImageStream(stream); err != nil {
			f.Fatalf("seed stream %s refused: %v", stream.Name, err)
		}
		stored = append(stored, fuzzing.StorageRoundTrip(f, fuzzing.Deterministic(stream, i)))
	}
	for i, stream := range stored {
		for format := fuzzing.Format(0); format <= fuzzing.Protobuf; format++ {
			body, err := fuzzing.Encode(format, stream)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(uint8(i), false, uint8(format), body)
			f.Add(uint8(i), true, uint8(format), body)
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, status bool, format uint8, body []byte) {
		old := stored[int(which)%len(stored)].DeepCopy()
		obj, err := fuzzing.Decode(fuzzing.FormatOf(format), body, &imagev1.ImageStream{})
		if err != nil {
			return
		}
		stream := obj.(*imagev1.ImageStream)
		// The handler refuses another name or namespace with 400 and the store a stale
		// resourceVersion with 409; neither reaches the strategy.
		stream.Name, stream.Namespace, stream.ResourceVersion = old.Name, old.Namespace, old.ResourceVersion
		before := fuzzing.Take(old)

		updateErr := fuzzing.UpdateImageStream(stream, old, status)
		before.Unchanged(t, "the stored stream", old)
		errs := fuzzing.CheckDeterministic(t, stream, func(s *imagev1.ImageStream) field.ErrorList {
			if status {
				return fuzzing.StreamStatusStrategy.ValidateUpdate(context.Background(), s, old)
			}
			return fuzzing.StreamStrategy.ValidateUpdate(context.Background(), s, old)
		})
		fuzzing.CheckFieldErrors(t, errs, stream)
		if updateErr != nil {
			fuzzing.CheckStatusError(t, updateErr, http.StatusBadRequest, http.StatusUnprocessableEntity)
		} else {
			checkUpdated(t, stream, old, status)
			fuzzing.CheckRoundTrips(t, stream)
		}
	})
}

// checkUpdated checks what PrepareForUpdate of either endpoint promises.
func checkUpdated(t *testing.T, stream, old *imagev1.ImageStream, status bool) {
	t.Helper()
	checkSortedTags(t, stream)
	if status {
		if !equality.Semantic.DeepEqual(stream.Spec, old.Spec) || !equality.Semantic.DeepEqual(stream.Labels, old.Labels) ||
			!equality.Semantic.DeepEqual(stream.Annotations, old.Annotations) || stream.Generation != old.Generation {
			t.Fatalf("the status endpoint changed more than status:\nold: %#v\nnew: %#v", old, stream)
		}
		return
	}
	if stream.Generation != old.Generation && stream.Generation != old.Generation+1 {
		t.Fatalf("generation moved from %d to %d", old.Generation, stream.Generation)
	}
	for _, tag := range stream.Spec.Tags {
		if tag.Generation == nil || *tag.Generation > stream.Generation {
			t.Fatalf("spec tag %q has generation %v, stream %d", tag.Name, tag.Generation, stream.Generation)
		}
	}
	// Every stored history entry is still there: the main endpoint may only add events.
	for _, list := range old.Status.Tags {
		for _, item := range list.Items {
			if !hasEvent(stream, list.Tag, item) {
				t.Fatalf("the main endpoint dropped event %+v of tag %q", item, list.Tag)
			}
		}
	}
}

func hasEvent(stream *imagev1.ImageStream, tag string, event imagev1.TagEvent) bool {
	for _, list := range stream.Status.Tags {
		if list.Tag != tag {
			continue
		}
		for _, item := range list.Items {
			if equality.Semantic.DeepEqual(item, event) {
				return true
			}
		}
	}
	return false
}
