package rawwatch_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/rawwatch"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

type env struct {
	streams *imagestream.REST
	source  rawwatch.Source
	client  *clientv3.Client
}

func newEnv(t *testing.T) env {
	t.Helper()
	storage := registrytest.NewStorage(t)
	// Encrypted at rest: the watch must decrypt as the Store does.
	getter := registrytest.TransformingGetter{RESTOptionsGetter: storage, Transformer: registrytest.NewAESGCM(t)}
	streams, _, err := imagestream.NewREST(apiserver.Scheme, getter, imagestream.RegistryHostnames{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(streams.Store.DestroyFunc)
	resource, err := txn.ResourceFor(streams.Store, getter)
	if err != nil {
		t.Fatal(err)
	}
	client, err := txn.NewClient(t.Context(), storage.Config.Transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	return env{streams: streams, source: rawwatch.Source{Lister: streams.Store, Client: client, Resource: resource}, client: client}
}

func nsCtx(t *testing.T, ns string) context.Context {
	return genericapirequest.WithNamespace(t.Context(), ns)
}

func (e env) listRV(t *testing.T) string {
	t.Helper()
	obj, err := e.source.List(nsCtx(t, metav1.NamespaceAll), &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	list, err := meta.ListAccessor(obj)
	if err != nil {
		t.Fatal(err)
	}
	return list.GetResourceVersion()
}

func (e env) create(t *testing.T, ns, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := e.streams.Create(nsCtx(t, ns), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.ImageStream)
}

func next(t *testing.T, w watch.Interface) watch.Event {
	t.Helper()
	select {
	case e, ok := <-w.ResultChan():
		if !ok {
			t.Fatal("the watch ended")
		}
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no watch event within 30 s")
	}
	return watch.Event{}
}

// TestWatchSeesWhatTheStoreSees: creates, updates and deletes through the Store arrive as the
// Store's objects (decrypted and decoded, resourceVersion set), deletions named by their key.
func TestWatchSeesWhatTheStoreSees(t *testing.T) {
	e := newEnv(t)
	rv := e.listRV(t)
	w, err := e.source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: rv})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	created := e.create(t, "ns1", "app")
	ev := next(t, w)
	if ev.Type != watch.Added {
		t.Fatalf("event %s, want ADDED", ev.Type)
	}
	got := ev.Object.(*imagev1.ImageStream)
	if got.Namespace != "ns1" || got.Name != "app" || got.UID != created.UID || got.ResourceVersion != created.ResourceVersion {
		t.Errorf("added %s/%s uid %s rv %s, want ns1/app uid %s rv %s", got.Namespace, got.Name, got.UID, got.ResourceVersion, created.UID, created.ResourceVersion)
	}

	created.Annotations = map[string]string{"color": "blue"}
	updatedObj, _, err := e.streams.Update(nsCtx(t, "ns1"), "app", rest.DefaultUpdatedObjectInfo(created), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	updated := updatedObj.(*imagev1.ImageStream)
	ev = next(t, w)
	if ev.Type != watch.Modified || ev.Object.(*imagev1.ImageStream).Annotations["color"] != "blue" || ev.Object.(*imagev1.ImageStream).ResourceVersion != updated.ResourceVersion {
		t.Errorf("event %s %+v, want MODIFIED with the annotation at rv %s", ev.Type, ev.Object, updated.ResourceVersion)
	}

	if _, _, err := e.streams.Delete(nsCtx(t, "ns1"), "app", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ev = next(t, w)
	deleted := ev.Object.(*imagev1.ImageStream)
	if ev.Type != watch.Deleted || deleted.Namespace != "ns1" || deleted.Name != "app" {
		t.Errorf("event %s %s/%s, want DELETED ns1/app", ev.Type, deleted.Namespace, deleted.Name)
	}
	if n, _ := strconv.ParseInt(deleted.ResourceVersion, 10, 64); n <= 0 {
		t.Errorf("deletion resourceVersion %q, want the deletion's revision", deleted.ResourceVersion)
	}
}

// TestWatchResumesAfterARevision: a watch from a revision sees only what came after it.
func TestWatchResumesAfterARevision(t *testing.T) {
	e := newEnv(t)
	first := e.create(t, "ns1", "first")
	e.create(t, "ns1", "second")
	w, err := e.source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if ev := next(t, w); ev.Object.(*imagev1.ImageStream).Name != "second" {
		t.Errorf("first event is %s, want second", ev.Object.(*imagev1.ImageStream).Name)
	}
}

// TestWatchOfACompactedRevisionIsExpired: the 410 that makes listwatch list again.
func TestWatchOfACompactedRevisionIsExpired(t *testing.T) {
	e := newEnv(t)
	first := e.create(t, "ns1", "first")
	e.create(t, "ns1", "second")
	last := e.create(t, "ns1", "third")
	rev, _ := strconv.ParseInt(last.ResourceVersion, 10, 64)
	if _, err := e.client.Compact(t.Context(), rev); err != nil {
		t.Fatal(err)
	}
	w, err := e.source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: first.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	ev := next(t, w)
	if ev.Type != watch.Error {
		t.Fatalf("event %s, want ERROR", ev.Type)
	}
	if err := apierrors.FromObject(ev.Object); !apierrors.IsResourceExpired(err) {
		t.Errorf("error %v, want resource expired", err)
	}
}

// TestWatchBookmarks: etcd's progress notifications are bookmarks at the current revision.
func TestWatchBookmarks(t *testing.T) {
	e := newEnv(t)
	created := e.create(t, "ns1", "app")
	w, err := e.source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: created.ResourceVersion, AllowWatchBookmarks: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	// etcd reports progress only once the revision has reached where the watch starts: move it
	// with a write outside the resource.
	put, err := e.client.Put(t.Context(), "/unrelated", "x")
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatInt(put.Header.Revision, 10)
	// The first progress request may reach etcd before the watch is registered: ask until a
	// bookmark arrives.
	deadline := time.After(30 * time.Second)
	for {
		if err := e.client.RequestProgress(clientv3.WithRequireLeader(t.Context())); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-w.ResultChan():
			if ev.Type != watch.Bookmark {
				t.Fatalf("event %s %#v, want BOOKMARK", ev.Type, ev.Object)
			}
			if got := ev.Object.(*imagev1.ImageStream).ResourceVersion; got != want {
				t.Errorf("bookmark at %s, want %s", got, want)
			}
			return
		case <-deadline:
			t.Fatal("no bookmark within 30 s")
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func TestWatchNeedsARevision(t *testing.T) {
	e := newEnv(t)
	for _, rv := range []string{"", "0", "abc"} {
		if _, err := e.source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: rv}); !apierrors.IsBadRequest(err) {
			t.Errorf("resourceVersion %q: %v, want a bad request", rv, err)
		}
	}
}

// TestWatchSkipsKnownChanges: puts the consumer says it holds are neither decoded nor
// delivered; a bookmark at the skipped revision follows when bookmarks are allowed, and
// deletions always arrive.
func TestWatchSkipsKnownChanges(t *testing.T) {
	for _, bookmarks := range []bool{true, false} {
		t.Run("bookmarks="+strconv.FormatBool(bookmarks), func(t *testing.T) {
			e := newEnv(t)
			rv := e.listRV(t)
			var asked []string
			source := e.source
			source.Known = func(key string, modRevision int64) bool {
				asked = append(asked, key)
				return key == "ns1/known"
			}
			w, err := source.Watch(t.Context(), &metainternalversion.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: bookmarks})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()

			known := e.create(t, "ns1", "known")
			if bookmarks {
				ev := next(t, w)
				if ev.Type != watch.Bookmark || ev.Object.(*imagev1.ImageStream).ResourceVersion != known.ResourceVersion {
					t.Fatalf("event %s at %s, want a BOOKMARK at the skipped revision %s", ev.Type, ev.Object.(*imagev1.ImageStream).ResourceVersion, known.ResourceVersion)
				}
			}
			other := e.create(t, "ns1", "other")
			if ev := next(t, w); ev.Type != watch.Added || ev.Object.(*imagev1.ImageStream).Name != "other" || ev.Object.(*imagev1.ImageStream).ResourceVersion != other.ResourceVersion {
				t.Fatalf("event %s %s, want ADDED other", ev.Type, ev.Object.(*imagev1.ImageStream).Name)
			}
			if _, _, err := e.streams.Delete(nsCtx(t, "ns1"), "known", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
				t.Fatal(err)
			}
			if ev := next(t, w); ev.Type != watch.Deleted || ev.Object.(*imagev1.ImageStream).Name != "known" {
				t.Fatalf("event %s %s, want DELETED known", ev.Type, ev.Object.(*imagev1.ImageStream).Name)
			}
			if want := []string{"ns1/known", "ns1/other"}; strings.Join(asked, ",") != strings.Join(want, ",") {
				t.Errorf("Known asked about %q, want %q (keys relative to the prefix; deletions not asked)", asked, want)
			}
		})
	}
}
