package streamcache_test

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	imagev1 "github.com/openshift/api/image/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	serverstorage "k8s.io/apiserver/pkg/server/storage"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
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

// teeRecorder records what a tee sees, as "type ns/name@rev".
type teeRecorder struct{ seen []string }

func (r *teeRecorder) BeginReplace() listwatch.Replacement { return nopReplacement{} }
func (r *teeRecorder) Apply(eventType watch.EventType, obj runtime.Object) error {
	s := obj.(*imagev1.ImageStream)
	r.seen = append(r.seen, fmt.Sprintf("%s %s/%s@%s", eventType, s.Namespace, s.Name, s.ResourceVersion))
	return nil
}

type nopReplacement struct{}

func (nopReplacement) Add([]runtime.Object) error { return nil }
func (nopReplacement) Finish(string)              {}
func (nopReplacement) Abort()                     {}

// TestCommittedAheadOfTheWatch: the writer's commits and the watch's events arrive in either
// order; the cache (and its tee) keeps the newest revision of each stream, never goes back,
// leaves to the watch what it has gone past, and tells the watch which changes to skip.
func TestCommittedAheadOfTheWatch(t *testing.T) {
	at := func(name string, rev int) *imagev1.ImageStream {
		return &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name, ResourceVersion: fmt.Sprint(rev)}}
	}
	held := func(c *streamcache.Cache, name string) int64 {
		_, rev, ok := c.Get("ns", name)
		if !ok {
			return 0
		}
		return rev
	}
	type step struct {
		commit *imagev1.ImageStream // Committed, else an event
		event  watch.EventType
		obj    *imagev1.ImageStream
	}
	commit := func(s *imagev1.ImageStream) step { return step{commit: s} }
	event := func(t watch.EventType, s *imagev1.ImageStream) step { return step{event: t, obj: s} }
	for _, tc := range []struct {
		name     string
		steps    []step
		stream   string
		wantRev  int64
		wantTee  []string
		known    map[int64]bool // Known("ns/<stream>", rev) afterwards
		unsynced bool
	}{
		{
			name:    "commit, then its event: the event is known and changes nothing",
			steps:   []step{commit(at("a", 12)), event(watch.Modified, at("a", 12))},
			stream:  "a",
			wantRev: 12,
			wantTee: []string{"MODIFIED ns/a@12"},
			known:   map[int64]bool{11: true, 12: true, 13: false},
		},
		{
			name:    "event before the commit: the commit is the watch's already",
			steps:   []step{event(watch.Modified, at("a", 12)), commit(at("a", 12))},
			stream:  "a",
			wantRev: 12,
			wantTee: []string{"MODIFIED ns/a@12"},
		},
		{
			name:    "a later event replaces a commit",
			steps:   []step{commit(at("a", 12)), event(watch.Modified, at("a", 14))},
			stream:  "a",
			wantRev: 14,
			wantTee: []string{"MODIFIED ns/a@12", "MODIFIED ns/a@14"},
		},
		{
			name:    "an older event does not replace a commit",
			steps:   []step{commit(at("a", 14)), event(watch.Modified, at("a", 12))},
			stream:  "a",
			wantRev: 14,
			wantTee: []string{"MODIFIED ns/a@14"},
		},
		{
			name:    "a commit the watch went past (another stream's event) is left to the watch",
			steps:   []step{event(watch.Modified, at("b", 15)), commit(at("a", 14))},
			stream:  "a",
			wantRev: 0,
			wantTee: []string{"MODIFIED ns/b@15"},
		},
		{
			name:    "a bookmark moves the watch past a commit",
			steps:   []step{event(watch.Bookmark, at("", 15)), commit(at("a", 14))},
			stream:  "a",
			wantRev: 0,
			wantTee: []string{"BOOKMARK ns/@15"},
		},
		{
			name:    "a deletion after a commit removes it, and a late commit does not bring it back",
			steps:   []step{commit(at("a", 12)), event(watch.Deleted, at("a", 16)), commit(at("a", 13))},
			stream:  "a",
			wantRev: 0,
			wantTee: []string{"MODIFIED ns/a@12", "DELETED ns/a@16"},
			known:   map[int64]bool{12: false},
		},
		{
			name:    "a deletion older than a commit (the stream was created again) keeps it",
			steps:   []step{commit(at("a", 20)), event(watch.Deleted, at("a", 18))},
			stream:  "a",
			wantRev: 20,
			wantTee: []string{"MODIFIED ns/a@20"},
		},
		{
			name:     "before the list is loaded commits are ignored",
			steps:    []step{commit(at("a", 12))},
			stream:   "a",
			unsynced: true,
			known:    map[int64]bool{12: false},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := streamcache.New(0)
			tee := &teeRecorder{}
			c.SetTee(tee)
			if !tc.unsynced {
				r := c.BeginReplace()
				r.Finish("10")
			}
			for _, s := range tc.steps {
				if s.commit != nil {
					c.Committed(s.commit, nil)
					continue
				}
				if err := c.Apply(s.event, s.obj); err != nil {
					t.Fatal(err)
				}
			}
			if got := held(c, tc.stream); got != tc.wantRev {
				t.Errorf("holds %s at %d, want %d", tc.stream, got, tc.wantRev)
			}
			if fmt.Sprint(tee.seen) != fmt.Sprint(tc.wantTee) {
				t.Errorf("the tee saw %q, want %q", tee.seen, tc.wantTee)
			}
			for rev, want := range tc.known {
				if got := c.Known("ns/"+tc.stream, rev); got != want {
					t.Errorf("Known(ns/%s, %d) = %v, want %v", tc.stream, rev, got, want)
				}
			}
		})
	}
}

