package validation

import (
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errorFields(errs field.ErrorList) string {
	var out []string
	for _, e := range errs {
		out = append(out, e.Field)
	}
	return strings.Join(out, ",")
}

func sourceTag() *imagev1.TagReference {
	return &imagev1.TagReference{
		From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/example/app:1"},
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
	}
}

func TestValidateImageStreamTag(t *testing.T) {
	meta := func(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: name, Namespace: "ns"} }
	for _, tc := range []struct {
		name       string
		ist        imagev1.ImageStreamTag
		wantFields string
	}{
		{"valid", imagev1.ImageStreamTag{ObjectMeta: meta("app:v1"), Tag: sourceTag()}, ""},
		{"no tag is valid", imagev1.ImageStreamTag{ObjectMeta: meta("app:v1")}, ""},
		{"no colon", imagev1.ImageStreamTag{ObjectMeta: meta("app"), Tag: sourceTag()}, "metadata.name"},
		{"two colons", imagev1.ImageStreamTag{ObjectMeta: meta("app:v1:x")}, "metadata.name"},
		{"D3 stream name too long", imagev1.ImageStreamTag{ObjectMeta: meta(strings.Repeat("a", 64) + ":v1")}, "metadata.name"},
		{"D3 stream name syntax", imagev1.ImageStreamTag{ObjectMeta: meta("App:v1")}, "metadata.name"},
		{"D4 tag syntax", imagev1.ImageStreamTag{ObjectMeta: meta("app:-v1")}, "metadata.name"},
		{"bad kind", imagev1.ImageStreamTag{ObjectMeta: meta("app:v1"), Tag: &imagev1.TagReference{
			From: &corev1.ObjectReference{Kind: "Pod", Name: "x"}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}}, "tag.from.kind"},
		{"tag annotations differ from the object's", func() imagev1.ImageStreamTag {
			ist := imagev1.ImageStreamTag{ObjectMeta: meta("app:v1"), Tag: sourceTag()}
			ist.Tag.Annotations = map[string]string{"a": "1"}
			return ist
		}(), "tag.annotations"},
	} {
		if got := errorFields(ValidateImageStreamTag(&tc.ist)); got != tc.wantFields {
			t.Errorf("%s: errors at %q, want %q", tc.name, got, tc.wantFields)
		}
	}
}

func TestValidateImageStreamTagUpdate(t *testing.T) {
	old := &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: "app:v1", Namespace: "ns", ResourceVersion: "5", Labels: map[string]string{"l": "1"}},
		Tag:        sourceTag(),
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:1"}},
	}
	for _, tc := range []struct {
		name       string
		change     func(*imagev1.ImageStreamTag)
		wantFields string
	}{
		{"annotations, tag and lookup policy may change", func(ist *imagev1.ImageStreamTag) {
			ist.Annotations = map[string]string{"a": "1"}
			ist.Tag.From.Name = "quay.io/example/app:2"
			ist.LookupPolicy.Local = true
		}, ""},
		{"the kind and apiVersion a client sends do not count", func(ist *imagev1.ImageStreamTag) {
			ist.TypeMeta = metav1.TypeMeta{Kind: "ImageStreamTag", APIVersion: "image.openshift.io/v1"}
		}, ""},
		{"labels are the stream's", func(ist *imagev1.ImageStreamTag) { ist.Labels = map[string]string{"l": "2"} }, "metadata"},
		{"the image is the server's", func(ist *imagev1.ImageStreamTag) { ist.Image.Name = "sha256:2" }, "metadata"},
	} {
		ist := old.DeepCopy()
		tc.change(ist)
		if got := errorFields(ValidateImageStreamTagUpdate(ist, old)); got != tc.wantFields {
			t.Errorf("%s: errors at %q, want %q", tc.name, got, tc.wantFields)
		}
	}
}

func TestValidateImageTag(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "app:v1", Namespace: "ns"}
	named := sourceTag()
	named.Name = "v1"
	other := sourceTag()
	other.Name = "v2"
	for _, tc := range []struct {
		name       string
		itag       imagev1.ImageTag
		wantFields string
	}{
		{"valid", imagev1.ImageTag{ObjectMeta: meta, Spec: named}, ""},
		{"spec required", imagev1.ImageTag{ObjectMeta: meta}, "spec"},
		{"spec name must be the tag", imagev1.ImageTag{ObjectMeta: meta, Spec: other}, "spec.name"},
		{"no colon", imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}, Spec: named}, "metadata.name,spec.name"},
	} {
		if got := errorFields(ValidateImageTag(&tc.itag)); got != tc.wantFields {
			t.Errorf("%s: errors at %q, want %q", tc.name, got, tc.wantFields)
		}
	}

	old := &imagev1.ImageTag{ObjectMeta: metav1.ObjectMeta{Name: "app:v1", Namespace: "ns", ResourceVersion: "5", Generation: 2}, Spec: named,
		Status: &imagev1.NamedTagEventList{Tag: "v1", Items: []imagev1.TagEvent{{Image: "sha256:1"}}}}
	for _, tc := range []struct {
		name       string
		change     func(*imagev1.ImageTag)
		wantFields string
	}{
		{"spec may change", func(it *imagev1.ImageTag) { it.Spec.From.Name = "quay.io/example/app:2" }, ""},
		{"spec null removes the tag", func(it *imagev1.ImageTag) { it.Spec = nil }, ""},
		{"metadata may not change", func(it *imagev1.ImageTag) { it.Labels = map[string]string{"x": "y"} }, "metadata"},
		{"status may not change", func(it *imagev1.ImageTag) { it.Status.Items = nil }, "status"},
	} {
		itag := old.DeepCopy()
		tc.change(itag)
		if got := errorFields(ValidateImageTagUpdate(itag, old)); got != tc.wantFields {
			t.Errorf("%s: errors at %q, want %q", tc.name, got, tc.wantFields)
		}
	}
}
