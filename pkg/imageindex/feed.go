package imageindex

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
)

// ImageSource lists and watches Images: the images storage of the server (its watch cache
// when enabled, else etcd).
type ImageSource interface {
	rest.Lister
	rest.Watcher
}

// defaultPageSize is how many images one list request returns: a relist of the whole cluster
// holds one page of full Images at a time, never the whole list.
const defaultPageSize = 500

// retryDelay is the pause before listing or watching again after an error.
const retryDelay = time.Second

// Run feeds the index from source until ctx ends: a paged list, then a watch from the list's
// revision. A watch that ends is resumed from the last revision applied; only when that
// revision has been compacted away (410 Gone) does the index list again, and the new list
// replaces its content.
func (x *Index) Run(ctx context.Context, source ImageSource) {
	x.mu.RLock()
	disabled := x.disabled
	x.mu.RUnlock()
	if disabled {
		return
	}
	logger := klog.FromContext(ctx).WithName("image-index")
	rv := ""
	for ctx.Err() == nil {
		var err error
		if rv == "" {
			if rv, err = x.relist(ctx, source); err != nil {
				rv = ""
				logger.Info("Listing images failed; retrying", "err", err)
				sleep(ctx, retryDelay)
				continue
			}
		}
		var gone bool
		rv, gone, err = x.follow(ctx, source, rv)
		switch {
		case ctx.Err() != nil:
			return
		case gone:
			logger.V(2).Info("Image watch revision compacted; listing again", "err", err)
			rv = ""
		case err != nil:
			logger.Info("Image watch failed; resuming", "resourceVersion", rv, "err", err)
			sleep(ctx, retryDelay)
		}
	}
}

// relist loads the whole list page by page into a new content, which replaces the index's
// when complete; readers see the old content until then. It returns the list's revision.
func (x *Index) relist(ctx context.Context, source ImageSource) (string, error) {
	b := x.beginReplace()
	options := &metainternalversion.ListOptions{Limit: x.pageSize}
	for {
		obj, err := source.List(clusterScoped(ctx), options)
		if err != nil {
			b.abort()
			return "", err
		}
		list, ok := obj.(*imagev1.ImageList)
		if !ok {
			b.abort()
			return "", fmt.Errorf("image index: unexpected list %T", obj)
		}
		b.add(list.Items)
		if list.Continue == "" {
			b.finish(list.ResourceVersion)
			// A relist decodes every Image of the cluster once: hundreds of megabytes that are
			// garbage now. Return them to the system at once rather than over minutes, so that
			// the server's footprint after a start is what it keeps.
			debug.FreeOSMemory()
			return list.ResourceVersion, nil
		}
		options = &metainternalversion.ListOptions{Limit: x.pageSize, Continue: list.Continue}
	}
}

// follow applies the watch's events from rv until the watch ends, and returns the last
// revision applied and whether the watch ended because rv is too old (410 Gone).
func (x *Index) follow(ctx context.Context, source ImageSource, rv string) (string, bool, error) {
	w, err := source.Watch(clusterScoped(ctx), &metainternalversion.ListOptions{Watch: true, ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err), err
	}
	defer w.Stop()
	f := feed{x}
	for {
		select {
		case <-ctx.Done():
			return rv, false, nil
		case e, ok := <-w.ResultChan():
			if !ok {
				return rv, false, errors.New("the watch ended")
			}
			if e.Type == watch.Error {
				err := apierrors.FromObject(e.Object)
				return rv, apierrors.IsResourceExpired(err) || apierrors.IsGone(err), err
			}
			// The watch cache, when enabled, sends each object wrapped for its serialization
			// cache.
			if cached, ok := e.Object.(runtime.CacheableObject); ok {
				e.Object = cached.GetObject()
			}
			img, err := asImage(e.Object)
			if err != nil {
				return rv, false, err
			}
			switch e.Type {
			case watch.Added, watch.Modified:
				err = f.Update(img)
			case watch.Deleted:
				err = f.Delete(img)
			case watch.Bookmark:
				f.Bookmark(img)
			}
			if err != nil {
				return rv, false, err
			}
			if img.ResourceVersion != "" {
				rv = img.ResourceVersion
			}
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// clusterScoped marks ctx as a request for cluster-scoped objects, as the generic store
// expects of every request context.
func clusterScoped(ctx context.Context) context.Context {
	return genericapirequest.WithNamespace(ctx, metav1.NamespaceNone)
}

// feed applies watch events to the index.
type feed struct {
	x *Index
}

func asImage(obj interface{}) (*imagev1.Image, error) {
	img, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image index: unexpected object %T", obj)
	}
	return img, nil
}

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

// Bookmark records the revision a bookmark carries.
func (f feed) Bookmark(img *imagev1.Image) {
	rv, _ := strconv.ParseUint(img.ResourceVersion, 10, 64)
	f.x.mu.Lock()
	defer f.x.mu.Unlock()
	f.x.seen(rv)
}
