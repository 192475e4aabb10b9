package streamcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/streamcache"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	}); err != nil {
		t.Fatalf("timed out waiting until %s", what)
	}
}

// TestFeedFromEtcd: the cache lists the streams of every namespace (several pages), follows
// creates, updates and deletes, and hands out each stream with its revision.
func TestFeedFromEtcd(t *testing.T) {
	storage := registrytest.NewStorage(t)
	streams, _, err := imagestream.NewREST(apiserver.Scheme, storage, imagestream.RegistryHostnames{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(streams.Destroy)
	create := func(ns, name string) *imagev1.ImageStream {
		ctx := genericapirequest.WithNamespace(context.Background(), ns)
		obj, err := streams.Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*imagev1.ImageStream)
	}
	for i := 0; i < 5; i++ {
		create(fmt.Sprintf("ns%d", i%2), fmt.Sprintf("s%d", i))
	}
	c := streamcache.New(0)
	streamcache.SetPageSize(c, 2)
	if _, _, ok := c.Get("ns0", "s0"); ok {
		t.Fatal("an unsynced cache answered")
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx, streams.Store) }()
	t.Cleanup(func() { stop(); <-done })

	eventually(t, "the cache holds the listed streams", func() bool { return c.Synced() && c.Len() == 5 })
	created := create("ns1", "new")
	eventually(t, "a created stream is cached", func() bool {
		got, rev, ok := c.Get("ns1", "new")
		return ok && got.UID == created.UID && fmt.Sprint(rev) == created.ResourceVersion
	})
	ctx0 := genericapirequest.WithNamespace(context.Background(), "ns0")
	if _, _, err := streams.Delete(ctx0, "s0", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a deleted stream leaves the cache", func() bool { _, _, ok := c.Get("ns0", "s0"); return !ok })
	if c.Bytes() <= 0 {
		t.Errorf("bytes %d", c.Bytes())
	}
}

// TestByteBound: streams beyond the bound are not held, and their readers go to etcd.
func TestByteBound(t *testing.T) {
	stream := func(i int) *imagev1.ImageStream {
		return &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: fmt.Sprintf("s%d", i), ResourceVersion: fmt.Sprint(i + 1)}}
	}
	probe := streamcache.New(0)
	_ = probe.Apply(watch.Added, stream(0))
	each := probe.Bytes()

	c := streamcache.New(2*each + each/2)
	r := c.BeginReplace()
	if err := r.Add([]runtime.Object{stream(0), stream(1), stream(2)}); err != nil {
		t.Fatal(err)
	}
	r.Finish("10")
	if c.Len() != 2 || c.Bytes() != 2*each {
		t.Errorf("bounded to 2.5 streams: %d streams, %d bytes", c.Len(), c.Bytes())
	}
	if err := c.Apply(watch.Added, stream(3)); err != nil {
		t.Fatal(err)
	}
	if _, _, ok := c.Get("ns", "s3"); ok || c.Len() != 2 {
		t.Errorf("a stream beyond the bound was cached: %d streams", c.Len())
	}
	// Deleting one makes room again.
	if err := c.Apply(watch.Deleted, stream(0)); err != nil {
		t.Fatal(err)
	}
	if err := c.Apply(watch.Modified, stream(3)); err != nil {
		t.Fatal(err)
	}
	if _, rev, ok := c.Get("ns", "s3"); !ok || rev != 4 {
		t.Errorf("after room was made: cached %v at %d", ok, rev)
	}
}