// TestCommittedKeepsTheStoredEncoding: given the stream's protobuf storage encoding, the cache
// keeps the stream's own encoding from inside it (no second encoding); given another encoding,
// it encodes the stream itself. Readers get the same stream either way, at the commit's
// resourceVersion.
func TestCommittedKeepsTheStoredEncoding(t *testing.T) {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", UID: "uid-1", Labels: map[string]string{"team": "a"}},
		Spec:       imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "latest"}}},
		Status: imagev1.ImageStreamStatus{DockerImageRepository: "registry.test/ns/app", Tags: []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{
			{DockerImageReference: "registry.test/ns/app@sha256:0000000000000000000000000000000000000000000000000000000000000001", Image: "sha256:0000000000000000000000000000000000000000000000000000000000000001", Generation: 1},
		}}}},
	}
	codecs := serializer.NewCodecFactory(apiserver.Scheme)
	for _, tc := range []struct {
		mediaType string
		kept      bool
	}{
		{runtime.ContentTypeProtobuf, true},
		{runtime.ContentTypeJSON, false},
	} {
		t.Run(tc.mediaType, func(t *testing.T) {
			codec, _, err := serverstorage.NewStorageCodec(serverstorage.StorageCodecConfig{
				StorageMediaType: tc.mediaType, StorageSerializer: codecs,
				StorageVersion: imagev1.GroupVersion, MemoryVersion: imagev1.GroupVersion,
			})
			if err != nil {
				t.Fatal(err)
			}
			// As storage encodes it: without a resourceVersion.
			encoded, err := runtime.Encode(codec, stream)
			if err != nil {
				t.Fatal(err)
			}
			c := streamcache.New(0)
			c.BeginReplace().Finish("10")
			committed := stream.DeepCopy()
			committed.ResourceVersion = "12"
			c.Committed(committed, encoded)

			got, rev, ok := c.Get("ns", "app")
			if !ok || rev != 12 || got.ResourceVersion != "12" {
				t.Fatalf("Get: ok %v rev %d resourceVersion %q, want the commit at 12", ok, rev, got.ResourceVersion)
			}
			got.ResourceVersion = ""
			if !apiequality.Semantic.DeepEqual(got, stream) {
				t.Errorf("Get returned %+v, want %+v", got, stream)
			}
			held := streamcache.HeldData(c, "ns", "app")
			start, end := uintptr(unsafe.Pointer(unsafe.SliceData(encoded))), uintptr(unsafe.Pointer(unsafe.SliceData(encoded)))+uintptr(len(encoded))
			inside := uintptr(unsafe.Pointer(unsafe.SliceData(held))) >= start && uintptr(unsafe.Pointer(unsafe.SliceData(held))) < end
			if inside != tc.kept {
				t.Errorf("the cache kept a part of the given encoding: %v, want %v", inside, tc.kept)
			}
		})
	}
}
