package validation

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const (
	docDigest    = "sha256:47463d94eb5c049b2d23b03a9530bf944f8f967a0fe79147dd6b9135bf7dd13d"
	otherDigest  = "sha256:3c87c572822935df60f0f5d3665bd376841a7fcfeb806b5f212de6a00e9a7b25"
	docReference = "172.30.56.218:5000/test/origin-ruby-sample@" + docDigest
)

// fe is what the tests compare: the error's type and path, not its message.
type fe struct {
	Type  field.ErrorType
	Field string
}

func req(path string) fe     { return fe{field.ErrorTypeRequired, path} }
func inv(path string) fe     { return fe{field.ErrorTypeInvalid, path} }
func dup(path string) fe     { return fe{field.ErrorTypeDuplicate, path} }
func forb(path string) fe    { return fe{field.ErrorTypeForbidden, path} }
func tooLong(path string) fe { return fe{field.ErrorTypeTooLong, path} }

// checkErrors compares got with want as multisets of (Type, Field).
func checkErrors(t *testing.T, got field.ErrorList, want ...fe) {
	t.Helper()
	gotFE := make([]fe, 0, len(got))
	for _, e := range got {
		gotFE = append(gotFE, fe{e.Type, e.Field})
	}
	sortFE(gotFE)
	want = append([]fe(nil), want...)
	sortFE(want)
	if fmt.Sprint(gotFE) != fmt.Sprint(want) {
		t.Errorf("errors mismatch\n got: %v\nwant: %v\nfull: %v", gotFE, want, got)
	}
}

func sortFE(s []fe) {
	sort.Slice(s, func(i, j int) bool {
		if s[i].Field != s[j].Field {
			return s[i].Field < s[j].Field
		}
		return s[i].Type < s[j].Type
	})
}

// docImage is the image of the documentation's example mapping
// (examples/mapping.yaml), named by its digest.
func docImage() imagev1.Image {
	return imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: docDigest},
		DockerImageReference: docReference,
		DockerImageLayers: []imagev1.ImageLayer{
			// As in the example: no mediaType, a repeated layer. Not validated.
			{Name: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", LayerSize: 0},
			{Name: "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef", LayerSize: 0},
		},
		DockerImageMetadataVersion: "1.0",
	}
}

func validSignature() imagev1.ImageSignature {
	return imagev1.ImageSignature{
		ObjectMeta: metav1.ObjectMeta{Name: docDigest + "@sig1"},
		Type:       imagev1.ImageSignatureTypeAtomicImageV1,
		Content:    []byte("blob"),
	}
}

func validManifest() imagev1.ImageManifest {
	return imagev1.ImageManifest{
		Digest:       otherDigest,
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		ManifestSize: 512,
		Architecture: "amd64",
		OS:           "linux",
	}
}

