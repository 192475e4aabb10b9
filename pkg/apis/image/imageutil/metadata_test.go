package imageutil

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
	"github.com/openshift/api/image/dockerpre012"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// TestNormalizeDockerImageMetadata covers the real server's decode/encode rules for both
// versions, the legacy apiVersion forms and the rejected versions.
func TestNormalizeDockerImageMetadata(t *testing.T) {
	const empty10 = `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"","Created":null,"ContainerConfig":{}}`
	const emptyPre012 = `{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012","id":"","created":null,"container_config":{}}`
	const full10 = `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"abc","Parent":"def","Created":"2016-01-29T13:40:00Z","ContainerConfig":{"Cmd":["/bin/sh"]},"DockerVersion":"1.8.2","Config":{"User":"1001","Env":["A=1"],"Labels":{"l":"v"}},"Architecture":"amd64","Size":42}`
	const fullPre012 = `{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012","id":"abc","parent":"def","created":"2016-01-29T13:40:00Z","container_config":{"Cmd":["/bin/sh"]},"docker_version":"1.8.2","config":{"User":"1001","Env":["A=1"],"Labels":{"l":"v"}},"architecture":"amd64","size":42}`
	const body10 = `"Id":"abc","Parent":"def","Created":"2016-01-29T13:40:00Z","ContainerConfig":{"Cmd":["/bin/sh"]},"DockerVersion":"1.8.2","Config":{"User":"1001","Env":["A=1"],"Labels":{"l":"v"}},"Architecture":"amd64","Size":42`
	const bodyPre012 = `"id":"abc","parent":"def","created":"2016-01-29T13:40:00Z","container_config":{"Cmd":["/bin/sh"]},"docker_version":"1.8.2","config":{"User":"1001","Env":["A=1"],"Labels":{"l":"v"}},"architecture":"amd64","size":42`

	created := metav1.NewTime(time.Date(2016, 1, 29, 13, 40, 0, 0, time.UTC))
	typed10 := &docker10.DockerImage{
		ID: "abc", Parent: "def", Created: created, DockerVersion: "1.8.2", Architecture: "amd64", Size: 42,
		ContainerConfig: docker10.DockerConfig{Cmd: []string{"/bin/sh"}},
		Config:          &docker10.DockerConfig{User: "1001", Env: []string{"A=1"}, Labels: map[string]string{"l": "v"}},
	}
	typedPre012 := &dockerpre012.DockerImage{
		ID: "abc", Parent: "def", Created: created, DockerVersion: "1.8.2", Architecture: "amd64", Size: 42,
		ContainerConfig: dockerpre012.DockerConfig{Cmd: []string{"/bin/sh"}},
		Config:          &dockerpre012.DockerConfig{User: "1001", Env: []string{"A=1"}, Labels: map[string]string{"l": "v"}},
	}

	tests := []struct {
		name        string
		raw         string
		object      runtime.Object
		version     string
		wantRaw     string
		wantVersion string
		wantErr     string
	}{
		{
			// Choice documented on NormalizeDockerImageMetadata: what the real server returns.
			name:        "no metadata encodes the empty 1.0 struct",
			wantRaw:     empty10,
			wantVersion: "1.0",
		},
		{
			name:        "no metadata with version pre012",
			version:     "pre012",
			wantRaw:     emptyPre012,
			wantVersion: "pre012",
		},
		{
			name:        "no metadata with group-qualified version is shortened",
			version:     "image.openshift.io/1.0",
			wantRaw:     empty10,
			wantVersion: "1.0",
		},
		{
			name:    "no metadata with unknown version is rejected",
			version: "2.0",
			wantErr: `dockerImageMetadataVersion "2.0" is not supported: use "1.0" or "pre012"`,
		},
		{
			name:        "raw null counts as empty",
			raw:         `null`,
			wantRaw:     empty10,
			wantVersion: "1.0",
		},
		{
			name:        "legacy apiVersion 1.0 comes back group-qualified",
			raw:         `{"kind":"DockerImage","apiVersion":"1.0",` + body10 + `}`,
			version:     "1.0",
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "group-qualified apiVersion",
			raw:         `{"apiVersion":"image.openshift.io/1.0","kind":"DockerImage",` + body10 + `}`,
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "missing kind and apiVersion, version defaulted",
			raw:         `{` + body10 + `}`,
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "unknown fields are ignored",
			raw:         `{"Unknown":{"x":1},"Config":{"Healthcheck":{"Test":["NONE"]},"User":"1001","Env":["A=1"],"Labels":{"l":"v"}},` + strings.Replace(body10, `,"Config":{"User":"1001","Env":["A=1"],"Labels":{"l":"v"}}`, "", 1) + `}`,
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "pre012 snake_case stays pre012",
			raw:         `{"kind":"DockerImage","apiVersion":"pre012",` + bodyPre012 + `}`,
			version:     "pre012",
			wantRaw:     fullPre012,
			wantVersion: "pre012",
		},
		{
			name:        "pre012 without apiVersion decoded by the version field",
			raw:         `{` + bodyPre012 + `}`,
			version:     "pre012",
			wantRaw:     fullPre012,
			wantVersion: "pre012",
		},
		{
			// The raw apiVersion selects the shape, the version field the output.
			name:        "pre012 object in a 1.0 image is converted",
			raw:         `{"kind":"DockerImage","apiVersion":"image.openshift.io/pre012",` + bodyPre012 + `}`,
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:    "unknown version with metadata",
			raw:     `{` + body10 + `}`,
			version: "2.0",
			wantErr: `dockerImageMetadataVersion "2.0" is not supported: use "1.0" or "pre012"`,
		},
		{
			name:    "version containing a slash with metadata",
			raw:     `{` + body10 + `}`,
			version: "image.openshift.io/1.0",
			wantErr: `dockerImageMetadataVersion "image.openshift.io/1.0" is not supported`,
		},
		{
			name:    "unknown kind",
			raw:     `{"kind":"Image",` + body10 + `}`,
			wantErr: `dockerImageMetadata: kind "Image" is not supported`,
		},
		{
			name:    "unknown apiVersion",
			raw:     `{"apiVersion":"image.openshift.io/v1",` + body10 + `}`,
			wantErr: `dockerImageMetadata: apiVersion "image.openshift.io/v1" is not supported`,
		},
		{
			name:    "invalid JSON",
			raw:     `{"Id":`,
			wantErr: `dockerImageMetadata: invalid JSON`,
		},
		{
			name:    "wrong field type",
			raw:     `{"Size":"big"}`,
			wantErr: `dockerImageMetadata: cannot decode as version "1.0"`,
		},
		{
			name:        "typed docker10 object",
			object:      typed10,
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "typed pre012 object in a pre012 image",
			object:      typedPre012,
			version:     "pre012",
			wantRaw:     fullPre012,
			wantVersion: "pre012",
		},
		{
			name:        "raw wins over object",
			raw:         `{` + body10 + `}`,
			object:      &docker10.DockerImage{ID: "other"},
			wantRaw:     full10,
			wantVersion: "1.0",
		},
		{
			name:        "untyped object is decoded by version",
			object:      &runtime.Unknown{Raw: []byte(`{` + bodyPre012 + `}`)},
			version:     "pre012",
			wantRaw:     fullPre012,
			wantVersion: "pre012",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := &imagev1.Image{DockerImageMetadataVersion: tc.version}
			if tc.raw != "" {
				img.DockerImageMetadata.Raw = []byte(tc.raw)
			}
			img.DockerImageMetadata.Object = tc.object
			err := NormalizeDockerImageMetadata(img)
			if tc.wantErr != "" {
				var me *MetadataError
				if !errors.As(err, &me) {
					t.Fatalf("want *MetadataError containing %q, got %v", tc.wantErr, err)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if diff := cmp.Diff(tc.wantRaw, string(img.DockerImageMetadata.Raw)); diff != "" {
				t.Errorf("raw (-want +got):\n%s", diff)
			}
			if img.DockerImageMetadata.Object != nil {
				t.Errorf("Object must be nil, got %#v", img.DockerImageMetadata.Object)
			}
			if img.DockerImageMetadataVersion != tc.wantVersion {
				t.Errorf("version = %q, want %q", img.DockerImageMetadataVersion, tc.wantVersion)
			}
			// Canonical output is a fixed point.
			again := img.DeepCopy()
			if err := NormalizeDockerImageMetadata(again); err != nil {
				t.Fatalf("second normalization: %v", err)
			}
			if diff := cmp.Diff(string(img.DockerImageMetadata.Raw), string(again.DockerImageMetadata.Raw)); diff != "" {
				t.Errorf("normalization is not idempotent (-first +second):\n%s", diff)
			}
		})
	}
}

// TestNormalizeDocumentationSample round-trips the metadata of the documentation's mapping
// (examples/mapping.yaml): nothing but the apiVersion may change.
func TestNormalizeDocumentationSample(t *testing.T) {
	data, err := os.ReadFile("testdata/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var ism imagev1.ImageStreamMapping
	if err := yaml.Unmarshal(data, &ism); err != nil {
		t.Fatal(err)
	}
	img := &ism.Image
	var before map[string]any
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &before); err != nil {
		t.Fatal(err)
	}
	layersBefore := append([]imagev1.ImageLayer(nil), img.DockerImageLayers...)

	if err := NormalizeDockerImageMetadata(img); err != nil {
		t.Fatalf("NormalizeDockerImageMetadata: %v", err)
	}
	if img.DockerImageMetadataVersion != "1.0" || img.DockerImageMetadata.Object != nil {
		t.Fatalf("version %q, object %v", img.DockerImageMetadataVersion, img.DockerImageMetadata.Object)
	}
	var after map[string]any
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &after); err != nil {
		t.Fatal(err)
	}
	if before["apiVersion"] != "1.0" || after["apiVersion"] != "image.openshift.io/1.0" {
		t.Errorf("apiVersion before %v after %v", before["apiVersion"], after["apiVersion"])
	}
	before["apiVersion"] = after["apiVersion"]
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("metadata changed (-sent +stored):\n%s", diff)
	}

	meta, err := DockerImageMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := meta.Created.Time, time.Date(2016, 1, 29, 13, 40, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Created = %v, want %v", got, want)
	}
	if meta.Size != 441976279 || meta.Architecture != "amd64" {
		t.Errorf("Size %d Architecture %q", meta.Size, meta.Architecture)
	}
	if diff := cmp.Diff([]string{"/usr/libexec/s2i/run"}, meta.Config.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"container-entrypoint"}, meta.Config.Entrypoint); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]struct{}{"8080/tcp": {}}, meta.Config.ExposedPorts); diff != "" {
		t.Errorf("ExposedPorts (-want +got):\n%s", diff)
	}
	if len(meta.Config.Env) != 13 || meta.Config.Env[0] != "RACK_ENV=production" {
		t.Errorf("Env = %q", meta.Config.Env)
	}
	// YAML→JSON keeps the date-like label a string, as with OpenShift.
	if got := meta.Config.Labels["build-date"]; got != "2015-12-23" {
		t.Errorf("build-date label = %q", got)
	}
	if len(meta.Config.Labels) != 18 {
		t.Errorf("got %d labels, want 18", len(meta.Config.Labels))
	}
	// Normalization touches nothing but the metadata.
	if diff := cmp.Diff(layersBefore, img.DockerImageLayers); diff != "" {
		t.Errorf("layers changed (-want +got):\n%s", diff)
	}
}

