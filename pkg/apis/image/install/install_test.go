package install

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
	"github.com/openshift/api/image/dockerpre012"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
)

func newScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	Install(scheme)
	return scheme
}

// TestInstallRegistersKinds checks that v1 is served as its own in-memory type: the served
// kinds exist both as v1 and as __internal, backed by the same Go types.
func TestInstallRegistersKinds(t *testing.T) {
	scheme := newScheme()
	tests := []struct {
		name string
		gvk  schema.GroupVersionKind
		want runtime.Object
	}{
		{"v1 Image", imagev1.GroupVersion.WithKind("Image"), &imagev1.Image{}},
		{"v1 ImageStream", imagev1.GroupVersion.WithKind("ImageStream"), &imagev1.ImageStream{}},
		{"v1 ImageStreamTag", imagev1.GroupVersion.WithKind("ImageStreamTag"), &imagev1.ImageStreamTag{}},
		{"internal Image", InternalGroupVersion.WithKind("Image"), &imagev1.Image{}},
		{"internal ImageList", InternalGroupVersion.WithKind("ImageList"), &imagev1.ImageList{}},
		{"internal ImageStream", InternalGroupVersion.WithKind("ImageStream"), &imagev1.ImageStream{}},
		{"internal ImageStreamList", InternalGroupVersion.WithKind("ImageStreamList"), &imagev1.ImageStreamList{}},
		{"internal ImageStreamMapping", InternalGroupVersion.WithKind("ImageStreamMapping"), &imagev1.ImageStreamMapping{}},
		{"docker 1.0 metadata", docker10.GroupVersion.WithKind("DockerImage"), &docker10.DockerImage{}},
		{"docker pre012 metadata", dockerpre012.GroupVersion.WithKind("DockerImage"), &dockerpre012.DockerImage{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := scheme.New(tc.gvk)
			if err != nil {
				t.Fatalf("scheme.New(%v): %v", tc.gvk, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("scheme.New(%v) mismatch (-want +got):\n%s", tc.gvk, diff)
			}
		})
	}
}

// TestInstallVersionPriority: the docker metadata versions "1.0" and "pre012" share the group
// name, so v1 must come first or clients and storage could pick a metadata version. (The scheme
// lists unprioritized versions after it; apiserver.New therefore sets PrioritizedVersions.)
func TestInstallVersionPriority(t *testing.T) {
	scheme := newScheme()
	got := scheme.PrioritizedVersionsForGroup(imagev1.GroupName)
	if len(got) == 0 || got[0] != imagev1.GroupVersion {
		t.Errorf("PrioritizedVersionsForGroup(%q) = %v, want %v first", imagev1.GroupName, got, imagev1.GroupVersion)
	}
	if !scheme.IsVersionRegistered(imagev1.GroupVersion) {
		t.Errorf("%v is not registered", imagev1.GroupVersion)
	}
}

// TestInstallDefaults checks that decoding defaults the tag policies as OpenShift does:
// referencePolicy.type Source and importPolicy.importMode Legacy, without touching set values.
func TestInstallDefaults(t *testing.T) {
	scheme := newScheme()
	tests := []struct {
		name string
		in   runtime.Object
		want runtime.Object
	}{
		{
			name: "ImageStream spec tags",
			in: &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
				{Name: "empty"},
				{Name: "set", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModePreserveOriginal}},
			}}},
			want: &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
				{Name: "empty", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy}},
				{Name: "set", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModePreserveOriginal}},
			}}},
		},
		{
			name: "ImageStreamList items",
			in:   &imagev1.ImageStreamList{Items: []imagev1.ImageStream{{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "a"}}}}}},
			want: &imagev1.ImageStreamList{Items: []imagev1.ImageStream{{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
				{Name: "a", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy}},
			}}}}},
		},
		{
			name: "ImageStreamTag tag",
			in:   &imagev1.ImageStreamTag{Tag: &imagev1.TagReference{Name: "a"}},
			want: &imagev1.ImageStreamTag{Tag: &imagev1.TagReference{
				Name: "a", ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}, ImportPolicy: imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
			}},
		},
		{
			name: "Image has no defaults",
			in:   &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
			want: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "x"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			scheme.Default(tc.in)
			if diff := cmp.Diff(tc.want, tc.in); diff != "" {
				t.Errorf("defaulted object mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestInstallDecodeToInternal decodes v1 JSON the way storage and handlers do: into __internal,
// with defaults, onto the same Go type.
func TestInstallDecodeToInternal(t *testing.T) {
	scheme := newScheme()
	codecs := serializer.NewCodecFactory(scheme)
	data := []byte(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"is","namespace":"ns"},"spec":{"tags":[{"name":"latest","from":{"kind":"DockerImage","name":"quay.io/a/b:1"}}]}}`)
	obj, gvk, err := codecs.UniversalDecoder(InternalGroupVersion).Decode(data, nil, nil)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if want := imagev1.GroupVersion.WithKind("ImageStream"); *gvk != want {
		t.Errorf("decoded gvk = %v, want %v", *gvk, want)
	}
	want := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name:            "latest",
			From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/b:1"},
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
			ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
		}}},
	}
	if diff := cmp.Diff(want, obj); diff != "" {
		t.Errorf("decoded object mismatch (-want +got):\n%s", diff)
	}
}

// TestInstallFieldLabels checks the field-selector keys OpenShift supports: ImageStream supports name,
// namespace and both repository fields; Image only its name. Anything else is an error, so a
// typo is a 400 instead of an empty list.
func TestInstallFieldLabels(t *testing.T) {
	scheme := newScheme()
	tests := []struct {
		name    string
		kind    string
		label   string
		wantErr bool
	}{
		{"stream name", "ImageStream", "metadata.name", false},
		{"stream namespace", "ImageStream", "metadata.namespace", false},
		{"stream spec repository", "ImageStream", "spec.dockerImageRepository", false},
		{"stream status repository", "ImageStream", "status.dockerImageRepository", false},
		{"stream public repository unsupported", "ImageStream", "status.publicDockerImageRepository", true},
		{"stream tags unsupported", "ImageStream", "spec.tags", true},
		{"image name", "Image", "metadata.name", false},
		{"image namespace unsupported", "Image", "metadata.namespace", true},
		{"image reference unsupported", "Image", "dockerImageReference", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			label, value, err := scheme.ConvertFieldLabel(imagev1.GroupVersion.WithKind(tc.kind), tc.label, "v")
			if (err != nil) != tc.wantErr {
				t.Fatalf("ConvertFieldLabel(%s, %q) error = %v, wantErr %v", tc.kind, tc.label, err, tc.wantErr)
			}
			if err == nil && (label != tc.label || value != "v") {
				t.Errorf("ConvertFieldLabel(%s, %q) = %q, %q; want it unchanged", tc.kind, tc.label, label, value)
			}
		})
	}
}
