package fuzzing

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
)

// The seeds are the repository's examples and the kinds of objects the unit tests build: the
// documentation's mapping and its stream, images as the registry pushes them (schema1 signed,
// schema2, OCI index), pre012 metadata, signatures, and streams with every kind of spec tag.

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

	layerMediaType  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	configMediaType = "application/vnd.docker.container.image.v1+json"
	// imageConfig is a config blob as a registry stores it: snake_case outside, CamelCase inside.
	imageConfig = `{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09Z","docker_version":"24.0.7",` +
		`"author":"Jane","config":{"User":"1001","Env":["A=1"],"Cmd":["/run"]},"container_config":{},` +
		`"rootfs":{"type":"layers","diff_ids":[]}}`
)

// DocumentationMapping is examples/mapping.yaml: the ImageStreamMapping of the OpenShift
// documentation.
func DocumentationMapping(tb testing.TB) *imagev1.ImageStreamMapping {
	return decodeFile(tb, "examples/mapping.yaml", &imagev1.ImageStreamMapping{}).(*imagev1.ImageStreamMapping)
}

// ExampleStream is examples/imagestream.yaml, the stream DocumentationMapping tags into.
func ExampleStream(tb testing.TB) *imagev1.ImageStream {
	return decodeFile(tb, "examples/imagestream.yaml", &imagev1.ImageStream{}).(*imagev1.ImageStream)
}

func decodeFile(tb testing.TB, rel string, into runtime.Object) runtime.Object {
	tb.Helper()
	obj, err := Decode(YAML, RepoFile(tb, rel), into)
	if err != nil {
		tb.Fatalf("decode %s: %v", rel, err)
	}
	return obj
}

// MappingSeeds are mappings: the documentation's (with and without the image name, which D1
// derives from the reference), one carrying a pushed schema2 image of the integrated registry,
// and one without a reference, which the server defaults from the internal registry.
func MappingSeeds(tb testing.TB) []runtime.Object {
	doc := DocumentationMapping(tb)
	unnamed := doc.DeepCopy()
	unnamed.Image.Name = ""

	pushed := doc.DeepCopy()
	pushed.Tag = "v1.2"
	pushed.Image = *Schema2Image(tb)
	pushed.Image.Annotations = map[string]string{"openshift.io/image.managed": "true"}

	noReference := doc.DeepCopy()
	noReference.Tag = "noref"
	noReference.Image.DockerImageReference = ""
	return decoded(tb, doc, unnamed, pushed, noReference)
}

// ImageSeeds are images: the documentation's, images as the registry pushes them, pre012
// metadata and signatures.
func ImageSeeds(tb testing.TB) []runtime.Object {
	doc := DocumentationMapping(tb).Image.DeepCopy()
	doc.Name = doc.DockerImageReference[strings.LastIndex(doc.DockerImageReference, "@")+1:]
	return decoded(tb, doc, Schema2Image(tb), Schema1SignedImage(tb), IndexImage(tb), Pre012Image(), SignedImage())
}

// Schema2Image is a schema2 image as the registry sends it on push, without metadata.
func Schema2Image(tb testing.TB) *imagev1.Image {
	manifest := mustJSON(tb, map[string]any{
		"schemaVersion": 2,
		"mediaType":     imageutil.MediaTypeSchema2Manifest,
		"config":        map[string]any{"mediaType": configMediaType, "size": len(imageConfig), "digest": imageutil.Digest([]byte(imageConfig))},
		"layers": []map[string]any{
			{"mediaType": layerMediaType, "size": 100, "digest": "sha256:" + strings.Repeat("1", 64)},
			{"mediaType": layerMediaType, "size": 200, "digest": "sha256:" + strings.Repeat("2", 64)},
		},
	})
	name := imageutil.Digest([]byte(manifest))
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: name},
		DockerImageReference: Hostnames.InternalRepository("test", "origin-ruby-sample") + "@" + name,
		DockerImageManifest:  manifest,
		DockerImageConfig:    imageConfig,
	}
}

// Schema1SignedImage carries a signed (JWS) schema1 manifest, newest layer first.
func Schema1SignedImage(tb testing.TB) *imagev1.Image {
	v1c := func(v map[string]any) map[string]string { return map[string]string{"v1Compatibility": mustJSON(tb, v)} }
	payload, err := json.MarshalIndent(map[string]any{
		"schemaVersion": 1, "name": "ns/app", "tag": "latest", "architecture": "amd64",
		"fsLayers": []map[string]string{
			{"blobSum": "sha256:" + strings.Repeat("c", 64)},
			{"blobSum": "sha256:" + strings.Repeat("b", 64)},
		},
		"history": []map[string]string{
			v1c(map[string]any{"id": "top", "parent": "base", "created": "2015-03-04T05:06:07Z", "docker_version": "1.6.0",
				"config": map[string]any{"Cmd": []string{"/run"}}, "size": 30}),
			v1c(map[string]any{"id": "base", "size": 10}),
		},
	}, "", "   ")
	if err != nil {
		tb.Fatal(err)
	}
	// A libtrust signature replaces the payload's closing "\n}"; the protected header records
	// it as formatTail.
	p := string(payload)
	formatLength := strings.LastIndex(p, "\n}")
	protected := fmt.Sprintf(`{"formatLength":%d,"formatTail":%q,"time":"2016-01-01T00:00:00Z"}`,
		formatLength, base64.RawURLEncoding.EncodeToString([]byte(p[formatLength:])))
	signed := p[:formatLength] + `,
   "signatures": [{"header": {"alg": "ES256"}, "signature": "c2lnbmF0dXJl", "protected": "` +
		base64.RawURLEncoding.EncodeToString([]byte(protected)) + `"}]
}`
	name := imageutil.Digest([]byte(p))
	return &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: name},
		DockerImageReference:         "quay.io/ns/app@" + name,
		DockerImageManifest:          signed,
		DockerImageManifestMediaType: imageutil.MediaTypeSchema1SignedManifest,
	}
}

