package imageutil

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

const (
	layerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	ociLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip"
)

// testConfig is a Docker image config as a registry stores it: snake_case outside, CamelCase
// inside, plus fields (os, rootfs, history, Healthcheck) the metadata does not keep.
const testConfig = `{"architecture":"arm64","os":"linux","author":"Jane","created":"2024-05-06T07:08:09.123456789Z",` +
	`"docker_version":"24.0.7","container":"c0ffee",` +
	`"config":{"User":"1001","Env":["PATH=/usr/bin","A=1"],"Cmd":["/bin/run","--flag"],"Entrypoint":["/entry"],` +
	`"ExposedPorts":{"8080/tcp":{}},"Labels":{"io.k8s.display-name":"test"},"WorkingDir":"/app","Healthcheck":{"Test":["NONE"]}},` +
	`"container_config":{"Cmd":["/bin/sh","-c","#(nop) build"]},` +
	`"rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111"]},"history":[{"created_by":"x"}]}`

var (
	layer1 = "sha256:" + strings.Repeat("1", 64)
	layer2 = "sha256:" + strings.Repeat("2", 64)
)

// schema2Fixture builds a schema2 (or OCI) manifest around testConfig. The layers are layer1
// (100 bytes), layer2 (200), layer1 again and a layer whose digest is the config's, so the size
// rule's "distinct" and "skip the config" clauses both matter.
func schema2Fixture(t *testing.T, mediaType, layerMediaType string) (manifest, configDigest string) {
	t.Helper()
	configDigest = Digest([]byte(testConfig))
	m := map[string]any{
		"schemaVersion": 2,
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(testConfig), "digest": configDigest},
		"layers": []map[string]any{
			{"mediaType": layerMediaType, "size": 100, "digest": layer1},
			{"mediaType": layerMediaType, "size": 200, "digest": layer2},
			{"mediaType": layerMediaType, "size": 100, "digest": layer1},
			{"mediaType": layerMediaType, "size": 999, "digest": configDigest},
		},
	}
	if mediaType != "" {
		m["mediaType"] = mediaType
	}
	data, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data), configDigest
}

// wantConfigMetadata is what testConfig derives to (Created at the second precision the API
// stores).
func wantConfigMetadata(id string, size int64) *docker10.DockerImage {
	return &docker10.DockerImage{
		ID:            id,
		Created:       metav1.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
		Container:     "c0ffee",
		DockerVersion: "24.0.7",
		Author:        "Jane",
		Architecture:  "arm64",
		Size:          size,
		ContainerConfig: docker10.DockerConfig{
			Cmd: []string{"/bin/sh", "-c", "#(nop) build"},
		},
		Config: &docker10.DockerConfig{
			User:         "1001",
			Env:          []string{"PATH=/usr/bin", "A=1"},
			Cmd:          []string{"/bin/run", "--flag"},
			Entrypoint:   []string{"/entry"},
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Labels:       map[string]string{"io.k8s.display-name": "test"},
			WorkingDir:   "/app",
		},
	}
}

