package validutf8

import (
	"context"
	"net/http"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/admission"
)

const bad = "bad\xff\xfe!"

func TestCheck(t *testing.T) {
	tests := []struct {
		name string
		obj  runtime.Object
		// want are the field paths reported, in order.
		want []string
	}{
		{
			name: "valid stream, multi-byte characters included",
			obj: &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{"a": "é€𝄞\uFFFD"}},
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "t", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "x:y"}}}}},
		},
		{
			name: "annotation value",
			obj:  &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{"a": bad}}},
			want: []string{"metadata.annotations[a]"},
		},
		{
			name: "annotation key",
			obj:  &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{bad: "v"}}},
			want: []string{"metadata.annotations"},
		},
		{
			name: "nested in a slice, behind a pointer",
			obj: &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s"},
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
					{Name: "ok"},
					{Name: "t", From: &corev1.ObjectReference{Kind: "DockerImage", Name: bad}},
				}}},
			want: []string{"spec.tags[1].from.name"},
		},
		{
			name: "image of a mapping, and the mapping's tag",
			obj: &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Name: "s"}, Tag: bad,
				Image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:x"}, DockerImageManifest: bad,
					DockerImageLayers: []imagev1.ImageLayer{{Name: "l"}, {Name: "l", MediaType: bad}}}},
			want: []string{"image.dockerImageManifest", "image.dockerImageLayers[1].mediaType", "tag"},
		},
		{
			name: "byte slices are binary",
			obj: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:x"},
				Signatures: []imagev1.ImageSignature{{Content: []byte(bad)}}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, err := range Check(tc.obj) {
				got = append(got, err.Field)
				if !strings.Contains(err.Detail, "must be valid UTF-8") || !strings.Contains(err.Detail, "0xff at offset 3") {
					t.Errorf("detail %q does not state the rule and the byte", err.Detail)
				}
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("fields %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCheckBoundsErrors(t *testing.T) {
	annotations := map[string]string{}
	for i := range 100 {
		annotations[strings.Repeat("k", i+1)] = bad + strings.Repeat("x", 1<<10)
	}
	errs := Check(&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: annotations}})
	if len(errs) != maxErrors {
		t.Fatalf("%d errors, want %d", len(errs), maxErrors)
	}
	if v, _ := errs[0].BadValue.(string); len(v) > 100 {
		t.Errorf("reported value is %d bytes long, want a short preview", len(v))
	}
}

func TestValidate(t *testing.T) {
	p := New()
	if !p.Handles(admission.Create) || !p.Handles(admission.Update) || p.Handles(admission.Delete) {
		t.Error("handles the wrong operations")
	}
	kind := imagev1.GroupVersion.WithKind("ImageStream")
	resource := imagev1.GroupVersion.WithResource("imagestreams")
	attrs := func(obj runtime.Object) admission.Attributes {
		return admission.NewAttributesRecord(obj, nil, kind, "ns", "s", resource, "", admission.Create, &metav1.CreateOptions{}, false, nil)
	}
	if err := p.Validate(context.Background(), attrs(&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s"}}), nil); err != nil {
		t.Errorf("valid stream: %v", err)
	}
	if err := p.Validate(context.Background(), attrs(nil), nil); err != nil {
		t.Errorf("no object: %v", err)
	}
	err := p.Validate(context.Background(), attrs(&imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "s", Annotations: map[string]string{"a": bad}}}), nil)
	status, ok := err.(apierrors.APIStatus)
	if !ok || status.Status().Code != http.StatusUnprocessableEntity || status.Status().Details.Kind != "ImageStream" {
		t.Fatalf("got %v, want a 422 for the ImageStream", err)
	}
	if causes := status.Status().Details.Causes; len(causes) != 1 || causes[0].Field != "metadata.annotations[a]" {
		t.Errorf("causes %+v", causes)
	}
}
