package imageutil

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	t0 = metav1.NewTime(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 = metav1.NewTime(time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC))
)

// event builds a tag event; refs and images are short names for readability.
func event(created metav1.Time, ref, image string, gen int64) imagev1.TagEvent {
	return imagev1.TagEvent{Created: created, DockerImageReference: ref, Image: image, Generation: gen}
}

var importFailed = []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Generation: 1}}

func TestAddTagEventToImageStream(t *testing.T) {
	tests := []struct {
		name        string
		status      []imagev1.NamedTagEventList
		tag         string
		next        imagev1.TagEvent
		wantChanged bool
		want        []imagev1.NamedTagEventList
	}{
		{
			name:        "new tag in an empty stream",
			tag:         "latest",
			next:        event(t1, "r/a", "A", 1),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t1, "r/a", "A", 1)}}},
		},
		{
			name: "new tag is inserted in tag order",
			status: []imagev1.NamedTagEventList{
				{Tag: "a", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}},
				{Tag: "c", Items: []imagev1.TagEvent{event(t0, "r/c", "C", 1)}},
			},
			tag:         "b",
			next:        event(t1, "r/b", "B", 2),
			wantChanged: true,
			want: []imagev1.NamedTagEventList{
				{Tag: "a", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}},
				{Tag: "b", Items: []imagev1.TagEvent{event(t1, "r/b", "B", 2)}},
				{Tag: "c", Items: []imagev1.TagEvent{event(t0, "r/c", "C", 1)}},
			},
		},
		{
			name:        "existing empty history becomes [next] and loses its conditions",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Conditions: importFailed}},
			tag:         "latest",
			next:        event(t1, "r/a", "A", 2),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t1, "r/a", "A", 2)}}},
		},
		{
			name:   "same reference, image and generation is a no-op",
			status: []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed}},
			tag:    "latest",
			next:   event(t1, "r/a", "A", 1),
			want:   []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed}},
		},
		{
			name:        "generation only: head generation updated, created kept, conditions cleared",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed}},
			tag:         "latest",
			next:        event(t1, "r/a", "A", 3),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 3)}}},
		},
		{
			// Kept from OpenShift: the same reference with a different image rewrites the head in place.
			name:        "image change under the same reference rewrites the head",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1), event(t0, "r/z", "Z", 1)}, Conditions: importFailed}},
			tag:         "latest",
			next:        event(t1, "r/a", "B", 2),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "B", 2), event(t0, "r/z", "Z", 1)}}},
		},
		{
			name:        "reference change of the same image rewrites the head",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed}},
			tag:         "latest",
			next:        event(t1, "r/b", "A", 1),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/b", "A", 1)}}},
		},
		{
			name:        "all different: prepended, conditions cleared",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed}},
			tag:         "latest",
			next:        event(t1, "r/b", "B", 2),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t1, "r/b", "B", 2), event(t0, "r/a", "A", 1)}}},
		},
		{
			// Kept from OpenShift: history is compared with the head only.
			name:        "only the head is compared: an older equal entry does not stop a prepend",
			status:      []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t0, "r/b", "B", 1), event(t0, "r/a", "A", 1)}}},
			tag:         "latest",
			next:        event(t1, "r/a", "A", 1),
			wantChanged: true,
			want:        []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{event(t1, "r/a", "A", 1), event(t0, "r/b", "B", 1), event(t0, "r/a", "A", 1)}}},
		},
		{
			name: "other tags are untouched",
			status: []imagev1.NamedTagEventList{
				{Tag: "a", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed},
				{Tag: "b", Items: []imagev1.TagEvent{event(t0, "r/b", "B", 1)}},
			},
			tag:         "b",
			next:        event(t1, "r/c", "C", 1),
			wantChanged: true,
			want: []imagev1.NamedTagEventList{
				{Tag: "a", Items: []imagev1.TagEvent{event(t0, "r/a", "A", 1)}, Conditions: importFailed},
				{Tag: "b", Items: []imagev1.TagEvent{event(t1, "r/c", "C", 1), event(t0, "r/b", "B", 1)}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{Tags: tc.status}}
			stream = stream.DeepCopy()
			if got := AddTagEventToImageStream(stream, tc.tag, tc.next); got != tc.wantChanged {
				t.Errorf("changed = %v, want %v", got, tc.wantChanged)
			}
			if diff := cmp.Diff(tc.want, stream.Status.Tags); diff != "" {
				t.Errorf("status tags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAddTagEventABA: pushing A, B, A gives three entries, newest first, as in OpenShift.
func TestAddTagEventABA(t *testing.T) {
	stream := &imagev1.ImageStream{}
	a1 := event(t0, "r@A", "A", 1)
	b := event(t1, "r@B", "B", 1)
	a2 := event(metav1.NewTime(t1.Add(time.Hour)), "r@A", "A", 1)
	for _, e := range []imagev1.TagEvent{a1, b, a2} {
		if !AddTagEventToImageStream(stream, "latest", e) {
			t.Fatalf("adding %v reported no change", e)
		}
	}
	want := []imagev1.TagEvent{a2, b, a1}
	if diff := cmp.Diff(want, StatusTag(stream, "latest").Items); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if AddTagEventToImageStream(stream, "latest", event(t1, "r@A", "A", 1)) {
		t.Errorf("re-adding the head reported a change")
	}
}

func TestUpdateTrackingTags(t *testing.T) {
	from := func(kind, ns, name string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: kind, Namespace: ns, Name: name}
	}
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "bare", From: from("ImageStreamTag", "", "v1")},
			{Name: "qualified", From: from("ImageStreamTag", "", "app:v1")},
			{Name: "same-namespace", From: from("ImageStreamTag", "ns", "app:v1")},
			{Name: "other-namespace", From: from("ImageStreamTag", "elsewhere", "app:v1")},
			{Name: "other-stream", From: from("ImageStreamTag", "", "web:v1")},
			{Name: "other-tag", From: from("ImageStreamTag", "", "v2")},
			{Name: "docker", From: from("DockerImage", "", "v1")},
			{Name: "image", From: from("ImageStreamImage", "", "app@v1")},
			{Name: "no-from"},
			// "<stream>:" reads as "<stream>:latest", as openshift's SplitImageStreamTag does.
			{Name: "empty-tag", From: from("ImageStreamTag", "", "app:")},
		}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "bare", Items: []imagev1.TagEvent{event(t0, "r@old", "old", 1)}},
		}},
	}
	next := event(t1, "r@new", "new", 4)

	got := UpdateTrackingTags(stream, "v1", next)
	if got != 3 {
		t.Errorf("changed = %d, want 3", got)
	}
	want := []imagev1.NamedTagEventList{
		{Tag: "bare", Items: []imagev1.TagEvent{next, event(t0, "r@old", "old", 1)}},
		{Tag: "qualified", Items: []imagev1.TagEvent{next}},
		{Tag: "same-namespace", Items: []imagev1.TagEvent{next}},
	}
	if diff := cmp.Diff(want, stream.Status.Tags); diff != "" {
		t.Errorf("status tags (-want +got):\n%s", diff)
	}

	if got := UpdateTrackingTags(stream, "v1", next); got != 0 {
		t.Errorf("second update changed %d tags, want 0", got)
	}
	if got := UpdateTrackingTags(stream, "latest", next); got != 1 || StatusTag(stream, "empty-tag") == nil {
		t.Errorf("latest: changed %d, empty-tag %v", got, StatusTag(stream, "empty-tag"))
	}
}

