package imagestream

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// history returns events for the images n, n-1, …, newest first, as a stream stores them.
func history(images ...int) []imagev1.TagEvent {
	var out []imagev1.TagEvent
	for _, n := range images {
		d := fmt.Sprintf("sha256:%064x", n)
		out = append(out, tagEvent(past, "quay.io/x/a@"+d, d, 1))
	}
	return out
}

func streamWithHistory(annotations map[string]string, tags map[string][]int) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "is", Annotations: annotations}}
	for _, tag := range []string{"a", "b", "c"} {
		if images, ok := tags[tag]; ok {
			s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: history(images...)})
		}
	}
	return s
}

// D16: the limit comes from the stream's annotation when it is readable, else from the server.
func TestTagHistoryLimit(t *testing.T) {
	tests := []struct {
		annotation *string
		def, want  int
	}{
		{nil, 0, 0},
		{nil, 50, 50},
		{strPtr("10"), 50, 10},
		{strPtr("10"), 0, 10},
		{strPtr("0"), 50, 0}, // no limit for this stream, whatever the server says
		{strPtr("007"), 50, 7},
		{strPtr(""), 50, 50}, // unreadable values are ignored
		{strPtr("-1"), 50, 50},
		{strPtr("+5"), 50, 50},
		{strPtr(" 5"), 50, 50},
		{strPtr("0x10"), 50, 50},
		{strPtr("ten"), 50, 50},
		{strPtr("2147483648"), 50, 50},
	}
	for _, tc := range tests {
		name := "none"
		s := &imagev1.ImageStream{}
		if tc.annotation != nil {
			name = fmt.Sprintf("%q", *tc.annotation)
			s.Annotations = map[string]string{MaxTagHistoryAnnotation: *tc.annotation}
		}
		if got := TagHistoryLimit(s, tc.def); got != tc.want {
			t.Errorf("annotation %s, server limit %d: %d, want %d", name, tc.def, got, tc.want)
		}
	}
}

func strPtr(s string) *string { return &s }

// D16: a tag this write lengthened past the limit keeps its newest events; other tags, and
// tags the write did not lengthen, are left alone.
func TestTrimTagHistory(t *testing.T) {
	tests := []struct {
		name            string
		stored, updated map[string][]int
		limit           int
		want            map[string][]int
		dropped         int
	}{{
		name:    "no limit keeps everything",
		stored:  map[string][]int{"a": {3, 2, 1}},
		updated: map[string][]int{"a": {4, 3, 2, 1}},
		want:    map[string][]int{"a": {4, 3, 2, 1}},
	}, {
		name:    "an append past the limit drops the oldest event",
		stored:  map[string][]int{"a": {3, 2, 1}},
		updated: map[string][]int{"a": {4, 3, 2, 1}},
		limit:   3,
		want:    map[string][]int{"a": {4, 3, 2}},
		dropped: 1,
	}, {
		name:    "an append up to the limit drops nothing",
		stored:  map[string][]int{"a": {2, 1}},
		updated: map[string][]int{"a": {3, 2, 1}},
		limit:   3,
		want:    map[string][]int{"a": {3, 2, 1}},
	}, {
		name:    "a limit of 1 keeps only the head",
		stored:  map[string][]int{"a": {2, 1}},
		updated: map[string][]int{"a": {3, 2, 1}},
		limit:   1,
		want:    map[string][]int{"a": {3}},
		dropped: 2,
	}, {
		name:    "a history already over a limit set later is cut down on its next append",
		stored:  map[string][]int{"a": {5, 4, 3, 2, 1}},
		updated: map[string][]int{"a": {6, 5, 4, 3, 2, 1}},
		limit:   2,
		want:    map[string][]int{"a": {6, 5}},
		dropped: 4,
	}, {
		name:    "a head rewritten in place is not an append: nothing is dropped",
		stored:  map[string][]int{"a": {5, 4, 3}},
		updated: map[string][]int{"a": {6, 4, 3}},
		limit:   2,
		want:    map[string][]int{"a": {6, 4, 3}},
	}, {
		name:    "tags the write did not lengthen keep their history",
		stored:  map[string][]int{"a": {2, 1}, "b": {9, 8, 7}},
		updated: map[string][]int{"a": {3, 2, 1}, "b": {9, 8, 7}},
		limit:   2,
		want:    map[string][]int{"a": {3, 2}, "b": {9, 8, 7}},
		dropped: 1,
	}, {
		name: "a push and the tags tracking it: every lengthened tag is trimmed",
		// b and c follow a (ImageStreamTag spec tags), so one push appended to all three.
		stored:  map[string][]int{"a": {2, 1}, "b": {2, 1}, "c": {2}},
		updated: map[string][]int{"a": {3, 2, 1}, "b": {3, 2, 1}, "c": {3, 2}},
		limit:   2,
		want:    map[string][]int{"a": {3, 2}, "b": {3, 2}, "c": {3, 2}},
		dropped: 2,
	}, {
		name:    "a batch that appended several events to one tag keeps the newest",
		stored:  map[string][]int{"a": {2, 1}},
		updated: map[string][]int{"a": {5, 4, 3, 2, 1}},
		limit:   2,
		want:    map[string][]int{"a": {5, 4}},
		dropped: 3,
	}, {
		name:    "a new tag with more events than the limit (a created stream) is trimmed",
		updated: map[string][]int{"a": {3, 2, 1}},
		limit:   1,
		want:    map[string][]int{"a": {3}},
		dropped: 2,
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stored := streamWithHistory(nil, tc.stored)
			before := stored.DeepCopy()
			updated := streamWithHistory(nil, tc.updated)
			dropped := TrimTagHistory(updated, stored, tc.limit)
			if diff := cmp.Diff(streamWithHistory(nil, tc.want), updated); diff != "" {
				t.Errorf("history (-want +got):\n%s", diff)
			}
			if dropped != tc.dropped {
				t.Errorf("dropped %d events, want %d", dropped, tc.dropped)
			}
			if diff := cmp.Diff(before, stored); diff != "" {
				t.Errorf("the stored stream was modified:\n%s", diff)
			}
		})
	}
}