// TestDockerImageMetadata checks the reader: nil for no metadata and a field-by-field
// conversion of pre012.
func TestDockerImageMetadata(t *testing.T) {
	created := metav1.NewTime(time.Date(2020, 2, 3, 4, 5, 6, 0, time.UTC))
	tests := []struct {
		name    string
		img     *imagev1.Image
		want    *docker10.DockerImage
		wantErr bool
	}{
		{
			name: "empty",
			img:  &imagev1.Image{},
		},
		{
			name: "1.0",
			img: &imagev1.Image{DockerImageMetadata: runtime.RawExtension{Raw: []byte(
				`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"x","Created":"2020-02-03T04:05:06Z","Size":7}`)}},
			want: &docker10.DockerImage{ID: "x", Created: created, Size: 7},
		},
		{
			name: "pre012 converted",
			img: &imagev1.Image{DockerImageMetadataVersion: "pre012", DockerImageMetadata: runtime.RawExtension{Raw: []byte(
				`{"id":"x","parent":"p","comment":"c","created":"2020-02-03T04:05:06Z","container":"ctr",` +
					`"container_config":{"Hostname":"h","Cmd":["a"]},"docker_version":"dv","author":"au",` +
					`"config":{"User":"u","Env":["E=1"],"ExposedPorts":{"80/tcp":{}},"Volumes":{"/v":{}},"WorkingDir":"/w","Entrypoint":["e"],"OnBuild":["o"],"Labels":{"k":"v"}},` +
					`"architecture":"arm64","size":9}`)}},
			want: &docker10.DockerImage{
				ID: "x", Parent: "p", Comment: "c", Created: created, Container: "ctr",
				ContainerConfig: docker10.DockerConfig{Hostname: "h", Cmd: []string{"a"}},
				DockerVersion:   "dv", Author: "au", Architecture: "arm64", Size: 9,
				Config: &docker10.DockerConfig{
					User: "u", Env: []string{"E=1"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
					Volumes: map[string]struct{}{"/v": {}}, WorkingDir: "/w", Entrypoint: []string{"e"},
					OnBuild: []string{"o"}, Labels: map[string]string{"k": "v"},
				},
			},
		},
		{
			name:    "unknown version",
			img:     &imagev1.Image{DockerImageMetadataVersion: "0.9", DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{}`)}},
			wantErr: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DockerImageMetadata(tc.img)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestSetDockerImageMetadata checks that setting always stores canonical 1.0 and that the
// value reads back unchanged.
func TestSetDockerImageMetadata(t *testing.T) {
	meta := &docker10.DockerImage{
		ID:      "sha256:abc",
		Created: metav1.NewTime(time.Date(2021, 1, 1, 0, 0, 0, 0, time.UTC)),
		Config:  &docker10.DockerConfig{Cmd: []string{"run"}, Labels: map[string]string{"a": "<b>"}},
		Size:    5,
	}
	img := &imagev1.Image{
		DockerImageMetadataVersion: "pre012",
		DockerImageMetadata:        runtime.RawExtension{Object: &docker10.DockerImage{ID: "old"}},
	}
	if err := SetDockerImageMetadata(img, meta); err != nil {
		t.Fatal(err)
	}
	if img.DockerImageMetadataVersion != "1.0" || img.DockerImageMetadata.Object != nil {
		t.Fatalf("version %q object %v", img.DockerImageMetadataVersion, img.DockerImageMetadata.Object)
	}
	if !strings.HasPrefix(string(img.DockerImageMetadata.Raw), `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"sha256:abc"`) {
		t.Errorf("raw = %s", img.DockerImageMetadata.Raw)
	}
	got, err := DockerImageMetadata(img)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(meta, got); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if meta.TypeMeta != (metav1.TypeMeta{}) {
		t.Errorf("caller's value was modified: %#v", meta.TypeMeta)
	}
}

// TestEmptyEncodingDecodes checks the shortcut for empty metadata against the JSON decoder:
// for every stored version and every stored shape, the same metadata comes back.
func TestEmptyEncodingDecodes(t *testing.T) {
	slow := map[string]*docker10.DockerImage{}
	var m10 docker10.DockerImage
	if err := json.Unmarshal(emptyEncodings[MetadataVersion10], &m10); err != nil {
		t.Fatal(err)
	}
	m10.TypeMeta = metav1.TypeMeta{}
	slow[MetadataVersion10] = &m10
	var pre dockerpre012.DockerImage
	if err := json.Unmarshal(emptyEncodings[MetadataVersionPre012], &pre); err != nil {
		t.Fatal(err)
	}
	slow[MetadataVersionPre012] = fromPre012(&pre)

	for shape, raw := range emptyEncodings {
		for _, version := range []string{MetadataVersion10, MetadataVersionPre012} {
			img := &imagev1.Image{DockerImageMetadataVersion: version}
			img.DockerImageMetadata.Raw = bytes.Clone(raw)
			got, gotVersion, err := decodeMetadata(img)
			if err != nil {
				t.Fatalf("shape %s, version %s: %v", shape, version, err)
			}
			if gotVersion != version || !reflect.DeepEqual(got, slow[shape]) {
				t.Errorf("shape %s, version %s: got %#v (%s), want %#v", shape, version, got, gotVersion, slow[shape])
			}
			// What is stored afterwards is the same as the JSON encoder's.
			encoded, err := encodeMetadata(got, version)
			if err != nil {
				t.Fatal(err)
			}
			if want := emptyEncodings[version]; !bytes.Equal(encoded, want) {
				t.Errorf("shape %s, version %s: encoded %s, want %s", shape, version, encoded, want)
			}
		}
	}
	if got, want := string(emptyEncodings[MetadataVersion10]),
		`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"","Created":null,"ContainerConfig":{}}`; got != want {
		t.Errorf("empty 1.0 encoding %s, want %s", got, want)
	}
}
