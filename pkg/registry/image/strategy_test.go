package image

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apis/image/install"
	imagev1ext "github.com/image-apiserver/image-apiserver/pkg/apis/image/v1"
)

const (
	layerMediaType  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	configMediaType = "application/vnd.docker.container.image.v1+json"
	// testConfig is an image config blob as a registry stores it: snake_case outside,
	// CamelCase inside, plus fields (os, rootfs) the metadata does not keep.
	testConfig = `{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09Z","docker_version":"24.0.7",` +
		`"author":"Jane","config":{"User":"1001","Env":["A=1"],"Cmd":["/run"]},"container_config":{},` +
		`"rootfs":{"type":"layers","diff_ids":[]}}`
)

var (
	layer1 = "sha256:" + strings.Repeat("1", 64)
	layer2 = "sha256:" + strings.Repeat("2", 64)
)

func newTestStrategy() Strategy {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return NewStrategy(scheme)
}

// schema2Image is an image as the integrated registry sends it on push, without
// dockerImageMetadata: a schema2 manifest with two layers, its config, and the name being the
// manifest's digest. It returns the config digest too.
func schema2Image(t *testing.T) (*imagev1.Image, string) {
	t.Helper()
	configDigest := imageutil.Digest([]byte(testConfig))
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     imageutil.MediaTypeSchema2Manifest,
		"config":        map[string]any{"mediaType": configMediaType, "size": len(testConfig), "digest": configDigest},
		"layers": []map[string]any{
			{"mediaType": layerMediaType, "size": 100, "digest": layer1},
			{"mediaType": layerMediaType, "size": 200, "digest": layer2},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := imageutil.Digest(manifest)
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: name},
		DockerImageReference: "registry.example.com/ns/app@" + name,
		DockerImageManifest:  string(manifest),
		DockerImageConfig:    testConfig,
	}, configDigest
}

// derivedMetadata is what testConfig and the manifest derive to: the config's
// fields, Id = config digest, Size = config bytes + distinct layer sizes.
func derivedMetadata(configDigest string) *docker10.DockerImage {
	return &docker10.DockerImage{
		ID:            configDigest,
		Created:       metav1.NewTime(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)),
		DockerVersion: "24.0.7",
		Author:        "Jane",
		Architecture:  "amd64",
		Size:          int64(len(testConfig)) + 300,
		Config:        &docker10.DockerConfig{User: "1001", Env: []string{"A=1"}, Cmd: []string{"/run"}},
	}
}

// withMetadata returns img with meta stored canonically, as the server stores it.
func withMetadata(t *testing.T, img *imagev1.Image, meta *docker10.DockerImage) *imagev1.Image {
	t.Helper()
	img = img.DeepCopy()
	if err := imageutil.SetDockerImageMetadata(img, meta); err != nil {
		t.Fatal(err)
	}
	return img
}

func TestStrategyBasics(t *testing.T) {
	s := newTestStrategy()
	ctx := context.Background()
	if s.NamespaceScoped() {
		t.Error("images must be cluster-scoped")
	}
	if s.AllowCreateOnUpdate(ctx) {
		t.Error("PUT must not create images")
	}
	// An update without resourceVersion is a 422.
	if s.AllowUnconditionalUpdate(ctx) {
		t.Error("updates must carry a resourceVersion")
	}
	// Deleting an image never cascades.
	if got := s.DefaultGarbageCollectionPolicy(ctx); got != rest.Unsupported {
		t.Errorf("DefaultGarbageCollectionPolicy = %q, want %q", got, rest.Unsupported)
	}
	if w := s.WarningsOnCreate(ctx, &imagev1.Image{}); w != nil {
		t.Errorf("WarningsOnCreate = %v", w)
	}
	if w := s.WarningsOnUpdate(ctx, &imagev1.Image{}, &imagev1.Image{}); w != nil {
		t.Errorf("WarningsOnUpdate = %v", w)
	}
	img, _ := schema2Image(t)
	before := img.DeepCopy()
	s.Canonicalize(img)
	if diff := cmp.Diff(before, img); diff != "" {
		t.Errorf("Canonicalize changed the image (-before +after):\n%s", diff)
	}
}

