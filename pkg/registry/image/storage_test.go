package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistrytest "k8s.io/apiserver/pkg/registry/generic/testing"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apis/image/imageutil"
	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
)

// newStorage starts an etcd for the test and returns the images storage over it, with the
// server's protobuf storage codec (pkg/registry/registrytest).
func newStorage(t *testing.T) (*imageregistry.REST, *registrytest.Storage) {
	t.Helper()
	storage := registrytest.NewStorage(t)
	images, err := imageregistry.NewREST(apiserver.Scheme, storage)
	if err != nil {
		t.Fatalf("NewREST: %v", err)
	}
	t.Cleanup(images.Destroy)
	return images, storage
}

// digestName is the i-th image name: image names must be digests (D5).
func digestName(i int) string { return fmt.Sprintf("sha256:%064x", i) }

func validImage() *imagev1.Image {
	name := digestName(100)
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: name, Labels: map[string]string{"team": "a"}},
		DockerImageReference: "registry.example.com/ns/app@" + name,
	}
}

// TestGenericStore runs apiserver's generic registry tests for the cluster-scoped images. The
// tester's names come from digestName (D5). Its generateName case is skipped: a generated name
// "test-xxxxx" can never be a digest, so images cannot be created by generateName. Negative
// watch cases are left out because the tester can only prove them by waiting;
// TestWatch proves filtering by ordering instead.
func TestGenericStore(t *testing.T) {
	notDigest := validImage()
	notDigest.Name = "foo" // D5
	noReference := validImage()
	noReference.DockerImageReference = ""

	tests := []struct {
		name string
		run  func(*genericregistrytest.Tester)
	}{
		{"create", func(test *genericregistrytest.Tester) { test.TestCreate(validImage(), notDigest, noReference) }},
		{"update", func(test *genericregistrytest.Tester) {
			test.TestUpdate(validImage(),
				func(obj runtime.Object) runtime.Object {
					img := obj.(*imagev1.Image)
					img.DockerImageReference = "mirror.example.com/ns/app@" + img.Name
					return img
				},
				func(obj runtime.Object) runtime.Object {
					img := obj.(*imagev1.Image)
					img.DockerImageReference = ""
					return img
				},
			)
		}},
		{"delete", func(test *genericregistrytest.Tester) { test.TestDelete(validImage()) }},
		{"get", func(test *genericregistrytest.Tester) { test.TestGet(validImage()) }},
		{"list", func(test *genericregistrytest.Tester) { test.TestList(validImage()) }},
		{"watch", func(test *genericregistrytest.Tester) {
			test.TestWatch(validImage(), []labels.Set{{"team": "a"}, {}}, nil, []fields.Set{{"metadata.name": validImage().Name}}, nil)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			images, _ := newStorage(t)
			tc.run(genericregistrytest.New(t, images.Store).ClusterScope().Namer(digestName).GeneratesName())
		})
	}
}

// clusterContext is a request context for cluster-scoped images: the namespace is present and
// empty, as the handler sets it.
func clusterContext() context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
}

func create(t *testing.T, images *imageregistry.REST, img *imagev1.Image) *imagev1.Image {
	t.Helper()
	obj, err := images.Create(clusterContext(), img, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create %s: %v", img.Name, err)
	}
	return obj.(*imagev1.Image)
}

func update(images *imageregistry.REST, img *imagev1.Image) (*imagev1.Image, error) {
	obj, _, err := images.Update(clusterContext(), img.Name, rest.DefaultUpdatedObjectInfo(img), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*imagev1.Image), nil
}