// IndexImage is an OCI image index: dockerImageManifests are derived from it.
func IndexImage(tb testing.TB) *imagev1.Image {
	manifest := mustJSON(tb, map[string]any{
		"schemaVersion": 2,
		"mediaType":     imageutil.MediaTypeOCIIndex,
		"manifests": []map[string]any{
			{"mediaType": imageutil.MediaTypeOCIManifest, "size": 512, "digest": digestA, "platform": map[string]string{"architecture": "amd64", "os": "linux"}},
			{"mediaType": imageutil.MediaTypeOCIManifest, "size": 498, "digest": digestB, "platform": map[string]string{"architecture": "arm64", "os": "linux", "variant": "v8"}},
		},
	})
	name := imageutil.Digest([]byte(manifest))
	return &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "a"}},
		DockerImageReference:         "quay.io/ns/multi@" + name,
		DockerImageManifest:          manifest,
		DockerImageManifestMediaType: imageutil.MediaTypeOCIIndex,
	}
}

// Pre012Image has metadata in the pre012 shape (snake_case top-level keys).
func Pre012Image() *imagev1.Image {
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digestA},
		DockerImageReference: "registry.example.com/old/app@" + digestA,
		DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012",` +
			`"id":"abc","created":"2014-01-02T03:04:05Z","container_config":{"Cmd":["/bin/sh"]},"config":{"User":"0"},"architecture":"amd64","size":12}`)},
		DockerImageMetadataVersion: imageutil.MetadataVersionPre012,
		DockerImageLayers:          []imagev1.ImageLayer{{Name: digestB, LayerSize: 12, MediaType: layerMediaType}},
	}
}

// SignedImage carries a verified signature with its conditions and claims.
func SignedImage() *imagev1.Image {
	probed := metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC))
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digestB, Annotations: map[string]string{"a": "b"}},
		DockerImageReference: "quay.io/ns/signed:v1",
		Signatures: []imagev1.ImageSignature{{
			ObjectMeta: metav1.ObjectMeta{Name: digestB + "@sig1"},
			Type:       imagev1.ImageSignatureTypeAtomicImageV1,
			Content:    []byte("blob"),
			Conditions: []imagev1.SignatureCondition{
				{Type: "Trusted", Status: corev1.ConditionTrue, LastProbeTime: probed, LastTransitionTime: probed},
				{Type: "ForImage", Status: corev1.ConditionTrue, LastProbeTime: probed, LastTransitionTime: probed},
			},
			ImageIdentity: "quay.io/ns/signed:v1",
			SignedClaims:  map[string]string{"creator": "me"},
			IssuedBy:      &imagev1.SignatureIssuer{SignatureGenericEntity: imagev1.SignatureGenericEntity{Organization: "Org", CommonName: "CA"}},
			IssuedTo:      &imagev1.SignatureSubject{PublicKeyID: "key"},
		}},
	}
}

// StreamSeeds are streams: the example, and one with every kind of spec tag (a referenced
// pull spec by digest, a scheduled import, a tag following another tag of the stream, an
// ImageStreamImage, a local reference policy), labels, annotations and a client status that
// create discards.
func StreamSeeds(tb testing.TB) []runtime.Object {
	example := ExampleStream(tb)
	tagged := example.DeepCopy()
	tagged.Name = "tagged"
	tagged.Labels = map[string]string{"app": "ruby"}
	tagged.Annotations = map[string]string{"openshift.io/display-name": "Ruby"}
	tagged.Spec.DockerImageRepository = "quay.io/ns/app"
	tagged.Spec.LookupPolicy.Local = true
	gen := int64(3)
	tagged.Spec.Tags = []imagev1.TagReference{
		{Name: "pinned", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/ns/app@" + digestA}, Reference: true,
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}},
		{Name: "nightly", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "quay.io/ns/app:nightly"},
			ImportPolicy: imagev1.TagImportPolicy{Scheduled: true, ImportMode: imagev1.ImportModePreserveOriginal}},
		{Name: "latest", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "pinned"}, Generation: &gen,
			Annotations: map[string]string{"description": "follows pinned"}},
		{Name: "byid", From: &corev1.ObjectReference{Kind: "ImageStreamImage", Name: "tagged@" + digestA[:15]}},
		{Name: "empty"},
	}
	tagged.Status.Tags = []imagev1.NamedTagEventList{{Tag: "old", Items: []imagev1.TagEvent{{
		Created: metav1.NewTime(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)), DockerImageReference: "quay.io/ns/app@" + digestB, Image: digestB, Generation: 1,
	}}}}
	return decoded(tb, example, tagged)
}

// decoded returns the objects as the server decodes them from JSON, with defaults applied.
func decoded(tb testing.TB, objs ...runtime.Object) []runtime.Object {
	tb.Helper()
	out := make([]runtime.Object, 0, len(objs))
	for _, obj := range objs {
		body, err := Encode(JSON, obj)
		if err != nil {
			tb.Fatalf("encode seed %T: %v", obj, err)
		}
		back, err := Decode(JSON, body, newLike(obj))
		if err != nil {
			tb.Fatalf("decode seed %T: %v", obj, err)
		}
		out = append(out, back)
	}
	return out
}

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}
