package apiserver

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
)

// TestStorageCodec checks the storage encoding: protobuf of
// image.openshift.io/v1 in etcd, decoded back onto the same Go type for __internal.
func TestStorageCodec(t *testing.T) {
	codec, versioner, err := StorageCodec()
	if err != nil {
		t.Fatalf("StorageCodec: %v", err)
	}
	if gvk, ok := versioner.KindForGroupVersionKinds([]schema.GroupVersionKind{install.InternalGroupVersion.WithKind("ImageStream")}); !ok || gvk != imagev1.GroupVersion.WithKind("ImageStream") {
		t.Errorf("encode versioner maps __internal ImageStream to %v, %v; want %v", gvk, ok, imagev1.GroupVersion.WithKind("ImageStream"))
	}

	tests := []struct {
		name string
		obj  runtime.Object
		kind string
	}{
		{
			name: "ImageStream",
			obj: &imagev1.ImageStream{
				ObjectMeta: metav1.ObjectMeta{Name: "is", Namespace: "ns"},
				Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
					Name:            "latest",
					From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/a/b:1"},
					ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
					ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
				}}},
			},
			kind: "ImageStream",
		},
		{
			name: "Image with raw metadata",
			obj: &imagev1.Image{
				ObjectMeta:                 metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("a", 64)},
				DockerImageReference:       "quay.io/a/b@sha256:" + strings.Repeat("a", 64),
				DockerImageMetadata:        runtime.RawExtension{Raw: []byte(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"x","Created":null,"ContainerConfig":{}}`)},
				DockerImageMetadataVersion: "1.0",
			},
			kind: "Image",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := runtime.Encode(codec, tc.obj.DeepCopyObject())
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			if !bytes.HasPrefix(data, []byte("k8s\x00")) {
				t.Fatalf("storage encoding is not protobuf: %q", data[:min(len(data), 16)])
			}
			_, gvk, err := protobuf.NewSerializer(Scheme, Scheme).Decode(data, nil, nil)
			if err != nil {
				t.Fatalf("decode as protobuf: %v", err)
			}
			if *gvk != imagev1.GroupVersion.WithKind(tc.kind) {
				t.Errorf("stored as %v, want %v", *gvk, imagev1.GroupVersion.WithKind(tc.kind))
			}
			got, err := runtime.Decode(codec, data)
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if diff := cmp.Diff(tc.obj, got); diff != "" {
				t.Errorf("storage round trip (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSchemeServesMetaTypes: the server Scheme knows the unversioned meta types every API
// server returns (Status for errors and the mapping response, discovery documents).
func TestSchemeServesMetaTypes(t *testing.T) {
	for _, obj := range []runtime.Object{&metav1.Status{}, &metav1.APIGroupList{}, &metav1.APIResourceList{}} {
		if unversioned, ok := Scheme.IsUnversioned(obj); !ok || !unversioned {
			t.Errorf("%T: unversioned = %v, known = %v; want an unversioned type", obj, unversioned, ok)
		}
	}
	kinds, _, err := externalScheme.ObjectKinds(&imagev1.ImageStream{})
	if err != nil {
		t.Fatalf("externalScheme does not know ImageStream: %v", err)
	}
	for _, k := range kinds {
		if k.Version == runtime.APIVersionInternal {
			t.Errorf("externalScheme knows %v; OpenAPI names would carry __internal", k)
		}
	}
}