func TestValidateImage(t *testing.T) {
	probed := func(sec int64) metav1.Time { return metav1.NewTime(time.Unix(sec, 0)) }
	tests := []struct {
		name   string
		mutate func(*imagev1.Image)
		want   []fe
	}{
		{name: "documentation example image is valid", mutate: func(*imagev1.Image) {}},

		// D5: the name must be a digest.
		{name: "D5 sha384 name", mutate: func(i *imagev1.Image) { i.Name = "sha384:" + strings.Repeat("a", 96) }},
		{name: "D5 sha512 name", mutate: func(i *imagev1.Image) { i.Name = "sha512:" + strings.Repeat("a", 128) }},
		{name: "D5 plain name", mutate: func(i *imagev1.Image) { i.Name = "foo" }, want: []fe{inv("metadata.name")}},
		{name: "D5 uppercase hex", mutate: func(i *imagev1.Image) { i.Name = strings.ToUpper(docDigest) }, want: []fe{inv("metadata.name")}},
		{name: "D5 short hex", mutate: func(i *imagev1.Image) { i.Name = docDigest[:70] }, want: []fe{inv("metadata.name")}},
		{name: "D5 sha384 with 64 hex", mutate: func(i *imagev1.Image) { i.Name = "sha384:" + docDigest[7:] }, want: []fe{inv("metadata.name")}},
		{name: "D5 unsupported algorithm", mutate: func(i *imagev1.Image) { i.Name = "md5:" + strings.Repeat("a", 32) }, want: []fe{inv("metadata.name")}},
		{name: "path segment rule", mutate: func(i *imagev1.Image) { i.Name = "sha256/x" }, want: []fe{inv("metadata.name")}},
		{name: "name required", mutate: func(i *imagev1.Image) { i.Name = "" }, want: []fe{req("metadata.name")}},
		{name: "cluster-scoped", mutate: func(i *imagev1.Image) { i.Namespace = "test" }, want: []fe{forb("metadata.namespace")}},

		// dockerImageReference: required, and must parse as a pull spec.
		{name: "reference required", mutate: func(i *imagev1.Image) { i.DockerImageReference = "" }, want: []fe{req("dockerImageReference")}},
		{name: "reference must parse", mutate: func(i *imagev1.Image) { i.DockerImageReference = "Bad/Ref" }, want: []fe{inv("dockerImageReference")}},
		{name: "reference by tag", mutate: func(i *imagev1.Image) { i.DockerImageReference = "quay.io/ns/name:tag" }},
		{name: "reference digest not compared with name outside a mapping", mutate: func(i *imagev1.Image) {
			i.DockerImageReference = "quay.io/ns/name@" + otherDigest
		}},

		// signatures: OpenShift's signature rules.
		{name: "valid signature", mutate: func(i *imagev1.Image) { i.Signatures = []imagev1.ImageSignature{validSignature()} }},
		{name: "signature type required", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Type = ""
			i.Signatures = []imagev1.ImageSignature{validSignature(), s}
		}, want: []fe{req("signatures[1].type")}},
		{name: "signature content required", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Content = nil
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{req("signatures[0].content")}},
		{name: "signature name without @", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Name = "sig1"
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].metadata.name")}},
		{name: "signature name with two @", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Name = "a@b@c"
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].metadata.name")}},
		{name: "signature name with empty part", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Name = "@sig"
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].metadata.name")}},
		{name: "signature name required", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Name = ""
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{req("signatures[0].metadata.name"), inv("signatures[0].metadata.name")}},
		{name: "signature labels forbidden", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Labels = map[string]string{"a": "b"}
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{forb("signatures[0].metadata.labels")}},
		{name: "signature annotations forbidden", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Annotations = map[string]string{"a": "b"}
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{forb("signatures[0].metadata.annotations")}},
		{name: "signature namespace forbidden", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Namespace = "ns"
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{forb("signatures[0].metadata.namespace")}},
		{name: "Trusted and ForImage", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{{Type: signatureTrusted, Status: corev1.ConditionTrue}, {Type: signatureForImage, Status: corev1.ConditionTrue}}
			s.ImageIdentity = "quay.io/ns/name"
			s.SignedClaims = map[string]string{"a": "b"}
			s.IssuedBy = &imagev1.SignatureIssuer{}
			s.IssuedTo = &imagev1.SignatureSubject{}
			i.Signatures = []imagev1.ImageSignature{s}
		}},
		{name: "Trusted without ForImage", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{{Type: signatureTrusted, Status: corev1.ConditionTrue}}
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].conditions")}},
		{name: "ForImage without Trusted", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{{Type: signatureForImage, Status: corev1.ConditionTrue}}
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].conditions")}},
		{name: "quirk: any non-Trusted condition counts as ForImage", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{{Type: signatureTrusted, Status: corev1.ConditionTrue}, {Type: "Other", Status: corev1.ConditionTrue}}
			i.Signatures = []imagev1.ImageSignature{s}
		}},
		{name: "quirk: an older Trusted condition counts as ForImage", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{
				{Type: signatureTrusted, Status: corev1.ConditionTrue, LastProbeTime: probed(20)},
				{Type: signatureTrusted, Status: corev1.ConditionTrue, LastProbeTime: probed(10)},
			}
			i.Signatures = []imagev1.ImageSignature{s}
		}},
		{name: "verification data without Trusted", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.ImageIdentity = "quay.io/ns/name"
			s.SignedClaims = map[string]string{"a": "b"}
			s.IssuedBy = &imagev1.SignatureIssuer{}
			s.IssuedTo = &imagev1.SignatureSubject{}
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{
			inv("signatures[0].imageIdentity"), inv("signatures[0].signedClaims"),
			inv("signatures[0].issuedBy"), inv("signatures[0].issuedTo"),
		}},
		{name: "verification data with Trusted Unknown", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{{Type: signatureTrusted, Status: corev1.ConditionUnknown}, {Type: signatureForImage, Status: corev1.ConditionTrue}}
			s.ImageIdentity = "quay.io/ns/name"
			i.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{inv("signatures[0].imageIdentity")}},
		{name: "latest Trusted condition decides", mutate: func(i *imagev1.Image) {
			s := validSignature()
			s.Conditions = []imagev1.SignatureCondition{
				{Type: signatureForImage, Status: corev1.ConditionTrue, LastProbeTime: probed(5)},
				{Type: signatureTrusted, Status: corev1.ConditionUnknown, LastProbeTime: probed(10)},
				{Type: signatureTrusted, Status: corev1.ConditionTrue, LastProbeTime: probed(20)},
			}
			s.ImageIdentity = "quay.io/ns/name"
			i.Signatures = []imagev1.ImageSignature{s}
		}},

		// dockerImageManifests: the entries of a manifest list.
		{name: "valid manifest list", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			i.DockerImageManifests = []imagev1.ImageManifest{validManifest(), validManifest()}
		}},
		{name: "manifest digest of any algorithm", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.Digest = "md5:" + strings.Repeat("a", 32)
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}},
		{name: "manifest digest malformed", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.Digest = "abc"
			i.DockerImageManifests = []imagev1.ImageManifest{validManifest(), m}
		}, want: []fe{inv("dockerImageManifests[1].digest")}},
		{name: "manifest media type malformed", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.MediaType = "foobar"
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}, want: []fe{inv("dockerImageManifests[0].mediaType")}},
		{name: "manifest media type part too long", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.MediaType = "application/" + strings.Repeat("x", 128)
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}, want: []fe{inv("dockerImageManifests[0].mediaType")}},
		{name: "manifest architecture and os required", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.Architecture, m.OS = "", ""
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}, want: []fe{req("dockerImageManifests[0].architecture"), req("dockerImageManifests[0].os")}},
		{name: "manifest size negative, reported at size", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.ManifestSize = -1
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}, want: []fe{inv("dockerImageManifests[0].size")}},
		{name: "manifest size zero", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = nil
			m := validManifest()
			m.ManifestSize = 0
			i.DockerImageManifests = []imagev1.ImageManifest{m}
		}},
		{name: "layers and manifests together", mutate: func(i *imagev1.Image) {
			i.DockerImageManifests = []imagev1.ImageManifest{validManifest()}
		}, want: []fe{inv("dockerImageLayers")}},
		{name: "layers are not validated", mutate: func(i *imagev1.Image) {
			i.DockerImageLayers = []imagev1.ImageLayer{{Name: "not a digest", LayerSize: -5, MediaType: "nonsense"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := docImage()
			tc.mutate(&img)
			checkErrors(t, ValidateImage(&img), tc.want...)
		})
	}
}

func TestValidateImageUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*imagev1.Image)
		want   []fe
	}{
		{name: "labels and reference may change", mutate: func(i *imagev1.Image) {
			i.Labels = map[string]string{"a": "b"}
			i.DockerImageReference = "quay.io/ns/name@" + docDigest
		}},
		{name: "name is immutable", mutate: func(i *imagev1.Image) { i.Name = otherDigest }, want: []fe{inv("metadata.name")}},
		{name: "new object validated in full", mutate: func(i *imagev1.Image) { i.DockerImageReference = "" }, want: []fe{req("dockerImageReference")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldImg := docImage()
			oldImg.ResourceVersion = "1"
			newImg := docImage()
			newImg.ResourceVersion = "1"
			tc.mutate(&newImg)
			checkErrors(t, ValidateImageUpdate(&newImg, &oldImg), tc.want...)
		})
	}
}

func validStream() imagev1.ImageStream {
	return imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: "origin-ruby-sample"},
		Spec: imagev1.ImageStreamSpec{
			Tags: []imagev1.TagReference{
				{
					Name:            "latest",
					From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "docker.io/library/ruby:2.7"},
					ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
					ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
				},
				{
					Name:            "stable",
					From:            &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "latest"},
					ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy},
				},
			},
		},
		Status: imagev1.ImageStreamStatus{
			Tags: []imagev1.NamedTagEventList{
				{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: docReference, Image: docDigest}}},
			},
		},
	}
}