// TestPrepareForCreate covers create preparation and metadata derivation for a pushed schema2
// image.
func TestPrepareForCreate(t *testing.T) {
	pushed, configDigest := schema2Image(t)
	layers := []imagev1.ImageLayer{
		{Name: layer1, LayerSize: 100, MediaType: layerMediaType},
		{Name: layer2, LayerSize: 200, MediaType: layerMediaType},
	}
	derived := func(img *imagev1.Image) *imagev1.Image {
		img.DockerImageLayers = layers
		img.DockerImageManifestMediaType = imageutil.MediaTypeSchema2Manifest
		if img.Annotations == nil {
			img.Annotations = map[string]string{}
		}
		img.Annotations[imagev1.DockerImageLayersOrderAnnotation] = imagev1.DockerImageLayersOrderAscending
		return withMetadata(t, img, derivedMetadata(configDigest))
	}

	tests := []struct {
		name string
		in   func() *imagev1.Image
		want func() *imagev1.Image
	}{
		{
			name: "metadata, layers and media type are derived from manifest and config",
			in:   pushed.DeepCopy,
			want: func() *imagev1.Image { return derived(pushed.DeepCopy()) },
		},
		{
			name: "manifestBlobStored: metadata is derived, then manifest and config are dropped",
			in: func() *imagev1.Image {
				img := pushed.DeepCopy()
				img.Annotations = map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}
				return img
			},
			want: func() *imagev1.Image {
				img := pushed.DeepCopy()
				img.Annotations = map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}
				img = derived(img)
				img.DockerImageManifest = ""
				img.DockerImageConfig = ""
				return img
			},
		},
		{
			name: "the managed-signature annotation is removed from signatures",
			in: func() *imagev1.Image {
				img := pushed.DeepCopy()
				img.Signatures = []imagev1.ImageSignature{{
					ObjectMeta: metav1.ObjectMeta{Name: pushed.Name + "@sig", Annotations: map[string]string{"image.openshift.io/managed-signature": "true", "other": "kept"}},
					Type:       "atomic", Content: []byte("sig"),
				}}
				return img
			},
			want: func() *imagev1.Image {
				img := derived(pushed.DeepCopy())
				img.Signatures = []imagev1.ImageSignature{{
					ObjectMeta: metav1.ObjectMeta{Name: pushed.Name + "@sig", Annotations: map[string]string{"other": "kept"}},
					Type:       "atomic", Content: []byte("sig"),
				}}
				return img
			},
		},
		{
			name: "an unreadable manifest does not fail the create: the image keeps what it was sent, metadata canonical",
			in: func() *imagev1.Image {
				img := pushed.DeepCopy()
				img.DockerImageManifest = "{not json"
				return img
			},
			want: func() *imagev1.Image {
				img := pushed.DeepCopy()
				img.DockerImageManifest = "{not json"
				return withMetadata(t, img, nil)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in()
			newTestStrategy().PrepareForCreate(context.Background(), got)
			if diff := cmp.Diff(tc.want(), got); diff != "" {
				t.Errorf("PrepareForCreate mismatch (-want +got):\n%s", diff)
			}
			if got.DockerImageMetadata.Object != nil {
				t.Errorf("dockerImageMetadata.Object = %T, want nil (protobuf would drop it)", got.DockerImageMetadata.Object)
			}
		})
	}
}

