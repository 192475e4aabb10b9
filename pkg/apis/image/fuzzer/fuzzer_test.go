package fuzzer

import (
	"bytes"
	"math/rand"
	"slices"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	apifuzzer "k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
)

const iterations = 200

func newFiller(t *testing.T) func(obj interface{}) {
	t.Helper()
	scheme := runtime.NewScheme()
	install.Install(scheme)
	f := apifuzzer.FuzzerFor(apifuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, Funcs), rand.NewSource(1), serializer.NewCodecFactory(scheme))
	return f.Fill
}

// TestImageMetadataIsCanonical checks that fuzzed dockerImageMetadata is what the server stores:
// Raw already in canonical form (normalizing again changes nothing), Object nil (protobuf would
// drop it), version "1.0" exactly when there is metadata; and that both branches occur.
func TestImageMetadataIsCanonical(t *testing.T) {
	fill := newFiller(t)
	var withRaw, withoutRaw int
	for range iterations {
		var img imagev1.Image
		fill(&img)
		if img.DockerImageMetadata.Object != nil {
			t.Fatalf("dockerImageMetadata.Object = %T, want nil", img.DockerImageMetadata.Object)
		}
		if len(img.DockerImageMetadata.Raw) == 0 {
			withoutRaw++
			if img.DockerImageMetadataVersion != "" {
				t.Errorf("dockerImageMetadataVersion = %q without metadata, want empty", img.DockerImageMetadataVersion)
			}
			continue
		}
		withRaw++
		if img.DockerImageMetadataVersion != imageutil.MetadataVersion10 {
			t.Errorf("dockerImageMetadataVersion = %q, want %q", img.DockerImageMetadataVersion, imageutil.MetadataVersion10)
		}
		normalized := img.DeepCopy()
		if err := imageutil.NormalizeDockerImageMetadata(normalized); err != nil {
			t.Fatalf("fuzzed metadata does not decode: %v\n%s", err, img.DockerImageMetadata.Raw)
		}
		if !bytes.Equal(normalized.DockerImageMetadata.Raw, img.DockerImageMetadata.Raw) {
			t.Errorf("fuzzed metadata is not canonical:\n got %s\nwant %s", img.DockerImageMetadata.Raw, normalized.DockerImageMetadata.Raw)
		}
	}
	if withRaw == 0 || withoutRaw == 0 {
		t.Errorf("fuzzer produced %d images with metadata and %d without; want both", withRaw, withoutRaw)
	}
}

// TestImageStreamTagsAreSane checks that fuzzed streams have unique, non-empty, sorted tag names
// (what validation and Canonicalize guarantee) and policies defaulted as decoding defaults them.
func TestImageStreamTagsAreSane(t *testing.T) {
	fill := newFiller(t)
	var sawTags bool
	for range iterations {
		var stream imagev1.ImageStream
		fill(&stream)
		var spec, status []string
		for _, tag := range stream.Spec.Tags {
			spec = append(spec, tag.Name)
			switch tag.ReferencePolicy.Type {
			case imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy:
			default:
				t.Errorf("spec tag %q has referencePolicy.type %q", tag.Name, tag.ReferencePolicy.Type)
			}
			switch tag.ImportPolicy.ImportMode {
			case imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
			default:
				t.Errorf("spec tag %q has importPolicy.importMode %q", tag.Name, tag.ImportPolicy.ImportMode)
			}
		}
		for _, tag := range stream.Status.Tags {
			status = append(status, tag.Tag)
		}
		for _, names := range [][]string{spec, status} {
			sawTags = sawTags || len(names) > 0
			if slices.Contains(names, "") || !slices.IsSorted(names) || len(slices.Compact(slices.Clone(names))) != len(names) {
				t.Errorf("tag names %q are not unique, non-empty and sorted", names)
			}
		}
	}
	if !sawTags {
		t.Error("fuzzer never produced a tag")
	}
}