// specTag returns a pointer to the i-th spec tag for mutation.
func specTag(is *imagev1.ImageStream, i int) *imagev1.TagReference { return &is.Spec.Tags[i] }

func TestValidateImageStream(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStream)
		want   []fe
	}{
		{name: "valid", mutate: func(*imagev1.ImageStream) {}},

		// D3: at most 63 characters and the stream-name pattern.
		{name: "D3 63 characters", mutate: func(is *imagev1.ImageStream) { is.Name = strings.Repeat("a", 63) }},
		{name: "D3 64 characters is exactly one TooLong", mutate: func(is *imagev1.ImageStream) { is.Name = strings.Repeat("a", 64) },
			want: []fe{tooLong("metadata.name")}},
		{name: "D3 64 characters with a bad pattern", mutate: func(is *imagev1.ImageStream) { is.Name = strings.Repeat("A", 64) },
			want: []fe{tooLong("metadata.name"), inv("metadata.name")}},
		{name: "D3 uppercase", mutate: func(is *imagev1.ImageStream) { is.Name = "Foo" }, want: []fe{inv("metadata.name")}},
		{name: "D3 double separator", mutate: func(is *imagev1.ImageStream) { is.Name = "a..b" }, want: []fe{inv("metadata.name")}},
		{name: "D3 trailing separator", mutate: func(is *imagev1.ImageStream) { is.Name = "a-" }, want: []fe{inv("metadata.name")}},
		{name: "D3 single separators", mutate: func(is *imagev1.ImageStream) { is.Name = "a.b_c-d" }},
		{name: "path segment rule", mutate: func(is *imagev1.ImageStream) { is.Name = "a/b" }, want: []fe{inv("metadata.name")}},
		{name: "name required", mutate: func(is *imagev1.ImageStream) { is.Name = "" }, want: []fe{req("metadata.name")}},
		{name: "namespace required", mutate: func(is *imagev1.ImageStream) { is.Namespace = "" }, want: []fe{req("metadata.namespace")}},
		{name: "namespace/name over 255", mutate: func(is *imagev1.ImageStream) {
			is.Namespace = strings.Repeat("n", 200)
			is.Name = strings.Repeat("a", 60)
		}, want: []fe{inv("metadata.namespace"), inv("metadata.name")}},

		// spec.dockerImageRepository.
		{name: "repository", mutate: func(is *imagev1.ImageStream) { is.Spec.DockerImageRepository = "quay.io/ns/name" }},
		{name: "repository must parse", mutate: func(is *imagev1.ImageStream) { is.Spec.DockerImageRepository = "quay.io/NS/name" },
			want: []fe{inv("spec.dockerImageRepository")}},
		{name: "repository with tag", mutate: func(is *imagev1.ImageStream) { is.Spec.DockerImageRepository = "quay.io/ns/name:tag" },
			want: []fe{inv("spec.dockerImageRepository")}},
		{name: "repository with ID", mutate: func(is *imagev1.ImageStream) { is.Spec.DockerImageRepository = "quay.io/ns/name@" + docDigest },
			want: []fe{inv("spec.dockerImageRepository")}},
		{name: "repository with tag and ID", mutate: func(is *imagev1.ImageStream) { is.Spec.DockerImageRepository = "quay.io/ns/name:t@" + docDigest },
			want: []fe{inv("spec.dockerImageRepository"), inv("spec.dockerImageRepository")}},

		// D4: spec tag names.
		{name: "D4 128 character tag", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = strings.Repeat("t", 128) }},
		{name: "D4 129 character tag", mutate: func(is *imagev1.ImageStream) { specTag(is, 1).Name = strings.Repeat("t", 129) },
			want: []fe{inv("spec.tags[1].name")}},
		{name: "D4 leading dot", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = ".hidden" }, want: []fe{inv("spec.tags[0].name")}},
		{name: "D4 colon", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = "a:b" }, want: []fe{inv("spec.tags[0].name")}},
		{name: "D4 empty", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = "" }, want: []fe{req("spec.tags[0].name")}},
		{name: "D4 duplicate", mutate: func(is *imagev1.ImageStream) { specTag(is, 1).Name = "latest" }, want: []fe{dup("spec.tags[1].name")}},

		// from.
		{name: "from name required", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).From.Name = "" }, want: []fe{req("spec.tags[0].from.name")}},
		{name: "DockerImage must parse", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).From.Name = "Ruby" },
			want: []fe{inv("spec.tags[0].from.name")}},
		{name: "DockerImage may be scheduled", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).ImportPolicy.Scheduled = true }},
		{name: "ImageStreamTag may not be scheduled", mutate: func(is *imagev1.ImageStream) { specTag(is, 1).ImportPolicy.Scheduled = true },
			want: []fe{inv("spec.tags[1].importPolicy.scheduled")}},
		{name: "ImageStreamImage may not be scheduled", mutate: func(is *imagev1.ImageStream) {
			specTag(is, 1).From = &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "other@" + docDigest}
			specTag(is, 1).ImportPolicy.Scheduled = true
		}, want: []fe{inv("spec.tags[1].importPolicy.scheduled")}},
		{name: "ImageStreamImage", mutate: func(is *imagev1.ImageStream) {
			specTag(is, 1).From = &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "other@" + docDigest}
		}},
		{name: "unknown kind", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).From.Kind = "Image" }, want: []fe{req("spec.tags[0].from.kind")}},
		{name: "empty kind and name", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).From = &corev1.ObjectReference{} },
			want: []fe{req("spec.tags[0].from.name"), req("spec.tags[0].from.kind")}},
		{name: "no from", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).From = nil }},

		// policies.
		{name: "reference policy required", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).ReferencePolicy.Type = "" },
			want: []fe{inv("spec.tags[0].referencePolicy.type")}},
		{name: "reference policy unknown", mutate: func(is *imagev1.ImageStream) { specTag(is, 1).ReferencePolicy.Type = "Remote" },
			want: []fe{inv("spec.tags[1].referencePolicy.type")}},
		{name: "import mode PreserveOriginal", mutate: func(is *imagev1.ImageStream) {
			specTag(is, 0).ImportPolicy.ImportMode = imagev1.ImportModePreserveOriginal
		}},
		{name: "import mode unknown", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).ImportPolicy.ImportMode = "Everything" },
			want: []fe{inv("spec.tags[0].importPolicy.importMode")}},

		// status.
		{name: "status tag duplicate", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags = append(is.Status.Tags, is.Status.Tags[0])
		}, want: []fe{dup("status.tags[1].tag")}},
		{name: "status reference required", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append(is.Status.Tags[0].Items, imagev1.TagEvent{})
		}, want: []fe{req("status.tags[0].items[1].dockerImageReference")}},
		{name: "status reference must parse", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items[0].DockerImageReference = "Bad"
		}, want: []fe{inv("status.tags[0].items[0].dockerImageReference")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			is := validStream()
			tc.mutate(&is)
			checkErrors(t, ValidateImageStream(&is), tc.want...)
		})
	}
}