// TestPrepareForUpdate covers the silent resets of an image update.
func TestPrepareForUpdate(t *testing.T) {
	stored, configDigest := schema2Image(t)
	newTestStrategy().PrepareForCreate(context.Background(), stored)
	stored.ResourceVersion = "10"
	stored.DockerImageSignatures = [][]byte{[]byte("stored-signature")}
	if got, err := imageutil.DockerImageMetadata(stored); err != nil || got.ID != configDigest {
		t.Fatalf("fixture: stored metadata %+v, %v; want Id %s", got, err, configDigest)
	}

	tests := []struct {
		name   string
		update func(*imagev1.Image)
		want   func(*imagev1.Image)
	}{
		{
			name: "metadata, its version and layers are reset to the stored values",
			update: func(img *imagev1.Image) {
				img.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"Id":"forged","Size":1}`)}
				img.DockerImageMetadataVersion = "pre012"
				img.DockerImageLayers = []imagev1.ImageLayer{{Name: layer2, LayerSize: 1, MediaType: "forged"}}
			},
			want: func(*imagev1.Image) {},
		},
		{
			name:   "stored dockerImageSignatures cannot be replaced",
			update: func(img *imagev1.Image) { img.DockerImageSignatures = [][]byte{[]byte("forged")} },
			want:   func(*imagev1.Image) {},
		},
		{
			name:   "a manifest that does not hash to the image name is reverted",
			update: func(img *imagev1.Image) { img.DockerImageManifest = `{"schemaVersion":2,"layers":[]}` },
			want:   func(*imagev1.Image) {},
		},
		{
			name:   "a config that does not hash to the manifest's config digest is reverted",
			update: func(img *imagev1.Image) { img.DockerImageConfig = `{"architecture":"arm64"}` },
			want:   func(*imagev1.Image) {},
		},
		{
			name: "labels, annotations and the reference stay mutable",
			update: func(img *imagev1.Image) {
				img.Labels = map[string]string{"team": "a"}
				img.Annotations["note"] = "x"
				img.DockerImageReference = "mirror.example.com/ns/app@" + img.Name
			},
			want: func(img *imagev1.Image) {
				img.Labels = map[string]string{"team": "a"}
				img.Annotations["note"] = "x"
				img.DockerImageReference = "mirror.example.com/ns/app@" + img.Name
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old := stored.DeepCopy()
			obj := stored.DeepCopy()
			tc.update(obj)
			want := stored.DeepCopy()
			tc.want(want)

			newTestStrategy().PrepareForUpdate(context.Background(), obj, old)
			if diff := cmp.Diff(want, obj); diff != "" {
				t.Errorf("PrepareForUpdate mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(stored, old); diff != "" {
				t.Errorf("PrepareForUpdate modified the stored image (-before +after):\n%s", diff)
			}
		})
	}
}

// TestNormalizeMetadata: dockerImageMetadata is decoded by its version before validation, so an
// unsupported version is a 400 naming the field, as OpenShift's failed conversion is.
func TestNormalizeMetadata(t *testing.T) {
	name := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		name        string
		in          imagev1.Image
		wantErr     bool
		wantVersion string
		wantRaw     string
	}{
		{
			name:    "unknown version 2.0 is a bad request",
			in:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}, DockerImageMetadataVersion: "2.0", DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{"Id":"x"}`)}},
			wantErr: true,
		},
		{
			name:    "invalid JSON is a bad request",
			in:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}, DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{"Id":`)}},
			wantErr: true,
		},
		{
			name:        "legacy apiVersion 1.0 is accepted and re-encoded canonically",
			in:          imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}, DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{"kind":"DockerImage","apiVersion":"1.0","Id":"abc","Size":5}`)}},
			wantVersion: "1.0",
			wantRaw:     `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"abc","Created":null,"ContainerConfig":{},"Size":5}`,
		},
		{
			name:        "no metadata is stored as the empty 1.0 object",
			in:          imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: name}},
			wantVersion: "1.0",
			wantRaw:     `{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"","Created":null,"ContainerConfig":{}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := tc.in.DeepCopy()
			err := NormalizeMetadata(img)
			if tc.wantErr {
				if !apierrors.IsBadRequest(err) {
					t.Fatalf("NormalizeMetadata error = %v, want a BadRequest", err)
				}
				if !strings.Contains(err.Error(), "dockerImageMetadata") {
					t.Errorf("error %q does not name dockerImageMetadata", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("NormalizeMetadata: %v", err)
			}
			if img.DockerImageMetadataVersion != tc.wantVersion {
				t.Errorf("version = %q, want %q", img.DockerImageMetadataVersion, tc.wantVersion)
			}
			if diff := cmp.Diff(tc.wantRaw, string(img.DockerImageMetadata.Raw)); diff != "" {
				t.Errorf("raw metadata (-want +got):\n%s", diff)
			}
			if img.DockerImageMetadata.Object != nil {
				t.Errorf("Object = %T, want nil", img.DockerImageMetadata.Object)
			}
		})
	}
}

// TestBeginHooks: the store's BeginCreate/BeginUpdate run NormalizeMetadata, so the 400 comes
// before strategies and validation.
func TestBeginHooks(t *testing.T) {
	bad := func() *imagev1.Image {
		return &imagev1.Image{DockerImageMetadataVersion: "2.0", DockerImageMetadata: runtime.RawExtension{Raw: []byte(`{}`)}}
	}
	ctx := context.Background()
	tests := []struct {
		name string
		run  func(img *imagev1.Image) error
	}{
		{"create", func(img *imagev1.Image) error { _, err := beginCreate(ctx, img, nil); return err }},
		{"update", func(img *imagev1.Image) error { _, err := beginUpdate(ctx, img, &imagev1.Image{}, nil); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(bad()); !apierrors.IsBadRequest(err) {
				t.Errorf("unsupported version: error = %v, want a BadRequest", err)
			}
			img := &imagev1.Image{}
			if err := tc.run(img); err != nil {
				t.Fatalf("empty metadata: %v", err)
			}
			if img.DockerImageMetadataVersion != imageutil.MetadataVersion10 || len(img.DockerImageMetadata.Raw) == 0 {
				t.Errorf("empty metadata was not normalized: version %q, raw %q", img.DockerImageMetadataVersion, img.DockerImageMetadata.Raw)
			}
		})
	}
}

// TestStrategyValidate runs validation through the strategy, as the store does.
func TestStrategyValidate(t *testing.T) {
	valid := func() *imagev1.Image {
		img, _ := schema2Image(t)
		return img
	}
	type fieldErr struct {
		Type  field.ErrorType
		Field string
	}
	s := newTestStrategy()
	ctx := context.Background()
	tests := []struct {
		name     string
		validate func(*imagev1.Image) field.ErrorList
		mutate   func(*imagev1.Image)
		want     []fieldErr
	}{
		{
			name:     "create: a pushed image is valid",
			validate: func(img *imagev1.Image) field.ErrorList { return s.Validate(ctx, img) },
			mutate:   func(*imagev1.Image) {},
		},
		{
			name:     "create: a name that is not a digest (D5)",
			validate: func(img *imagev1.Image) field.ErrorList { return s.Validate(ctx, img) },
			mutate:   func(img *imagev1.Image) { img.Name = "foo" },
			want:     []fieldErr{{field.ErrorTypeInvalid, "metadata.name"}},
		},
		{
			name:     "create: a digest of the wrong length (D5)",
			validate: func(img *imagev1.Image) field.ErrorList { return s.Validate(ctx, img) },
			mutate:   func(img *imagev1.Image) { img.Name = "sha256:" + strings.Repeat("a", 63) },
			want:     []fieldErr{{field.ErrorTypeInvalid, "metadata.name"}},
		},
		{
			name:     "create: the reference is required",
			validate: func(img *imagev1.Image) field.ErrorList { return s.Validate(ctx, img) },
			mutate:   func(img *imagev1.Image) { img.DockerImageReference = "" },
			want:     []fieldErr{{field.ErrorTypeRequired, "dockerImageReference"}},
		},
		{
			name: "update: the new image is validated in full",
			validate: func(img *imagev1.Image) field.ErrorList {
				old := valid()
				old.ResourceVersion = "1"
				img.ResourceVersion = "1"
				return s.ValidateUpdate(ctx, img, old)
			},
			mutate: func(img *imagev1.Image) { img.DockerImageReference = "Not::Valid" },
			want:   []fieldErr{{field.ErrorTypeInvalid, "dockerImageReference"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			img := valid()
			tc.mutate(img)
			var got []fieldErr
			for _, e := range tc.validate(img) {
				got = append(got, fieldErr{e.Type, e.Field})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("field errors mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGetAttrs: images only offer metadata.name to field selectors, the same keys
// the scheme's field-label conversion accepts.
func TestGetAttrs(t *testing.T) {
	img := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("a", 64), Labels: map[string]string{"team": "a"}}}
	gotLabels, gotFields, err := GetAttrs(img)
	if err != nil {
		t.Fatalf("GetAttrs: %v", err)
	}
	if diff := cmp.Diff(labels.Set{"team": "a"}, gotLabels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(fields.Set{"metadata.name": img.Name}, gotFields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	var keys []string
	for k := range gotFields {
		keys = append(keys, k)
	}
	if diff := cmp.Diff(imagev1ext.ImageSelectableFields, keys); diff != "" {
		t.Errorf("selectable fields differ from v1.ImageSelectableFields (-want +got):\n%s", diff)
	}
	if _, _, err := GetAttrs(&imagev1.ImageStream{}); err == nil {
		t.Error("GetAttrs of an ImageStream: want an error")
	}

	predicate := MatchImage(labels.SelectorFromSet(labels.Set{"team": "a"}), fields.OneTermEqualSelector("metadata.name", img.Name))
	if ok, err := predicate.Matches(img); err != nil || !ok {
		t.Errorf("MatchImage by label and name = %v, %v; want true", ok, err)
	}
	predicate = MatchImage(labels.Everything(), fields.OneTermEqualSelector("metadata.name", "other"))
	if ok, err := predicate.Matches(img); err != nil || ok {
		t.Errorf("MatchImage by another name = %v, %v; want false", ok, err)
	}
}

// TestConvertToTable checks the columns and cells of `oc get images`.
func TestConvertToTable(t *testing.T) {
	a := imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("a", 64), ResourceVersion: "3"}, DockerImageReference: "quay.io/a/b@sha256:" + strings.Repeat("a", 64)}
	b := imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:" + strings.Repeat("b", 64), ResourceVersion: "4"}, DockerImageReference: "quay.io/a/c@sha256:" + strings.Repeat("b", 64)}
	tests := []struct {
		name      string
		obj       runtime.Object
		wantCells [][]interface{}
		wantRV    string
		wantCont  string
	}{
		{
			name:      "list",
			obj:       &imagev1.ImageList{ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "c"}, Items: []imagev1.Image{a, b}},
			wantCells: [][]interface{}{{a.Name, a.DockerImageReference}, {b.Name, b.DockerImageReference}},
			wantRV:    "42",
			wantCont:  "c",
		},
		{
			name:      "single image",
			obj:       &b,
			wantCells: [][]interface{}{{b.Name, b.DockerImageReference}},
			wantRV:    "4",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := TableConvertor{}.ConvertToTable(context.Background(), tc.obj, nil)
			if err != nil {
				t.Fatalf("ConvertToTable: %v", err)
			}
			var columns []string
			for _, c := range table.ColumnDefinitions {
				columns = append(columns, c.Name)
			}
			if diff := cmp.Diff([]string{"Name", "Image Reference"}, columns); diff != "" {
				t.Errorf("columns (-want +got):\n%s", diff)
			}
			var cells [][]interface{}
			for _, row := range table.Rows {
				cells = append(cells, row.Cells)
			}
			if diff := cmp.Diff(tc.wantCells, cells); diff != "" {
				t.Errorf("cells (-want +got):\n%s", diff)
			}
			if table.ResourceVersion != tc.wantRV || table.Continue != tc.wantCont {
				t.Errorf("resourceVersion, continue = %q, %q; want %q, %q", table.ResourceVersion, table.Continue, tc.wantRV, tc.wantCont)
			}
		})
	}
	if _, err := (TableConvertor{}).ConvertToTable(context.Background(), &imagev1.ImageStream{}, nil); err == nil {
		t.Error("ConvertToTable of an ImageStream: want an error")
	}
}