// D16: an update of a spec tag that resolves into a new event obeys the limit too, and the
// stream's annotation overrides the server's limit.
func TestPrepareForUpdateTrimsTagHistory(t *testing.T) {
	s := newTestStrategy(RegistryHostnames{})
	s.SetMaxTagHistory(2)
	stored := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "is", Generation: 3},
		Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{referenceTag("a", "quay.io/x/a:3", ptr(3))}},
		Status:     imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "a", Items: history(3, 2)}}},
	}
	for _, tc := range []struct {
		annotation string
		want       int
	}{{"", 2}, {"3", 3}, {"0", 3}} {
		updated := stored.DeepCopy()
		old := stored.DeepCopy()
		if tc.annotation != "" {
			updated.Annotations = map[string]string{MaxTagHistoryAnnotation: tc.annotation}
			old.Annotations = updated.Annotations
		}
		updated.Spec.Tags[0].From.Name = "quay.io/x/a:4"
		s.PrepareForUpdate(context.Background(), updated, old)
		items := updated.Status.Tags[0].Items
		if len(items) != tc.want || items[0].DockerImageReference != "quay.io/x/a:4" {
			t.Errorf("annotation %q: history %v, want %d events headed by the new reference", tc.annotation, items, tc.want)
		}
	}
}

// D16: an unreadable annotation is a 422 at its key when a client writes it; one stored
// already does not block other updates of the stream.
func TestValidateMaxTagHistoryAnnotation(t *testing.T) {
	s := newTestStrategy(RegistryHostnames{})
	ctx := context.Background()
	path := "metadata.annotations[" + MaxTagHistoryAnnotation + "]"
	with := func(value string) *imagev1.ImageStream {
		return &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "is", ResourceVersion: "1",
			Annotations: map[string]string{MaxTagHistoryAnnotation: value}}}
	}
	tests := []struct {
		name string
		errs field.ErrorList
		want []fieldErr
	}{
		{"create with 50", s.Validate(ctx, with("50")), nil},
		{"create with 0", s.Validate(ctx, with("0")), nil},
		{"create with -1", s.Validate(ctx, with("-1")), []fieldErr{{field.ErrorTypeInvalid, path}}},
		{"create with 'many'", s.Validate(ctx, with("many")), []fieldErr{{field.ErrorTypeInvalid, path}}},
		{"update to an unreadable value", s.ValidateUpdate(ctx, with("5x"), with("5")), []fieldErr{{field.ErrorTypeInvalid, path}}},
		{"update adding an unreadable value", s.ValidateUpdate(ctx, with("5x"), streamWithHistory(nil, nil)), []fieldErr{{field.ErrorTypeInvalid, path}}},
		{"update keeping a stored unreadable value", s.ValidateUpdate(ctx, with("5x"), with("5x")), nil},
		{"update fixing it", s.ValidateUpdate(ctx, with("5"), with("5x")), nil},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, fieldErrs(tc.errs)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