// schema1Fixture builds a schema1 manifest whose fsLayers/history list the newest layer first.
func schema1Fixture(t *testing.T) string {
	t.Helper()
	v1c := func(v map[string]any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	m := map[string]any{
		"schemaVersion": 1,
		"name":          "ns/app",
		"tag":           "latest",
		"architecture":  "amd64",
		"fsLayers": []map[string]string{
			{"blobSum": "sha256:" + strings.Repeat("c", 64)},
			{"blobSum": "sha256:" + strings.Repeat("b", 64)},
			{"blobSum": "sha256:" + strings.Repeat("a", 64)},
		},
		"history": []map[string]string{
			{"v1Compatibility": v1c(map[string]any{
				"id": "top", "parent": "middle", "created": "2015-03-04T05:06:07Z", "architecture": "amd64",
				"docker_version": "1.6.0", "container": "ctr", "author": "Bob", "comment": "hi",
				"config":           map[string]any{"Cmd": []string{"/run"}, "Env": []string{"X=1"}},
				"container_config": map[string]any{"Cmd": []string{"/bin/sh"}},
				"size":             30,
			})},
			{"v1Compatibility": v1c(map[string]any{"id": "middle", "parent": "base", "size": 20})},
			{"v1Compatibility": v1c(map[string]any{"id": "base", "size": 10})},
		},
	}
	b, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// metadataOf decodes the image's metadata, failing the test on error.
func metadataOf(t *testing.T, img *imagev1.Image) *docker10.DockerImage {
	t.Helper()
	meta, err := DockerImageMetadata(img)
	if err != nil {
		t.Fatalf("DockerImageMetadata: %v", err)
	}
	return meta
}

// withMetadata returns an image carrying meta canonically in version 1.0.
func withMetadata(t *testing.T, img *imagev1.Image, meta *docker10.DockerImage) *imagev1.Image {
	t.Helper()
	if err := SetDockerImageMetadata(img, meta); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestImageWithMetadata(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	defer func(orig func() time.Time) { now = orig }(now)
	now = func() time.Time { return fixed }

	s2, configDigest := schema2Fixture(t, MediaTypeSchema2Manifest, layerGzip)
	s2NoType, _ := schema2Fixture(t, "", layerGzip)
	oci, _ := schema2Fixture(t, MediaTypeOCIManifest, ociLayerGzip)
	s1 := schema1Fixture(t)
	configSize := int64(len(testConfig))
	ascending := map[string]string{imagev1.DockerImageLayersOrderAnnotation: imagev1.DockerImageLayersOrderAscending}
	derivedLayers := func(mt string) []imagev1.ImageLayer {
		return []imagev1.ImageLayer{
			{Name: layer1, LayerSize: 100, MediaType: mt},
			{Name: layer2, LayerSize: 200, MediaType: mt},
			{Name: layer1, LayerSize: 100, MediaType: mt},
			{Name: configDigest, LayerSize: 999, MediaType: mt},
		}
	}
	index := `{"schemaVersion":2,"mediaType":"` + MediaTypeOCIIndex + `","manifests":[{"mediaType":"` + MediaTypeOCIManifest + `","size":10,"digest":"` + layer1 + `","platform":{"architecture":"amd64","os":"linux"}}]}`

	tests := []struct {
		name       string
		img        *imagev1.Image
		wantErr    string
		wantMeta   *docker10.DockerImage
		wantLayers []imagev1.ImageLayer
		wantType   string
		wantAnn    map[string]string
		wantVer    string
	}{
		{
			name:     "no manifest is a no-op",
			img:      &imagev1.Image{DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{"Id":"kept","Size":5}`)}},
			wantMeta: &docker10.DockerImage{ID: "kept", Size: 5},
		},
		{
			name:       "schema2 derives everything",
			img:        &imagev1.Image{DockerImageManifest: s2, DockerImageConfig: testConfig},
			wantMeta:   wantConfigMetadata(configDigest, configSize+100+200),
			wantLayers: derivedLayers(layerGzip),
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name:       "schema2 without mediaType keeps the declared type",
			img:        &imagev1.Image{DockerImageManifest: s2NoType, DockerImageConfig: testConfig, DockerImageManifestMediaType: "application/custom"},
			wantMeta:   wantConfigMetadata(configDigest, configSize+300),
			wantLayers: derivedLayers(layerGzip),
			wantType:   "application/custom",
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name:       "schema2 without any type defaults to docker schema2",
			img:        &imagev1.Image{DockerImageManifest: s2NoType, DockerImageConfig: testConfig},
			wantMeta:   wantConfigMetadata(configDigest, configSize+300),
			wantLayers: derivedLayers(layerGzip),
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name:       "OCI manifest",
			img:        &imagev1.Image{DockerImageManifest: oci, DockerImageConfig: testConfig},
			wantMeta:   wantConfigMetadata(configDigest, configSize+300),
			wantLayers: derivedLayers(ociLayerGzip),
			wantType:   MediaTypeOCIManifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name: "pre012 image keeps its version",
			img:  &imagev1.Image{DockerImageManifest: s2, DockerImageConfig: testConfig, DockerImageMetadataVersion: "pre012"},
			// Stored in pre012, read back converted.
			wantMeta:   wantConfigMetadata(configDigest, configSize+300),
			wantLayers: derivedLayers(layerGzip),
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "pre012",
		},
		{
			name: "supplied descending layers are reversed, sizes from them",
			img: &imagev1.Image{
				DockerImageManifest: s2, DockerImageConfig: testConfig, DockerImageManifestMediaType: MediaTypeSchema2Manifest,
				DockerImageLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			},
			wantMeta:   wantConfigMetadata(configDigest, configSize+3),
			wantLayers: []imagev1.ImageLayer{{Name: layer1, LayerSize: 1}, {Name: layer2, LayerSize: 2}},
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name: "explicit ascending annotation is honoured",
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Annotations: map[string]string{imagev1.DockerImageLayersOrderAnnotation: "ascending"}},
				DockerImageManifest: s2, DockerImageConfig: testConfig, DockerImageManifestMediaType: MediaTypeSchema2Manifest,
				DockerImageLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			},
			wantMeta:   wantConfigMetadata(configDigest, configSize+3),
			wantLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			// Without annotation and without a known declared type the order is unknown: the
			// layers stay as sent and no annotation is added (real-server behaviour).
			name: "supplied layers with undeclared type are left alone",
			img: &imagev1.Image{
				DockerImageManifest: s2, DockerImageConfig: testConfig,
				DockerImageLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			},
			wantMeta:   wantConfigMetadata(configDigest, configSize+3),
			wantLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			wantType:   MediaTypeSchema2Manifest,
			wantVer:    "1.0",
		},
		{
			name: "already derived: only the layer order is fixed",
			img: withMetadata(t, &imagev1.Image{
				DockerImageManifest: s2, DockerImageConfig: testConfig, DockerImageManifestMediaType: MediaTypeSchema2Manifest,
				DockerImageLayers: []imagev1.ImageLayer{{Name: layer2, LayerSize: 2}, {Name: layer1, LayerSize: 1}},
			}, &docker10.DockerImage{ID: "as-sent", Size: 12345}),
			wantMeta:   &docker10.DockerImage{ID: "as-sent", Size: 12345},
			wantLayers: []imagev1.ImageLayer{{Name: layer1, LayerSize: 1}, {Name: layer2, LayerSize: 2}},
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
			wantVer:    "1.0",
		},
		{
			name:       "schema2 without config fails after filling layers",
			img:        &imagev1.Image{DockerImageManifest: s2},
			wantErr:    `dockerImageConfig must not be empty for manifest type "application/vnd.docker.distribution.manifest.v2+json"`,
			wantLayers: derivedLayers(layerGzip),
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
		},
		{
			name:    "schema2 with bad config",
			img:     &imagev1.Image{DockerImageManifest: s2, DockerImageConfig: `{"created":1}`},
			wantErr: "failed to parse dockerImageConfig",
			// layers and type were already set
			wantLayers: derivedLayers(layerGzip),
			wantType:   MediaTypeSchema2Manifest,
			wantAnn:    ascending,
		},
		{
			name: "schema1 derives from history[0] and reverses layers",
			img:  &imagev1.Image{DockerImageManifest: s1},
			wantMeta: &docker10.DockerImage{
				ID: "top", Parent: "middle", Comment: "hi", Container: "ctr", DockerVersion: "1.6.0", Author: "Bob",
				Architecture:    "amd64",
				Created:         metav1.NewTime(time.Date(2015, 3, 4, 5, 6, 7, 0, time.UTC)),
				ContainerConfig: docker10.DockerConfig{Cmd: []string{"/bin/sh"}},
				Config:          &docker10.DockerConfig{Cmd: []string{"/run"}, Env: []string{"X=1"}},
				Size:            60,
			},
			wantLayers: []imagev1.ImageLayer{
				{Name: "sha256:" + strings.Repeat("a", 64), LayerSize: 10, MediaType: MediaTypeSchema1Layer},
				{Name: "sha256:" + strings.Repeat("b", 64), LayerSize: 20, MediaType: MediaTypeSchema1Layer},
				{Name: "sha256:" + strings.Repeat("c", 64), LayerSize: 30, MediaType: MediaTypeSchema1Layer},
			},
			wantType: MediaTypeSchema1Manifest,
			wantAnn:  ascending,
			wantVer:  "1.0",
		},
		{
			name:    "schema1 with mismatched history",
			img:     &imagev1.Image{DockerImageManifest: `{"schemaVersion":1,"fsLayers":[{"blobSum":"a"}],"history":[]}`},
			wantErr: "mismatched history and fsLayers cardinality (0 != 1)",
		},
		{
			name:    "unknown schema version",
			img:     &imagev1.Image{DockerImageManifest: `{"schemaVersion":3}`},
			wantErr: "unrecognized container image manifest schema 3",
		},
		{
			name:    "manifest is not JSON",
			img:     &imagev1.Image{DockerImageManifest: `not json`},
			wantErr: "cannot parse dockerImageManifest",
		},
		{
			name: "manifest list sets only Id and Created",
			img: withMetadata(t, &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("f", 64)},
				DockerImageManifest: index,
			}, &docker10.DockerImage{Architecture: "kept"}),
			wantMeta: &docker10.DockerImage{ID: "sha256:" + strings.Repeat("f", 64), Created: metav1.NewTime(fixed), Architecture: "kept"},
			wantVer:  "1.0",
		},
		{
			name: "OCI index without mediaType recognised by the declared type",
			img: &imagev1.Image{
				ObjectMeta:                   metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("f", 64)},
				DockerImageManifest:          `{"schemaVersion":2,"manifests":[]}`,
				DockerImageManifestMediaType: MediaTypeOCIIndex,
			},
			wantMeta: &docker10.DockerImage{ID: "sha256:" + strings.Repeat("f", 64), Created: metav1.NewTime(fixed)},
			wantType: MediaTypeOCIIndex,
			wantVer:  "1.0",
		},
		{
			name:    "unreadable metadata is a MetadataError",
			img:     &imagev1.Image{DockerImageManifest: s2, DockerImageMetadataVersion: "2.0"},
			wantErr: `dockerImageMetadataVersion "2.0" is not supported`,
			wantVer: "2.0",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img.DeepCopy()
			err := ImageWithMetadata(img)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
				}
			} else if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantMeta != nil || tc.wantErr == "" {
				if diff := cmp.Diff(tc.wantMeta, metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
			}
			if diff := cmp.Diff(tc.wantLayers, img.DockerImageLayers); diff != "" {
				t.Errorf("layers (-want +got):\n%s", diff)
			}
			if img.DockerImageManifestMediaType != tc.wantType {
				t.Errorf("media type = %q, want %q", img.DockerImageManifestMediaType, tc.wantType)
			}
			if diff := cmp.Diff(tc.wantAnn, img.Annotations); diff != "" {
				t.Errorf("annotations (-want +got):\n%s", diff)
			}
			if img.DockerImageMetadataVersion != tc.wantVer {
				t.Errorf("version = %q, want %q", img.DockerImageMetadataVersion, tc.wantVer)
			}
			if img.DockerImageMetadata.Object != nil {
				t.Errorf("Object must stay nil")
			}
		})
	}
}

// TestImageWithMetadataPre012Raw checks that derived metadata of a pre012 image is stored in
// pre012 form (snake_case), as the real server encodes the stored version.
func TestImageWithMetadataPre012Raw(t *testing.T) {
	s2, _ := schema2Fixture(t, MediaTypeSchema2Manifest, layerGzip)
	img := &imagev1.Image{DockerImageManifest: s2, DockerImageConfig: testConfig, DockerImageMetadataVersion: "pre012"}
	if err := ImageWithMetadata(img); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(img.DockerImageMetadata.Raw), `{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012","id":"sha256:`) {
		t.Errorf("raw = %s", img.DockerImageMetadata.Raw)
	}
}

func TestPrepareImageForCreate(t *testing.T) {
	fixed := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	defer func(orig func() time.Time) { now = orig }(now)
	now = func() time.Time { return fixed }

	s2, configDigest := schema2Fixture(t, MediaTypeSchema2Manifest, layerGzip)
	name := Digest([]byte(s2))
	ociIndex := `{"schemaVersion":2,"mediaType":"` + MediaTypeOCIIndex + `","manifests":[` +
		`{"mediaType":"` + MediaTypeOCIManifest + `","size":527,"digest":"` + layer1 + `","platform":{"architecture":"amd64","os":"linux"}},` +
		`{"mediaType":"` + MediaTypeOCIManifest + `","size":528,"digest":"` + layer2 + `","platform":{"architecture":"arm","os":"linux","variant":"v7"}}]}`
	dockerList := `{"schemaVersion":2,"mediaType":"` + MediaTypeManifestList + `","manifests":[` +
		`{"mediaType":"` + MediaTypeSchema2Manifest + `","size":1,"digest":"` + layer1 + `","platform":{"architecture":"ppc64le","os":"linux"}}]}`
	wantIndexManifests := []imagev1.ImageManifest{
		{Digest: layer1, MediaType: MediaTypeOCIManifest, ManifestSize: 527, Architecture: "amd64", OS: "linux"},
		{Digest: layer2, MediaType: MediaTypeOCIManifest, ManifestSize: 528, Architecture: "arm", OS: "linux", Variant: "v7"},
	}
	signatures := []imagev1.ImageSignature{{
		ObjectMeta: metav1.ObjectMeta{Name: name + "@sig", Annotations: map[string]string{
			"image.openshift.io/managed-signature": "true", "keep": "me",
		}},
		Type: "AtomicImageV1", Content: []byte("x"),
	}}

	tests := []struct {
		name      string
		img       *imagev1.Image
		check     func(t *testing.T, img *imagev1.Image)
		wantErr   string
		metaError bool
	}{
		{
			name: "manifestBlobStored clears manifest and config after deriving",
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}},
				DockerImageManifest: s2, DockerImageConfig: testConfig,
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" || img.DockerImageConfig != "" {
					t.Errorf("manifest/config not cleared")
				}
				if diff := cmp.Diff(wantConfigMetadata(configDigest, int64(len(testConfig))+300), metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				if img.DockerImageManifestMediaType != MediaTypeSchema2Manifest || len(img.DockerImageLayers) != 4 {
					t.Errorf("media type %q, %d layers", img.DockerImageManifestMediaType, len(img.DockerImageLayers))
				}
			},
		},
		{
			name: "manifestBlobStored other than true keeps them",
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "false"}},
				DockerImageManifest: s2, DockerImageConfig: testConfig,
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != s2 || img.DockerImageConfig != testConfig {
					t.Errorf("manifest/config cleared")
				}
			},
		},
		{
			name: "OCI index fills dockerImageManifests",
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("e", 64)},
				DockerImageManifest: ociIndex, DockerImageManifestMediaType: MediaTypeOCIIndex,
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff(wantIndexManifests, img.DockerImageManifests); diff != "" {
					t.Errorf("manifests (-want +got):\n%s", diff)
				}
				want := &docker10.DockerImage{ID: "sha256:" + strings.Repeat("e", 64), Created: metav1.NewTime(fixed)}
				if diff := cmp.Diff(want, metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				if img.DockerImageLayers != nil {
					t.Errorf("layers = %v", img.DockerImageLayers)
				}
			},
		},
		{
			name: "OCI index without declared type is sniffed",
			img:  &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "n"}, DockerImageManifest: ociIndex},
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff(wantIndexManifests, img.DockerImageManifests); diff != "" {
					t.Errorf("manifests (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "Docker manifest list fills dockerImageManifests",
			img:  &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "n"}, DockerImageManifest: dockerList, DockerImageManifestMediaType: MediaTypeManifestList},
			check: func(t *testing.T, img *imagev1.Image) {
				want := []imagev1.ImageManifest{{Digest: layer1, MediaType: MediaTypeSchema2Manifest, ManifestSize: 1, Architecture: "ppc64le", OS: "linux"}}
				if diff := cmp.Diff(want, img.DockerImageManifests); diff != "" {
					t.Errorf("manifests (-want +got):\n%s", diff)
				}
			},
		},
		{
			name: "a list declared as another type is not expanded",
			img:  &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "n"}, DockerImageManifest: dockerList, DockerImageManifestMediaType: MediaTypeOCIIndex},
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifests != nil {
					t.Errorf("manifests = %v", img.DockerImageManifests)
				}
			},
		},
		{
			name: "managed-signature annotation removed, others kept",
			img:  &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}, Signatures: signatures},
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff(map[string]string{"keep": "me"}, img.Signatures[0].Annotations); diff != "" {
					t.Errorf("annotations (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:    "derivation error is returned but the other steps still run",
			wantErr: "dockerImageConfig must not be empty",
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}},
				DockerImageManifest: s2, Signatures: signatures,
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" {
					t.Errorf("manifest not cleared")
				}
				if _, ok := img.Signatures[0].Annotations["image.openshift.io/managed-signature"]; ok {
					t.Errorf("managed-signature kept")
				}
				if string(img.DockerImageMetadata.Raw) == "" || img.DockerImageMetadataVersion != "1.0" {
					t.Errorf("metadata not normalized: %q %q", img.DockerImageMetadata.Raw, img.DockerImageMetadataVersion)
				}
			},
		},
		{
			name:      "unknown metadata version is a MetadataError and changes nothing",
			wantErr:   `dockerImageMetadataVersion "2.0" is not supported: use "1.0" or "pre012"`,
			metaError: true,
			img: &imagev1.Image{
				ObjectMeta:          metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}},
				DockerImageManifest: s2, DockerImageConfig: testConfig,
				DockerImageMetadataVersion: "2.0", DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{}`)},
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != s2 {
					t.Errorf("image was modified")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.img.DeepCopy()
			err := PrepareImageForCreate(img)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			var me *MetadataError
			if got := errors.As(err, &me); got != tc.metaError {
				t.Errorf("errors.As(*MetadataError) = %v, want %v", got, tc.metaError)
			}
			if err == nil && img.DockerImageMetadata.Object != nil {
				t.Errorf("Object must be nil")
			}
			tc.check(t, img)
		})
	}
}

// TestPrepareImageForCreateDocumentationSample: without a manifest nothing is derived, so the
// sample's layers (duplicates, no media types) and metadata are kept as sent, as OpenShift
// keeps them.
func TestPrepareImageForCreateDocumentationSample(t *testing.T) {
	data, err := os.ReadFile("testdata/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ism imagev1.ImageStreamMapping
	if err := yaml.Unmarshal(data, &ism); err != nil {
		t.Fatal(err)
	}
	img := ism.Image.DeepCopy()
	if err := PrepareImageForCreate(img); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ism.Image.DockerImageLayers, img.DockerImageLayers); diff != "" {
		t.Errorf("layers (-sent +stored):\n%s", diff)
	}
	if img.Annotations != nil {
		t.Errorf("annotations = %v", img.Annotations)
	}
	if meta := metadataOf(t, img); meta.Size != 441976279 || meta.ID != "9d7fd5e2d15495802028c569d544329f4286dcd1c9c085ff5699218dbaa69b43" {
		t.Errorf("metadata Size %d ID %q", meta.Size, meta.ID)
	}
}

// signedSchema1 wraps an unsigned schema1 payload in a JWS "pretty" signature the way
// libtrust does: the signature block replaces the payload's closing "\n}", which the
// protected header records as formatTail.
func signedSchema1(payload string) string {
	formatLength := strings.LastIndex(payload, "\n}")
	tail := payload[formatLength:]
	protected := fmt.Sprintf(`{"formatLength":%d,"formatTail":%q,"time":"2016-01-01T00:00:00Z"}`,
		formatLength, base64.RawURLEncoding.EncodeToString([]byte(tail)))
	return payload[:formatLength] + `,
   "signatures": [
      {
         "header": {"alg": "ES256"},
         "signature": "c2lnbmF0dXJl",
         "protected": "` + base64.RawURLEncoding.EncodeToString([]byte(protected)) + `"
      }
   ]
}`
}

func TestPrepareImageForUpdate(t *testing.T) {
	s2, configDigest := schema2Fixture(t, MediaTypeSchema2Manifest, layerGzip)
	s2Name := Digest([]byte(s2))
	s1 := schema1Fixture(t)
	s1Signed := signedSchema1(s1)
	s1Name := Digest([]byte(s1))
	otherConfig := `{"architecture":"s390x"}`
	storedMeta := &docker10.DockerImage{ID: "stored", Size: 77}

	// stored returns an image as the registry leaves it: derived, blobs cleared.
	stored := func(name, mediaType, manifest, config string) *imagev1.Image {
		img := &imagev1.Image{
			ObjectMeta:                   metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.DockerImageLayersOrderAnnotation: "ascending"}},
			DockerImageReference:         "registry/ns/app@" + name,
			DockerImageManifestMediaType: mediaType,
			DockerImageManifest:          manifest,
			DockerImageConfig:            config,
			DockerImageLayers:            []imagev1.ImageLayer{{Name: layer1, LayerSize: 10, MediaType: layerGzip}},
			DockerImageSignatures:        [][]byte{[]byte("stored-sig")},
		}
		return withMetadata(t, img, storedMeta)
	}

	tests := []struct {
		name    string
		old     *imagev1.Image
		mutate  func(img *imagev1.Image)
		check   func(t *testing.T, img *imagev1.Image)
		wantErr string
	}{
		{
			name: "metadata, version, layers and dockerImageSignatures are reset",
			old:  stored(s2Name, MediaTypeSchema2Manifest, "", ""),
			mutate: func(img *imagev1.Image) {
				_ = SetDockerImageMetadata(img, &docker10.DockerImage{ID: "client"})
				img.DockerImageMetadataVersion = "pre012"
				img.DockerImageLayers = []imagev1.ImageLayer{{Name: "client"}}
				img.DockerImageSignatures = [][]byte{[]byte("client-sig")}
				img.DockerImageReference = "elsewhere/ns/app@" + s2Name
				img.Labels = map[string]string{"new": "label"}
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff(storedMeta, metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				if img.DockerImageMetadataVersion != "1.0" {
					t.Errorf("version = %q", img.DockerImageMetadataVersion)
				}
				if diff := cmp.Diff([]imagev1.ImageLayer{{Name: layer1, LayerSize: 10, MediaType: layerGzip}}, img.DockerImageLayers); diff != "" {
					t.Errorf("layers (-want +got):\n%s", diff)
				}
				if diff := cmp.Diff([][]byte{[]byte("stored-sig")}, img.DockerImageSignatures); diff != "" {
					t.Errorf("signatures (-want +got):\n%s", diff)
				}
				// Mutable fields survive.
				if img.DockerImageReference != "elsewhere/ns/app@"+s2Name || img.Labels["new"] != "label" {
					t.Errorf("mutable fields lost: %q %v", img.DockerImageReference, img.Labels)
				}
			},
		},
		{
			name: "dockerImageSignatures may be set when none are stored",
			old: func() *imagev1.Image {
				img := stored(s2Name, MediaTypeSchema2Manifest, "", "")
				img.DockerImageSignatures = nil
				return img
			}(),
			mutate: func(img *imagev1.Image) { img.DockerImageSignatures = [][]byte{[]byte("client-sig")} },
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff([][]byte{[]byte("client-sig")}, img.DockerImageSignatures); diff != "" {
					t.Errorf("signatures (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "manifest matching the name is kept and re-derived",
			old:    stored(s2Name, MediaTypeSchema2Manifest, "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s2 },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != s2 {
					t.Errorf("manifest reverted")
				}
				// Stored layers are kept and stored Size > 0: already derived, so derivation stops
				// early.
				if diff := cmp.Diff(storedMeta, metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "manifest not matching the name is reverted",
			old:    stored(s2Name, MediaTypeSchema2Manifest, "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s2 + " " },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" {
					t.Errorf("manifest kept: %q", img.DockerImageManifest)
				}
			},
			wantErr: "",
		},
		{
			name:   "manifest may be cleared",
			old:    stored(s2Name, MediaTypeSchema2Manifest, s2, testConfig),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = "" },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" {
					t.Errorf("manifest = %q", img.DockerImageManifest)
				}
			},
		},
		{
			name:   "manifest of an image whose name is not a digest is reverted",
			old:    stored("not-a-digest", MediaTypeSchema2Manifest, "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s2 },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" {
					t.Errorf("manifest kept")
				}
			},
			wantErr: `invalid digest "not-a-digest"`,
		},
		{
			name:   "signed schema1 manifest is verified over its canonical payload",
			old:    stored(s1Name, MediaTypeSchema1SignedManifest, "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s1Signed },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != s1Signed {
					t.Errorf("manifest reverted")
				}
			},
		},
		{
			name:   "schema1 with unset stored media type",
			old:    stored(s1Name, "", "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s1 },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != s1 {
					t.Errorf("manifest reverted")
				}
			},
		},
		{
			name:   "manifest of an unsupported stored media type is reverted",
			old:    stored(s2Name, MediaTypeOCIIndex, "", ""),
			mutate: func(img *imagev1.Image) { img.DockerImageManifest = s2 },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageManifest != "" {
					t.Errorf("manifest kept")
				}
			},
			wantErr: "unsupported manifest media type",
		},
		{
			name:   "config matching the manifest's config digest is kept",
			old:    stored(s2Name, MediaTypeSchema2Manifest, s2, ""),
			mutate: func(img *imagev1.Image) { img.DockerImageConfig = testConfig },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageConfig != testConfig {
					t.Errorf("config reverted")
				}
			},
		},
		{
			name:   "config not matching is reverted",
			old:    stored(s2Name, MediaTypeSchema2Manifest, s2, testConfig),
			mutate: func(img *imagev1.Image) { img.DockerImageConfig = otherConfig },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageConfig != testConfig {
					t.Errorf("config = %q", img.DockerImageConfig)
				}
			},
		},
		{
			name:   "config of a schema1 image is reverted",
			old:    stored(s1Name, MediaTypeSchema1Manifest, s1, ""),
			mutate: func(img *imagev1.Image) { img.DockerImageConfig = testConfig },
			check: func(t *testing.T, img *imagev1.Image) {
				if img.DockerImageConfig != "" {
					t.Errorf("config kept")
				}
			},
		},
		{
			name: "re-derivation and clean-ups run on the result",
			old: func() *imagev1.Image {
				img := stored(s2Name, MediaTypeSchema2Manifest, "", "")
				img.DockerImageLayers = nil
				return withMetadata(t, img, nil)
			}(),
			mutate: func(img *imagev1.Image) {
				img.DockerImageManifest = s2
				img.DockerImageConfig = testConfig
				img.Annotations[imagev1.ImageManifestBlobStoredAnnotation] = "true"
				img.Signatures = []imagev1.ImageSignature{{ObjectMeta: metav1.ObjectMeta{
					Annotations: map[string]string{"image.openshift.io/managed-signature": "true"}}}}
			},
			check: func(t *testing.T, img *imagev1.Image) {
				if diff := cmp.Diff(wantConfigMetadata(configDigest, int64(len(testConfig))+300), metadataOf(t, img)); diff != "" {
					t.Errorf("metadata (-want +got):\n%s", diff)
				}
				if len(img.DockerImageLayers) != 4 {
					t.Errorf("layers = %v", img.DockerImageLayers)
				}
				if img.DockerImageManifest != "" || img.DockerImageConfig != "" {
					t.Errorf("blobs not cleared")
				}
				if len(img.Signatures[0].Annotations) != 0 {
					t.Errorf("signature annotations = %v", img.Signatures[0].Annotations)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := tc.old.DeepCopy()
			img := tc.old.DeepCopy()
			tc.mutate(img)
			err := PrepareImageForUpdate(img, old)
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.wantErr)
			}
			var me *MetadataError
			if errors.As(err, &me) {
				t.Errorf("unexpected MetadataError: %v", err)
			}
			if diff := cmp.Diff(tc.old, old); diff != "" {
				t.Errorf("old image modified (-before +after):\n%s", diff)
			}
			if img.DockerImageMetadata.Object != nil {
				t.Errorf("Object must be nil")
			}
			tc.check(t, img)
		})
	}
}

