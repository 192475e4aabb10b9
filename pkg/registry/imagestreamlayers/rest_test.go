package imagestreamlayers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreamlayers"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
)

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// frozenSource lists images from the store but its watch never delivers anything, so that
// images created after the list stay out of the index.
type frozenSource struct{ *genericregistry.Store }

func (s frozenSource) Watch(context.Context, *metainternalversion.ListOptions) (watch.Interface, error) {
	return watch.NewFake(), nil
}

func createImage(t *testing.T, env *registrytest.StreamEnv, n int, layers ...int) {
	t.Helper()
	img := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest(n)}, DockerImageReference: "registry.test/ns/app@" + digest(n)}
	for _, l := range layers {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{Name: digest(l), LayerSize: int64(l), MediaType: "application/octet-stream"})
	}
	if _, err := env.Images.Create(genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone), img, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// putStream stores a stream with one tag whose history is images, straight into storage.
func putStream(t *testing.T, env *registrytest.StreamEnv, namespace, name string, images ...string) {
	t.Helper()
	ctx := genericapirequest.WithNamespace(context.Background(), namespace)
	stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, UID: "uid-" + types.UID(name), Annotations: map[string]string{"note": "kept"}}}
	list := imagev1.NamedTagEventList{Tag: "latest"}
	for _, img := range images {
		list.Items = append(list.Items, imagev1.TagEvent{Image: img, DockerImageReference: "registry.test/ns/app@" + img})
	}
	stream.Status.Tags = []imagev1.NamedTagEventList{list}
	key, err := env.Streams.KeyFunc(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Streams.Storage.Create(ctx, key, stream, &imagev1.ImageStream{}, 0, false); err != nil {
		t.Fatal(err)
	}
}

func runIndex(t *testing.T, x *imageindex.Index, source imageindex.ImageSource) {
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx, source) }()
	t.Cleanup(func() { stop(); <-done })
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return x.Synced(), nil
	}); err != nil {
		t.Fatal("the index never synced")
	}
}

func TestLayersREST(t *testing.T) {
	env := registrytest.NewStreamEnv(t)
	x := imageindex.New()
	r := imagestreamlayers.NewREST(x, env.Streams.Store, env.Images.Store)
	ctx := genericapirequest.WithNamespace(context.Background(), "ns")

	_, err := r.Get(ctx, "app", &metav1.GetOptions{})
	if se, ok := err.(apierrors.APIStatus); !ok || se.Status().Code != 504 || !apierrors.IsServerTimeout(err) {
		t.Fatalf("before the index synced: %v, want 504 ServerTimeout", err)
	}

	createImage(t, env, 1, 100, 101)
	runIndex(t, x, frozenSource{env.Images.Store})
	// Created after the list: only etcd knows it.
	createImage(t, env, 2, 100, 102)
	putStream(t, env, "ns", "app", digest(2), digest(1), digest(3))

	obj, err := r.Get(ctx, "app", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	isl := obj.(*imagev1.ImageStreamLayers)
	if isl.Name != "app" || isl.Namespace != "ns" || isl.UID == "" || isl.ResourceVersion == "" || isl.Annotations["note"] != "kept" {
		t.Errorf("metadata is not the stream's: %+v", isl.ObjectMeta)
	}
	if refs := isl.Images[digest(2)]; refs.ImageMissing || len(refs.Layers) != 2 || refs.Layers[1] != digest(102) {
		t.Errorf("image absent from the index but in etcd: %+v", refs)
	}
	if refs := isl.Images[digest(3)]; !refs.ImageMissing {
		t.Errorf("image in neither: %+v, want imageMissing", refs)
	}
	if b := isl.Blobs[digest(102)]; b.LayerSize == nil || *b.LayerSize != 102 {
		t.Errorf("blob of the image read from etcd: %+v", b)
	}
	if _, ok := x.Get(digest(2)); !ok {
		t.Error("the image read from etcd was not added to the index")
	}

	_, err = r.Get(ctx, "nope", &metav1.GetOptions{})
	if !apierrors.IsNotFound(err) || err.Error() != `imagestreams.image.openshift.io "nope" not found` {
		t.Errorf("missing stream: %v", err)
	}
}
