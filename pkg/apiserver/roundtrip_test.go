package apiserver_test

import (
	"math/rand"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/openshift/api/image/docker10"
	"github.com/openshift/api/image/dockerpre012"
	imagev1 "github.com/openshift/api/image/v1"
	apifuzzer "k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"

	imagefuzzer "github.com/image-apiserver/image-apiserver/pkg/apis/image/fuzzer"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
)

// servedKinds are the kinds storage or REST hand out today. The openshift v1 types are our
// internal types too (registered as __internal as well as v1), so the API-group round trips below convert each of them
// __internal -> v1 -> JSON/protobuf -> v1 -> __internal.
var servedKinds = []string{
	"Image", "ImageList", "ImageStream", "ImageStreamList", "ImageStreamMapping",
	"ImageStreamTag", "ImageStreamTagList", "ImageTag", "ImageTagList", "ImageStreamImage",
	"ImageSignature", "ImageStreamLayers", "SecretList", "ImageStreamImport",
}

// TestRoundTripAPIGroupJSON round-trips every __internal kind through v1 JSON, with decoding
// defaults applied as the server applies them.
func TestRoundTripAPIGroupJSON(t *testing.T) {
	roundtrip.RoundTripTestForAPIGroup(t, install.Install, imagefuzzer.Funcs)
}

// TestRoundTripAPIGroupProtobuf does the same through JSON and protobuf, the storage encoding.
// dockerImageMetadata only survives protobuf as Raw bytes: a RawExtension's Object is dropped.
func TestRoundTripAPIGroupProtobuf(t *testing.T) {
	roundtrip.RoundTripProtobufTestForAPIGroup(t, install.Install, imagefuzzer.Funcs)
}

// TestRoundTripCoversServedKinds guards the two tests above: they only visit __internal kinds,
// so a kind dropped from install's internal registration would silently lose its round trip.
func TestRoundTripCoversServedKinds(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	internal := scheme.KnownTypes(install.InternalGroupVersion)
	for _, kind := range servedKinds {
		if _, ok := internal[kind]; !ok {
			t.Errorf("kind %s is not registered as %s, so no round trip covers it", kind, install.InternalGroupVersion)
		}
		if _, ok := scheme.KnownTypes(imagev1.GroupVersion)[kind]; !ok {
			t.Errorf("kind %s is not registered as %s", kind, imagev1.GroupVersion)
		}
	}
}

// TestRoundTripExternalKinds round-trips every kind that openshift's imagev1.Install puts into
// the group, including any we do not serve, so that serving them later starts from types known
// to survive JSON and protobuf unchanged.
//
// Exclusions, on purpose:
//   - meta.k8s.io kinds that metav1.AddToGroupVersion registers into image.openshift.io/v1
//     (WatchEvent, the *Options kinds): they are not ours and apimachinery tests them; the
//     global non-round-trippable ones (WatchEvent, ListOptions, ...) cannot round-trip at all.
//   - DockerImage of image.openshift.io/1.0 and /pre012 get JSON only: they are the shapes of the
//     dockerImageMetadata RawExtension, which is always JSON, and openshift/api generates no
//     protobuf marshalling for them.
func TestRoundTripExternalKinds(t *testing.T) {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	codecs := serializer.NewCodecFactory(scheme)
	seed := time.Now().UnixNano()
	t.Logf("fuzzer seed %d", seed)
	filler := apifuzzer.FuzzerFor(apifuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, imagefuzzer.Funcs), rand.NewSource(seed), codecs)

	ours := map[string]bool{
		reflect.TypeFor[imagev1.Image]().PkgPath():            true,
		reflect.TypeFor[docker10.DockerImage]().PkgPath():     true,
		reflect.TypeFor[dockerpre012.DockerImage]().PkgPath(): true,
	}
	tests := []struct {
		name     string
		gv       schema.GroupVersion
		protobuf bool
		// mustCover are kinds that must be among those round-tripped, so an empty or
		// renamed registration fails instead of passing vacuously.
		mustCover []string
	}{
		{
			name:     "v1",
			gv:       imagev1.GroupVersion,
			protobuf: true,
			mustCover: append(slices.Clone(servedKinds), "ImageSignature", "ImageStreamTag", "ImageStreamTagList",
				"ImageStreamImage", "ImageStreamLayers", "ImageStreamImport", "ImageTag", "ImageTagList", "SecretList"),
		},
		{name: "docker 1.0 metadata", gv: docker10.GroupVersion, mustCover: []string{"DockerImage"}},
		{name: "docker pre012 metadata", gv: dockerpre012.GroupVersion, mustCover: []string{"DockerImage"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var covered []string
			for kind, goType := range scheme.KnownTypes(tc.gv) {
				if !ours[goType.PkgPath()] || roundtrip.GlobalNonRoundTrippableTypes().Has(kind) {
					continue
				}
				covered = append(covered, kind)
				gvk := tc.gv.WithKind(kind)
				t.Run(kind, func(t *testing.T) {
					if tc.protobuf {
						roundtrip.RoundTripSpecificKind(t, gvk, scheme, codecs, filler, nil)
					} else {
						roundtrip.RoundTripSpecificKindWithoutProtobuf(t, gvk, scheme, codecs, filler, nil)
					}
				})
			}
			for _, kind := range tc.mustCover {
				if !slices.Contains(covered, kind) {
					t.Errorf("kind %s of %s was not round-tripped; covered: %v", kind, tc.gv, covered)
				}
			}
		})
	}
}