func TestValidateImageStreamUpdate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStream)
		want   []fe
	}{
		{name: "spec may change", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = is.Spec.Tags[:1]
			is.Spec.DockerImageRepository = "quay.io/ns/name"
		}},
		{name: "name is immutable", mutate: func(is *imagev1.ImageStream) { is.Name = "other" }, want: []fe{inv("metadata.name")}},
		{name: "new spec validated in full (D4)", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = "-x" },
			want: []fe{inv("spec.tags[0].name")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldIS := validStream()
			oldIS.ResourceVersion = "1"
			newIS := *oldIS.DeepCopy()
			tc.mutate(&newIS)
			checkErrors(t, ValidateImageStreamUpdate(&newIS, &oldIS), tc.want...)
		})
	}
}

func TestValidateImageStreamStatusUpdate(t *testing.T) {
	const legacyRef = "Registry:5000/NS/Name" // fails today's parser
	tests := []struct {
		name   string
		old    func(*imagev1.ImageStream)
		mutate func(*imagev1.ImageStream)
		want   []fe
	}{
		{name: "new valid event", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{DockerImageReference: "quay.io/ns/name@" + otherDigest, Image: otherDigest}}, is.Status.Tags[0].Items...)
		}},
		{name: "new invalid reference", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "v2", Items: []imagev1.TagEvent{{DockerImageReference: legacyRef}}})
		}, want: []fe{inv("status.tags[1].items[0].dockerImageReference")}},
		{name: "new empty reference", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append(is.Status.Tags[0].Items, imagev1.TagEvent{})
		}, want: []fe{req("status.tags[0].items[1].dockerImageReference")}},
		{name: "references already in the old status are not re-parsed", old: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append(is.Status.Tags[0].Items, imagev1.TagEvent{DockerImageReference: legacyRef})
		}, mutate: func(is *imagev1.ImageStream) {
			// The old reference moves to another tag: still not new.
			is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "v2", Items: []imagev1.TagEvent{{DockerImageReference: legacyRef}}})
		}},
		{name: "an old reference pushed down by new events is not re-parsed", old: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{DockerImageReference: legacyRef}}, is.Status.Tags[0].Items...)
		}, mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{
				{DockerImageReference: "quay.io/ns/name@" + otherDigest, Image: otherDigest},
				{DockerImageReference: "quay.io/ns/name:v2"},
			}, is.Status.Tags[0].Items[:1]...) // the oldest events dropped by a history limit
		}},
		{name: "an invalid reference added in front of old ones", old: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{DockerImageReference: legacyRef}}, is.Status.Tags[0].Items...)
		}, mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{DockerImageReference: "Bad:Ref"}}, is.Status.Tags[0].Items...)
		}, want: []fe{inv("status.tags[0].items[0].dockerImageReference")}},
		{name: "an old reference copied in front of a tag is not re-parsed", old: func(is *imagev1.ImageStream) {
			is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "v2", Items: []imagev1.TagEvent{{DockerImageReference: legacyRef}}})
		}, mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags[0].Items = append([]imagev1.TagEvent{{DockerImageReference: legacyRef}}, is.Status.Tags[0].Items...)
		}},
		{name: "spec is not validated here", mutate: func(is *imagev1.ImageStream) { specTag(is, 0).Name = "-x" }},
		{name: "status tags stay unique", mutate: func(is *imagev1.ImageStream) {
			is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "latest"})
		}, want: []fe{dup("status.tags[1].tag")}},
		{name: "metadata update rules", mutate: func(is *imagev1.ImageStream) { is.Namespace = "other" }, want: []fe{inv("metadata.namespace")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			oldIS := validStream()
			oldIS.ResourceVersion = "1"
			if tc.old != nil {
				tc.old(&oldIS)
			}
			newIS := *oldIS.DeepCopy()
			tc.mutate(&newIS)
			checkErrors(t, ValidateImageStreamStatusUpdate(&newIS, &oldIS), tc.want...)
		})
	}
}