func TestResolveReferenceForTagEvent(t *testing.T) {
	const digest = "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	ev := &imagev1.TagEvent{DockerImageReference: "quay.io/org/app@" + digest, Image: digest}
	local := imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}
	source := imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}
	tests := []struct {
		name   string
		policy *imagev1.TagReferencePolicy // nil: no spec tag
		repo   string
		event  *imagev1.TagEvent
		want   string
	}{
		{name: "no spec tag", repo: "registry:5000/ns/app", event: ev, want: ev.DockerImageReference},
		{name: "source policy", policy: &source, repo: "registry:5000/ns/app", event: ev, want: ev.DockerImageReference},
		{name: "local policy", policy: &local, repo: "registry:5000/ns/app", event: ev, want: "registry:5000/ns/app@" + digest},
		{name: "local policy strips a stored tag", policy: &local, repo: "registry:5000/ns/app:old", event: ev, want: "registry:5000/ns/app@" + digest},
		{name: "local policy without registry", policy: &local, event: ev, want: ev.DockerImageReference},
		{name: "local policy without image", policy: &local, repo: "registry:5000/ns/app", event: &imagev1.TagEvent{DockerImageReference: "x/y:z"}, want: "x/y:z"},
		{name: "local policy with unparseable registry", policy: &local, repo: "Not A Repo!", event: ev, want: ev.DockerImageReference},
		{name: "nil event", policy: &local, repo: "registry:5000/ns/app", want: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{DockerImageRepository: tc.repo}}
			if tc.policy != nil {
				stream.Spec.Tags = []imagev1.TagReference{{Name: "other"}, {Name: "latest", ReferencePolicy: *tc.policy}}
			}
			if got := ResolveReferenceForTagEvent(stream, "latest", tc.event); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	stream := &imagev1.ImageStream{
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "a"}, {Name: "latest"}}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "empty"},
			{Tag: "latest", Items: []imagev1.TagEvent{event(t1, "r@2", "2", 1), event(t0, "r@1", "1", 1)}},
		}},
	}
	if got := SpecTag(stream, "latest"); got != &stream.Spec.Tags[1] {
		t.Errorf("SpecTag(latest) = %p, want %p", got, &stream.Spec.Tags[1])
	}
	if got := SpecTag(stream, "missing"); got != nil {
		t.Errorf("SpecTag(missing) = %v", got)
	}
	if got := StatusTag(stream, "latest"); got != &stream.Status.Tags[1] {
		t.Errorf("StatusTag(latest) = %p", got)
	}
	if got := StatusTag(stream, "missing"); got != nil {
		t.Errorf("StatusTag(missing) = %v", got)
	}
	tests := []struct {
		tag  string
		want *imagev1.TagEvent
	}{
		{tag: "latest", want: &stream.Status.Tags[1].Items[0]},
		{tag: "", want: &stream.Status.Tags[1].Items[0]},
		{tag: "empty"},
		{tag: "missing"},
	}
	for _, tc := range tests {
		if got := LatestTagEvent(stream, tc.tag); got != tc.want {
			t.Errorf("LatestTagEvent(%q) = %v, want %v", tc.tag, got, tc.want)
		}
	}
}

func TestSortTags(t *testing.T) {
	stream := &imagev1.ImageStream{
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "latest"}, {Name: "1.0"}, {Name: "B"}, {Name: "a"}}},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "v2"}, {Tag: "v10"}, {Tag: "v1"},
		}},
	}
	SortTags(stream)
	var spec, status []string
	for _, t := range stream.Spec.Tags {
		spec = append(spec, t.Name)
	}
	for _, t := range stream.Status.Tags {
		status = append(status, t.Tag)
	}
	// Byte order, as Go's sort.Strings over the real server's map keys.
	if diff := cmp.Diff([]string{"1.0", "B", "a", "latest"}, spec); diff != "" {
		t.Errorf("spec (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"v1", "v10", "v2"}, status); diff != "" {
		t.Errorf("status (-want +got):\n%s", diff)
	}
}
