package imagestream

import (
	"context"
	"fmt"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Spec tags that follow a tag or an image of this or another stream of the
// namespace get that event; other namespaces and missing sources are left unresolved.
func TestResolveSpecTagsAcrossStreams(t *testing.T) {
	const d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	const d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	hosts := RegistryHostnames{Internal: "reg:5000"}
	source := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "base"},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "latest", Items: []imagev1.TagEvent{{Image: d2, DockerImageReference: "reg:5000/ns/base@" + d2}, {Image: d1, DockerImageReference: "quay.io/x/base@" + d1}}},
		}},
	}
	lookup := func(_ context.Context, ns, name string) (*imagev1.ImageStream, error) {
		if ns == "ns" && name == "base" {
			return source, nil
		}
		return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), name)
	}
	tests := []struct {
		name      string
		from      corev1.ObjectReference
		reference bool
		wantRef   string // "" = unresolved
	}{
		{"other stream's tag, internal reference rebased to this stream", corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:latest"}, false, "reg:5000/ns/app@" + d2},
		{"other stream's tag as a reference tag keeps the source", corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:latest"}, true, "reg:5000/ns/base@" + d2},
		{"image of another stream by digest prefix", corev1.ObjectReference{Kind: "ImageStreamImage", Name: "base@1111"}, false, "quay.io/x/base@" + d1},
		{"image of another stream by full digest", corev1.ObjectReference{Kind: "ImageStreamImage", Name: "base@" + d2}, false, "reg:5000/ns/app@" + d2},
		{"missing stream", corev1.ObjectReference{Kind: "ImageStreamTag", Name: "nope:latest"}, false, ""},
		{"missing tag", corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:v9"}, false, ""},
		{"unknown image", corev1.ObjectReference{Kind: "ImageStreamImage", Name: "base@ffff"}, false, ""},
		{"other namespace is not followed", corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "other", Name: "base:latest"}, false, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gen := int64(3)
			from := tc.from
			stream := &imagev1.ImageStream{
				ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 3},
				Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "t", From: &from, Reference: tc.reference, Generation: &gen}}},
			}
			resolveSpecTags(context.Background(), stream, nil, lookup, hosts)
			got := ""
			if len(stream.Status.Tags) == 1 {
				ev := stream.Status.Tags[0].Items[0]
				got = ev.DockerImageReference
				if ev.Generation != 3 {
					t.Errorf("event generation %d, want the tag's 3", ev.Generation)
				}
			}
			if got != tc.wantRef {
				t.Errorf("resolved to %q, want %q (status %s)", got, tc.wantRef, fmt.Sprint(stream.Status.Tags))
			}
		})
	}
}

// An id that matches two images is ambiguous and resolves nothing.
func TestEventForImageAmbiguous(t *testing.T) {
	stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
		{Tag: "a", Items: []imagev1.TagEvent{{Image: "sha256:ab11"}, {Image: "sha256:ab22"}}},
	}}}
	if ev := eventForImage(stream, "ab"); ev != nil {
		t.Errorf("ambiguous id resolved to %+v", ev)
	}
	if ev := eventForImage(stream, "ab2"); ev == nil || ev.Image != "sha256:ab22" {
		t.Errorf("unique prefix resolved to %+v", ev)
	}
}