// TestPrepareImageForUpdateNoAliasing makes sure layer reordering on the new image cannot
// reach the stored image through a shared slice.
func TestPrepareImageForUpdateNoAliasing(t *testing.T) {
	s2, _ := schema2Fixture(t, MediaTypeSchema2Manifest, layerGzip)
	old := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: Digest([]byte(s2))},
		DockerImageManifest:          s2,
		DockerImageManifestMediaType: MediaTypeSchema2Manifest,
		DockerImageLayers:            []imagev1.ImageLayer{{Name: "a"}, {Name: "b"}},
	}
	newImg := old.DeepCopy()
	// A client flipping the order annotation makes the server reverse the stored layers.
	newImg.Annotations = map[string]string{imagev1.DockerImageLayersOrderAnnotation: "descending"}
	if err := PrepareImageForUpdate(newImg, old); err != nil {
		t.Logf("derivation error (expected, no config): %v", err)
	}
	if diff := cmp.Diff([]imagev1.ImageLayer{{Name: "b"}, {Name: "a"}}, newImg.DockerImageLayers); diff != "" {
		t.Errorf("new layers (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]imagev1.ImageLayer{{Name: "a"}, {Name: "b"}}, old.DockerImageLayers); diff != "" {
		t.Errorf("old layers changed (-want +got):\n%s", diff)
	}
}