func TestValidateImageStreamTagReference(t *testing.T) {
	// Paths follow the caller's: an ImageStreamTag validates at "tag".
	tag := imagev1.TagReference{
		Name:            "whatever:is:not:checked",
		From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "Bad"},
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
	}
	checkErrors(t, ValidateImageStreamTagReference(tag, field.NewPath("tag")), inv("tag.from.name"))
	tag.From.Name = "quay.io/ns/name:tag"
	checkErrors(t, ValidateImageStreamTagReference(tag, field.NewPath("tag")))
}

// docMapping is the documentation's example mapping (examples/mapping.yaml) with
// the image name its reference's digest, as D1 defaulting makes it.
func docMapping() imagev1.ImageStreamMapping {
	return imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Namespace: "test", Name: "origin-ruby-sample"},
		Image:      docImage(),
		Tag:        "latest",
	}
}

func TestValidateImageStreamMapping(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStreamMapping)
		want   []fe
	}{
		{name: "documentation example is valid", mutate: func(*imagev1.ImageStreamMapping) {}},

		// D1: defaulting happens in the strategy; validation
		// still requires the name.
		{name: "D1 image name required", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.Name = "" },
			want: []fe{req("image.metadata.name")}},

		// D2: name must equal the reference's digest.
		{name: "D2 name differs from reference digest", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.Name = otherDigest },
			want: []fe{inv("image.metadata.name")}},
		{name: "D2 reference without digest is not compared", mutate: func(m *imagev1.ImageStreamMapping) {
			m.Image.DockerImageReference = "172.30.56.218:5000/test/origin-ruby-sample:latest"
		}},
		{name: "D2 not reported on top of D5", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.Name = "foo" },
			want: []fe{inv("image.metadata.name")}},

		// D3: the mapping names a stream that could exist.
		{name: "D3 63 characters", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = strings.Repeat("a", 63) }},
		{name: "D3 64 characters is exactly one TooLong", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = strings.Repeat("a", 64) },
			want: []fe{tooLong("metadata.name")}},
		{name: "D3 stream-name pattern", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = "Origin" }, want: []fe{inv("metadata.name")}},
		{name: "D3 colon is not a stream name", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = "stream:tag" }, want: []fe{inv("metadata.name")}},
		{name: "name required, reported as the real server does", mutate: func(m *imagev1.ImageStreamMapping) { m.Name = "" },
			want: []fe{req("metadata.name"), req("name"), req("dockerImageRepository")}},
		{name: "invalid namespace reported twice as the real server does", mutate: func(m *imagev1.ImageStreamMapping) { m.Namespace = "Test" },
			want: []fe{inv("metadata.namespace"), inv("metadata.namespace")}},

		// D4: the tag.
		{name: "D4 tag required", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = "" }, want: []fe{req("tag")}},
		{name: "D4 tag 128 characters", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = strings.Repeat("t", 128) }},
		{name: "D4 tag 129 characters", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = strings.Repeat("t", 129) }, want: []fe{inv("tag")}},
		{name: "D4 tag with slash", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = "a/b" }, want: []fe{inv("tag")}},
		{name: "D4 tag leading dash", mutate: func(m *imagev1.ImageStreamMapping) { m.Tag = "-x" }, want: []fe{inv("tag")}},

		// D5 and the Image rules on the embedded image, under "image.".
		{name: "D5 image name must be a digest", mutate: func(m *imagev1.ImageStreamMapping) {
			m.Image.Name = "origin-ruby-sample"
			m.Image.DockerImageReference = "172.30.56.218:5000/test/origin-ruby-sample:latest"
		}, want: []fe{inv("image.metadata.name")}},
		{name: "image namespace forbidden", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.Namespace = "test" },
			want: []fe{forb("image.metadata.namespace")}},
		{name: "image reference required", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.DockerImageReference = "" },
			want: []fe{req("image.dockerImageReference")}},
		{name: "image reference must parse", mutate: func(m *imagev1.ImageStreamMapping) { m.Image.DockerImageReference = "x@sha256:abc" },
			want: []fe{inv("image.dockerImageReference")}},
		{name: "image manifests", mutate: func(m *imagev1.ImageStreamMapping) {
			mf := validManifest()
			mf.Digest = "nope"
			m.Image.DockerImageManifests = []imagev1.ImageManifest{mf}
		}, want: []fe{inv("image.dockerImageManifests[0].digest"), inv("image.dockerImageLayers")}},
		{name: "image signatures", mutate: func(m *imagev1.ImageStreamMapping) {
			s := validSignature()
			s.Type = ""
			m.Image.Signatures = []imagev1.ImageSignature{s}
		}, want: []fe{req("image.signatures[0].type")}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ism := docMapping()
			tc.mutate(&ism)
			checkErrors(t, ValidateImageStreamMapping(&ism), tc.want...)
		})
	}
}