// pushedImage is a schema2 image as the integrated registry creates it on push: manifest and
// config are sent, manifestBlobStored asks the server to drop them once metadata is derived.
func pushedImage(t *testing.T) (*imagev1.Image, string) {
	t.Helper()
	config := `{"architecture":"arm64","os":"linux","created":"2024-05-06T07:08:09Z","config":{"Cmd":["/run"]}}`
	configDigest := imageutil.Digest([]byte(config))
	manifest, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     imageutil.MediaTypeSchema2Manifest,
		"config":        map[string]any{"mediaType": "application/vnd.docker.container.image.v1+json", "size": len(config), "digest": configDigest},
		"layers":        []map[string]any{{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 1000, "digest": digestName(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	name := imageutil.Digest(manifest)
	return &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: name, Annotations: map[string]string{imagev1.ImageManifestBlobStoredAnnotation: "true"}},
		DockerImageReference: "registry.example.com/ns/app@" + name,
		DockerImageManifest:  string(manifest),
		DockerImageConfig:    config,
	}, configDigest
}

// TestCreateDerivesAndStoresMetadata: a pushed image is stored with derived metadata and
// without manifest and config (manifestBlobStored), and reads back the same.
func TestCreateDerivesAndStoresMetadata(t *testing.T) {
	images, _ := newStorage(t)
	in, configDigest := pushedImage(t)
	created := create(t, images, in)

	if created.DockerImageManifest != "" || created.DockerImageConfig != "" {
		t.Errorf("manifestBlobStored image kept manifest %q / config %q", created.DockerImageManifest, created.DockerImageConfig)
	}
	meta, err := imageutil.DockerImageMetadata(created)
	if err != nil {
		t.Fatalf("stored metadata: %v", err)
	}
	if meta.ID != configDigest || meta.Architecture != "arm64" || meta.Size == 0 {
		t.Errorf("derived metadata Id %q architecture %q size %d", meta.ID, meta.Architecture, meta.Size)
	}
	if len(created.DockerImageLayers) != 1 || created.DockerImageLayers[0].Name != digestName(1) {
		t.Errorf("derived layers = %+v", created.DockerImageLayers)
	}

	got, err := images.Get(clusterContext(), in.Name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if diff := cmp.Diff(created, got); diff != "" {
		t.Errorf("get differs from create (-create +get):\n%s", diff)
	}
}

// TestCreateRejectsUnsupportedMetadataVersion: the store's BeginCreate turns an unsupported
// dockerImageMetadataVersion into a 400 naming the field, and nothing is stored.
func TestCreateRejectsUnsupportedMetadataVersion(t *testing.T) {
	images, _ := newStorage(t)
	img := validImage()
	img.DockerImageMetadataVersion = "2.0"
	img.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"Id":"x"}`)}
	_, err := images.Create(clusterContext(), img, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "dockerImageMetadata") {
		t.Fatalf("create with version 2.0: error = %v, want a BadRequest naming dockerImageMetadata", err)
	}
	if _, err := images.Get(clusterContext(), img.Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after the rejected create: error = %v, want NotFound", err)
	}
}

// TestUpdateAndDelete covers update conflicts (a resourceVersion is required and must be
// current), the silent metadata reset of an update through the store, and delete.
func TestUpdateAndDelete(t *testing.T) {
	images, _ := newStorage(t)
	in, _ := pushedImage(t)
	created := create(t, images, in)

	changed := created.DeepCopy()
	changed.Labels = map[string]string{"team": "b"}
	changed.DockerImageLayers = nil
	changed.DockerImageMetadata = runtime.RawExtension{Raw: []byte(`{"Id":"forged"}`)}
	updated, err := update(images, changed)
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	if updated.Labels["team"] != "b" {
		t.Errorf("labels after update = %v", updated.Labels)
	}
	if diff := cmp.Diff(created.DockerImageMetadata, updated.DockerImageMetadata); diff != "" {
		t.Errorf("metadata was not reset (-stored +updated):\n%s", diff)
	}
	if diff := cmp.Diff(created.DockerImageLayers, updated.DockerImageLayers); diff != "" {
		t.Errorf("layers were not reset (-stored +updated):\n%s", diff)
	}

	stale := created.DeepCopy()
	stale.Labels = map[string]string{"team": "c"}
	if _, err := update(images, stale); !apierrors.IsConflict(err) {
		t.Errorf("update with stale resourceVersion: error = %v, want Conflict", err)
	}
	noRV := updated.DeepCopy()
	noRV.ResourceVersion = ""
	if _, err := update(images, noRV); !apierrors.IsInvalid(err) {
		t.Errorf("update without resourceVersion: error = %v, want Invalid", err)
	}

	if _, _, err := images.Delete(clusterContext(), in.Name, rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := images.Get(clusterContext(), in.Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: error = %v, want NotFound", err)
	}
}

// TestList lists with label and field selectors (images only offer metadata.name).
func TestList(t *testing.T) {
	images, _ := newStorage(t)
	for i, team := range []string{"a", "b", "a"} {
		img := validImage()
		img.Name = digestName(i + 1)
		img.Labels = map[string]string{"team": team}
		create(t, images, img)
	}
	tests := []struct {
		name  string
		label string
		field string
		want  []string
	}{
		{"all", "", "", []string{digestName(1), digestName(2), digestName(3)}},
		{"label", "team=a", "", []string{digestName(1), digestName(3)}},
		{"name", "", "metadata.name=" + digestName(2), []string{digestName(2)}},
		{"label and name", "team=a", "metadata.name=" + digestName(2), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := labels.Parse(tc.label)
			if err != nil {
				t.Fatal(err)
			}
			fs, err := fields.ParseSelector(tc.field)
			if err != nil {
				t.Fatal(err)
			}
			list, err := images.List(clusterContext(), &metainternalversion.ListOptions{LabelSelector: ls, FieldSelector: fs})
			if err != nil {
				t.Fatalf("list: %v", err)
			}
			var names []string
			for _, item := range list.(*imagev1.ImageList).Items {
				names = append(names, item.Name)
			}
			if diff := cmp.Diff(tc.want, names); diff != "" {
				t.Errorf("listed images (-want +got):\n%s", diff)
			}
		})
	}
}

// TestWatch watches with a label selector: an image that does not match is written first, so
// the first event proves both filtering and delivery without waiting for silence.
func TestWatch(t *testing.T) {
	images, _ := newStorage(t)
	start := create(t, images, validImage())
	w, err := images.Watch(clusterContext(), &metainternalversion.ListOptions{
		LabelSelector:   labels.SelectorFromSet(labels.Set{"team": "hit"}),
		ResourceVersion: start.ResourceVersion,
	})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer w.Stop()

	miss := validImage()
	miss.Name, miss.Labels = digestName(1), map[string]string{"team": "miss"}
	hit := validImage()
	hit.Name, hit.Labels = digestName(2), map[string]string{"team": "hit"}
	create(t, images, miss)
	create(t, images, hit)

	select {
	case ev, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("watch closed")
		}
		if got := ev.Object.(*imagev1.Image).Name; ev.Type != watch.Added || got != hit.Name {
			t.Errorf("first event = %s %s, want ADDED %s", ev.Type, got, hit.Name)
		}
	case <-time.After(wait.ForeverTestTimeout):
		t.Fatal("no watch event")
	}
}

// TestStoredAsProtobuf reads the raw etcd value: images are stored as protobuf
// image.openshift.io/v1 under /registry/image.openshift.io/images/<name> (the group written
// once), with dockerImageMetadata as raw bytes (protobuf drops a RawExtension's Object).
func TestStoredAsProtobuf(t *testing.T) {
	images, storage := newStorage(t)
	in, _ := pushedImage(t)
	created := create(t, images, in)

	// The key layout is the server's: /registry/image.openshift.io/images/<name>.
	obj, gvk := storage.ReadStored(t, "image.openshift.io/images/"+in.Name)
	if want := (schema.GroupVersionKind{Group: "image.openshift.io", Version: "v1", Kind: "Image"}); gvk != want {
		t.Errorf("stored as %v, want %v", gvk, want)
	}
	stored := obj.(*imagev1.Image)
	if !bytes.Equal(stored.DockerImageMetadata.Raw, created.DockerImageMetadata.Raw) {
		t.Errorf("stored metadata %s, want the canonical %s", stored.DockerImageMetadata.Raw, created.DockerImageMetadata.Raw)
	}
}