func TestSchema1Canonical(t *testing.T) {
	s1 := schema1Fixture(t)
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "unsigned is its own payload", in: s1, want: s1},
		{name: "signed strips signatures", in: signedSchema1(s1), want: s1},
		{name: "not JSON", in: "{", wantErr: true},
		{name: "bad protected header", in: `{"signatures":[{"protected":"!!"}]}`, wantErr: true},
		{
			name:    "formatLength out of range",
			in:      `{"signatures":[{"protected":"` + base64.RawURLEncoding.EncodeToString([]byte(`{"formatLength":9999,"formatTail":""}`)) + `"}]}`,
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := schema1Canonical([]byte(tc.in))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, string(got)); !tc.wantErr && diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDigestMatches(t *testing.T) {
	content := []byte("hello")
	tests := []struct {
		name    string
		digest  string
		want    bool
		wantErr bool
	}{
		{name: "sha256 match", digest: "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", want: true},
		{name: "sha384 match", digest: "sha384:59e1748777448c69de6b800d7a33bbfb9ff1b463e44354c3553bcdb9c666fa90125a3c79f90397bdf5f6a13de828684f", want: true},
		{name: "sha512 match", digest: "sha512:9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043", want: true},
		{name: "mismatch", digest: "sha256:" + strings.Repeat("0", 64)},
		{name: "uppercase hex", digest: "sha256:2CF24DBA5FB0A30E26E83B2AC5B9E29E1B161E5C1FA7425E73043362938B9824", wantErr: true},
		{name: "short", digest: "sha256:2cf2", wantErr: true},
		{name: "md5", digest: "md5:5d41402abc4b2a76b9719d911017c592", wantErr: true},
		{name: "no algorithm", digest: "2cf24dba", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := digestMatches(tc.digest, content)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("digestMatches = %v, %v; want %v, err %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
