package imageindex

import (
	"context"
	"fmt"
	"strconv"

	imagev1 "github.com/openshift/api/image/v1"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/tools/cache"
)

// ImageSource lists and watches Images: the images storage of the server (its watch cache
// when enabled, else etcd).
type ImageSource interface {
	rest.Lister
	rest.Watcher
}

// Run feeds the index from source until ctx ends: a list, then a watch from the list's
// revision. client-go's Reflector does the loop: on a watch error, or a 410 Gone when the
// revision has been compacted away, it lists again (with backoff), and the list replaces
// the index's content.
func (x *Index) Run(ctx context.Context, source ImageSource) {
	r := cache.NewReflectorWithOptions(listerWatcher{source: source}, &imagev1.Image{}, feed{x}, cache.ReflectorOptions{Name: "image-index"})
	r.RunWithContext(ctx)
}

// listerWatcher adapts a REST store to the Reflector's interface.
type listerWatcher struct {
	source ImageSource
}

var (
	_ cache.ListerWatcher            = listerWatcher{}
	_ cache.ListerWatcherWithContext = listerWatcher{}
)

// List and Watch complete cache.ListerWatcher, which the Reflector's constructor takes; it
// calls the context-aware forms below.
func (l listerWatcher) List(options metav1.ListOptions) (runtime.Object, error) {
	return l.ListWithContext(context.Background(), options)
}

func (l listerWatcher) Watch(options metav1.ListOptions) (watch.Interface, error) {
	return l.WatchWithContext(context.Background(), options)
}

func (l listerWatcher) ListWithContext(ctx context.Context, options metav1.ListOptions) (runtime.Object, error) {
	internal, err := internalOptions(options)
	if err != nil {
		return nil, err
	}
	return l.source.List(clusterScoped(ctx), internal)
}

func (l listerWatcher) WatchWithContext(ctx context.Context, options metav1.ListOptions) (watch.Interface, error) {
	internal, err := internalOptions(options)
	if err != nil {
		return nil, err
	}
	w, err := l.source.Watch(clusterScoped(ctx), internal)
	if err != nil {
		return nil, err
	}
	// The watch cache sends each object wrapped for its serialization cache; the Reflector
	// accepts only the type it was given, so unwrap.
	return watch.Filter(w, func(e watch.Event) (watch.Event, bool) {
		if cached, ok := e.Object.(runtime.CacheableObject); ok {
			e.Object = cached.GetObject()
		}
		return e, true
	}), nil
}

// IsWatchListSemanticsUnSupported makes the Reflector list then watch, instead of one
// streaming watch with initial events, which an undecorated (no watch cache) etcd store does
// not serve.
func (listerWatcher) IsWatchListSemanticsUnSupported() bool { return true }

// clusterScoped marks ctx as a request for cluster-scoped objects, as the generic store
// expects of every request context.
func clusterScoped(ctx context.Context) context.Context {
	return genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
}

func internalOptions(options metav1.ListOptions) (*metainternalversion.ListOptions, error) {
	out := &metainternalversion.ListOptions{}
	if err := metainternalversion.Convert_v1_ListOptions_To_internalversion_ListOptions(&options, out, nil); err != nil {
		return nil, err
	}
	return out, nil
}

// feed applies the Reflector's list and events to the index.
type feed struct {
	x *Index
}

var _ cache.ReflectorStore = feed{}

func asImage(obj interface{}) (*imagev1.Image, error) {
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image index: unexpected object %T", obj)
	}
	return img, nil
}

func (f feed) Add(obj interface{}) error { return f.Update(obj) }

func (f feed) Update(obj interface{}) error {
	img, err := asImage(obj)
	if err != nil {
		return err
	}
	c := compact(img)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.put(c)
	f.x.seen(c.rv)
	f.x.changed()
	return nil
}

func (f feed) Delete(obj interface{}) error {
	img, err := asImage(obj)
	if err != nil {
		return err
	}
	rv, _ := strconv.ParseUint(img.ResourceVersion, 10, 64)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.remove(img.Name)
	f.x.seen(rv)
	f.x.changed()
	return nil
}

// Replace swaps in a full list. Images are compacted before the lock is taken, so that readers
// wait only for the interning; the index counts as synced from the first Replace.
func (f feed) Replace(list []interface{}, resourceVersion string) error {
	compacted := make([]compacted, 0, len(list))
	for _, obj := range list {
		img, err := asImage(obj)
		if err != nil {
			return err
		}
		compacted = append(compacted, compact(img))
	}
	rv, _ := strconv.ParseUint(resourceVersion, 10, 64)
	x := f.x
	x.mu.Lock()
	defer x.mu.Unlock()
	old := x.images
	x.images = make(map[string]*entry, len(compacted))
	for _, c := range compacted {
		x.put(c)
	}
	// Release what the old content held only now, so strings both share stay allocated.
	keep := x.images
	x.images = old
	for name := range old {
		x.remove(name)
	}
	x.images = keep
	// A relist may come from a cache behind an image Learn added: keep the higher mark.
	x.seen(rv)
	x.synced = true
	x.changed()
	return nil
}

// Resync has nothing to do: the index is the store.
func (feed) Resync() error { return nil }
