package imagestream_test

import (
	"fmt"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
)

// withSpecTags adds n spec tags, about 130 bytes each once stored.
func withSpecTags(stream *imagev1.ImageStream, n int) *imagev1.ImageStream {
	stream = stream.DeepCopy()
	for i := 0; i < n; i++ {
		stream.Spec.Tags = append(stream.Spec.Tags, imagev1.TagReference{
			Name: fmt.Sprintf("extra%d", i), From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/b:1"},
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
		})
	}
	return stream
}

// D8: a create, update or status update that would make the stored stream larger than the
// limit is a 413 naming the stream and the remedy; the check sees the object as it would be
// stored, after validation, so an invalid object gets its 422 first.
func TestSizeGuard(t *testing.T) {
	streams, status, _ := newStorage(t, imagestream.RegistryHostnames{})
	streams.SetMaxBytes(4096)
	status.SetMaxBytes(4096)

	big := withSpecTags(validImageStream(), 60)
	big.Name = "big"
	_, err := streams.Create(nsContext("test"), big, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if !apierrors.IsRequestEntityTooLargeError(err) || !strings.Contains(err.Error(), "test/big") || !strings.Contains(err.Error(), "4096") {
		t.Errorf("create over the limit: %v, want 413 naming the stream and the limit", err)
	}
	invalid := big.DeepCopy()
	invalid.Spec.Tags[0].Name = "bad:tag"
	if _, err := streams.Create(nsContext("test"), invalid, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); !apierrors.IsInvalid(err) {
		t.Errorf("invalid create over the limit: %v, want 422", err)
	}
	// A client's status is dropped on create: it does not count.
	withStatus := validImageStream()
	withStatus.Name = "status-ignored"
	withStatus.Status.Tags = []imagev1.NamedTagEventList{{Tag: "t", Items: events(100)}}
	createStream(t, streams, withStatus)

	stored := createStream(t, streams, validImageStream())
	grown := withSpecTags(stored, 60)
	if _, err := update(nsContext("test"), streams, grown); !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("update over the limit: %v, want 413", err)
	}
	grownStatus := stored.DeepCopy()
	grownStatus.Status.Tags = []imagev1.NamedTagEventList{{Tag: "bulk", Items: events(60)}}
	if _, err := update(nsContext("test"), status, grownStatus); !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("status update over the limit: %v, want 413", err)
	}
	// The main endpoint keeps the stored status: a client's large status does not count there.
	if _, err := update(nsContext("test"), streams, grownStatus); err != nil {
		t.Errorf("update whose ignored status is large: %v", err)
	}
}

// events returns n tag events, about 170 bytes each once stored.
func events(n int) []imagev1.TagEvent {
	var out []imagev1.TagEvent
	for i := 0; i < n; i++ {
		out = append(out, imagev1.TagEvent{Created: metav1.Now(), DockerImageReference: fmt.Sprintf("quay.io/a/b@sha256:%064x", i), Image: fmt.Sprintf("sha256:%064x", i)})
	}
	return out
}

// D8: the 413 names the stream, its size, the limit, the three tags whose history takes the
// most bytes (with their event counts) and the remedies, including D16's history limit.
func TestTooLargeMessage(t *testing.T) {
	stream := validImageStream()
	stream.Name = "hot"
	for tag, n := range map[string]int{"small": 1, "big": 30, "bigger": 40, "biggest": 50, "medium": 5} {
		stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: events(n)})
	}
	err := imagestream.TooLarge("imagestreammappings", stream, 20000, 4096)
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Code != 413 || status.Status().Details.Name != "hot" || status.Status().Details.Kind != "imagestreammappings" {
		t.Fatalf("TooLarge: %#v, want a 413 with details naming imagestreammappings hot", err)
	}
	msg := status.Status().Message
	want := fmt.Sprintf("the largest tag histories: biggest (50 events, %d bytes), bigger (40 events, %d bytes), big (30 events, %d bytes) and 2 more tags",
		tagSize(stream, "biggest"), tagSize(stream, "bigger"), tagSize(stream, "big"))
	for _, part := range []string{"test/hot", "20000 bytes", "4096-byte limit (--max-imagestream-bytes)", want,
		imagestream.MaxTagHistoryAnnotation, "--max-tag-history", "prune"} {
		if !strings.Contains(msg, part) {
			t.Errorf("message %q lacks %q", msg, part)
		}
	}
	stream.Status.Tags = nil
	if msg := imagestream.TooLarge("imagestreams", stream, 5000, 4096).Error(); strings.Contains(msg, "largest tag") {
		t.Errorf("a stream without history: %q names tags", msg)
	}
}

func tagSize(stream *imagev1.ImageStream, tag string) int {
	for _, l := range stream.Status.Tags {
		if l.Tag == tag {
			return l.Size()
		}
	}
	return 0
}
