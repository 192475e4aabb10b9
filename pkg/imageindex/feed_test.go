package imageindex_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/imageindex"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
)

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func storedImage(n int, layers ...int) *imagev1.Image {
	img := &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digest(n)},
		DockerImageReference: "registry.test/ns/app@" + digest(n),
	}
	for _, l := range layers {
		img.DockerImageLayers = append(img.DockerImageLayers, imagev1.ImageLayer{Name: digest(l), LayerSize: int64(l), MediaType: "application/octet-stream"})
	}
	return img
}

// eventually polls cond (the index is fed asynchronously) with a generous no-hang bound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}

// TestFeedFromEtcd: list, watch and delete through the images store on a real etcd.
func TestFeedFromEtcd(t *testing.T) {
	storage := registrytest.NewStorage(t)
	images, err := imageregistry.NewREST(apiserver.Scheme, storage)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(images.Destroy)
	ctx := genericapirequest.WithNamespace(context.Background(), metav1.NamespaceNone)
	for _, img := range []*imagev1.Image{storedImage(1, 100, 101), storedImage(2, 100, 102)} {
		if _, err := images.Create(ctx, img, nil, &metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	x := imageindex.New()
	imageindex.SetPageSize(x, 1) // two images: two pages
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); x.Run(runCtx, images) }()
	t.Cleanup(func() { stop(); <-done })

	eventually(t, "the index has synced", x.Synced)
	if got, ok := x.Get(digest(1)); !ok || len(got.Layers) != 2 || got.Layers[1].Digest != digest(101) || got.Layers[1].Size != 101 {
		t.Fatalf("listed image: %+v, %v", got, ok)
	}

	if _, err := images.Create(ctx, storedImage(3, 100, 103), nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a created image is indexed", func() bool { _, ok := x.Get(digest(3)); return ok })

	if _, _, err := images.Delete(ctx, digest(1), rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted image leaves the index", func() bool { _, ok := x.Get(digest(1)); return !ok })
	if x.Len() != 2 {
		t.Errorf("%d images indexed, want 2", x.Len())
	}
	// Learn cannot resurrect the deleted image: the feed has seen a later revision.
	deleted := storedImage(1, 100, 101)
	deleted.ResourceVersion = "1"
	x.Learn(deleted)
	if _, ok := x.Get(digest(1)); ok {
		t.Error("Learn re-added an image the feed had deleted")
	}
}

// fakeSource serves a scripted sequence of lists; each watch ends at once with 410 Gone, as
// when the watched revision has been compacted.
type fakeSource struct {
	mu    sync.Mutex
	lists [][]imagev1.Image
	calls int
}

func (f *fakeSource) List(context.Context, *metainternalversion.ListOptions) (runtime.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := min(f.calls, len(f.lists)-1)
	f.calls++
	return &imagev1.ImageList{ListMeta: metav1.ListMeta{ResourceVersion: fmt.Sprint(10 * f.calls)}, Items: f.lists[i]}, nil
}

func (f *fakeSource) NewList() runtime.Object { return &imagev1.ImageList{} }

func (f *fakeSource) Watch(context.Context, *metainternalversion.ListOptions) (watch.Interface, error) {
	w := watch.NewFakeWithChanSize(1, false)
	w.Error(&apierrors.NewResourceExpired("too old resource version").ErrStatus)
	return w, nil
}

func (f *fakeSource) ConvertToTable(context.Context, runtime.Object, runtime.Object) (*metav1.Table, error) {
	return nil, nil
}

// TestRelistAfterGone: a watch ending with 410 makes the index list again and take the new
// list as its whole content.
func TestRelistAfterGone(t *testing.T) {
	src := &fakeSource{lists: [][]imagev1.Image{{*storedImage(1, 100)}, {*storedImage(2, 100)}}}
	for i := range src.lists {
		for j := range src.lists[i] {
			src.lists[i][j].ResourceVersion = "5"
		}
	}
	x := imageindex.New()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); x.Run(ctx, src) }()
	t.Cleanup(func() { stop(); <-done })
	eventually(t, "the relisted content replaces the first", func() bool {
		_, has1 := x.Get(digest(1))
		_, has2 := x.Get(digest(2))
		return !has1 && has2
	})
}