func TestValidateImageStreamName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		prefix  bool
		wantBad bool
	}{
		{name: "simple", in: "ruby"},
		{name: "single separators", in: "a.b-c_d"},
		{name: "D3 63 characters", in: strings.Repeat("a", 63)},
		{name: "D3 64 characters", in: strings.Repeat("a", 64), wantBad: true},
		{name: "D3 uppercase", in: "Ruby", wantBad: true},
		{name: "D3 double separator", in: "a__b", wantBad: true},
		{name: "dot", in: ".", wantBad: true},
		{name: "percent", in: "a%b", wantBad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidateImageStreamName(tc.in, tc.prefix); (len(got) != 0) != tc.wantBad {
				t.Errorf("ValidateImageStreamName(%q) = %q, want invalid=%v", tc.in, got, tc.wantBad)
			}
		})
	}
}

func TestValidateImageName(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantBad bool
	}{
		{name: "D5 sha256", in: docDigest},
		{name: "D5 sha384", in: "sha384:" + strings.Repeat("0", 96)},
		{name: "D5 sha512", in: "sha512:" + strings.Repeat("0", 128)},
		{name: "D5 not a digest", in: "foo", wantBad: true},
		{name: "D5 wrong length", in: "sha512:" + strings.Repeat("0", 96), wantBad: true},
		{name: "D5 uppercase", in: "sha256:" + strings.ToUpper(docDigest[7:]), wantBad: true},
		{name: "path segment", in: "..", wantBad: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidateImageName(tc.in, false); (len(got) != 0) != tc.wantBad {
				t.Errorf("ValidateImageName(%q) = %q, want invalid=%v", tc.in, got, tc.wantBad)
			}
		})
	}
}

// TestDecisionMessages pins the few error texts the README's decisions spell
// out; they are part of the contract, unlike the other details.
func TestDecisionMessages(t *testing.T) {
	img := docImage()
	img.Name = "foo"
	ism := docMapping()
	ism.Image.Name = otherDigest
	is := validStream()
	is.Name = strings.Repeat("a", 64)

	tests := []struct {
		name string
		errs field.ErrorList
		want string
	}{
		{"D5", ValidateImage(&img), `metadata.name: Invalid value: "foo": must be a digest: sha256:<64 hex>, sha384:<96 hex> or sha512:<128 hex>`},
		{"D2", ValidateImageStreamMapping(&ism), `image.metadata.name: Invalid value: "` + otherDigest + `": must equal the digest of image.dockerImageReference (` + docDigest + `)`},
		{"D3", ValidateImageStream(&is), `metadata.name: Too long: may not be more than 63 bytes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.errs) != 1 {
				t.Fatalf("got %d errors, want 1: %v", len(tc.errs), tc.errs)
			}
			if got := tc.errs[0].Error(); got != tc.want {
				t.Errorf("error = %q, want %q", got, tc.want)
			}
		})
	}
}
