// Package listwatch keeps an in-memory copy of a resource current: a list, page by page, then
// a watch from the list's revision, resumed where it ended, and a new list only when that
// revision has been compacted away. It is what the image index and the stream cache are fed
// by: unlike the apiserver's watch cache it keeps no history of recent events, and unlike
// client-go's reflector it never holds a whole list at once.
package listwatch

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"
)

// Source lists and watches a resource across all namespaces: a REST store of the server.
type Source interface {
	rest.Lister
	rest.Watcher
}

// Sink is the in-memory copy.
type Sink interface {
	// BeginReplace starts loading a full list beside the current content, which readers keep
	// seeing until the replacement finishes.
	BeginReplace() Replacement
	// Apply applies one watch event (added, modified, deleted or bookmark).
	Apply(eventType watch.EventType, obj runtime.Object) error
}

// Replacement is a full list being loaded.
type Replacement interface {
	// Add adds one page of objects.
	Add(objs []runtime.Object) error
	// Finish makes the loaded content current, as of the list's resourceVersion.
	Finish(resourceVersion string)
	// Abort drops the loaded content.
	Abort()
}

// DefaultPageSize is how many objects one list request returns.
const DefaultPageSize = 500

// retryDelay is the pause before listing or watching again after an error.
const retryDelay = time.Second

// Run feeds sink from source until ctx ends, listing pageSize objects a page.
func Run(ctx context.Context, name string, source Source, sink Sink, pageSize int64) {
	logger := klog.FromContext(ctx).WithName(name)
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceAll)
	rv := ""
	for ctx.Err() == nil {
		var err error
		if rv == "" {
			if rv, err = relist(ctx, source, sink, pageSize); err != nil {
				rv = ""
				logger.Info("Listing failed; retrying", "err", err)
				sleep(ctx, retryDelay)
				continue
			}
		}
		var gone bool
		rv, gone, err = follow(ctx, source, sink, rv)
		switch {
		case ctx.Err() != nil:
			return
		case gone:
			logger.V(2).Info("Watched revision compacted; listing again", "err", err)
			rv = ""
		case err != nil:
			logger.Info("Watch failed; resuming", "resourceVersion", rv, "err", err)
			sleep(ctx, retryDelay)
		}
	}
}

// relist loads the whole list page by page into a replacement and returns its revision.
func relist(ctx context.Context, source Source, sink Sink, pageSize int64) (string, error) {
	r := sink.BeginReplace()
	options := &metainternalversion.ListOptions{Limit: pageSize}
	for {
		obj, err := source.List(ctx, options)
		if err != nil {
			r.Abort()
			return "", err
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			r.Abort()
			return "", err
		}
		if err := r.Add(items); err != nil {
			r.Abort()
			return "", err
		}
		list, err := meta.ListAccessor(obj)
		if err != nil {
			r.Abort()
			return "", err
		}
		if list.GetContinue() == "" {
			r.Finish(list.GetResourceVersion())
			// A relist decodes every object once: for images, hundreds of megabytes that are
			// garbage now. Return them to the system at once rather than over minutes, so that
			// the server's footprint after a start is what it keeps.
			debug.FreeOSMemory()
			return list.GetResourceVersion(), nil
		}
		options = &metainternalversion.ListOptions{Limit: pageSize, Continue: list.GetContinue()}
	}
}

// follow applies the watch's events from rv until the watch ends, and returns the last
// revision applied and whether the watch ended because rv is too old (410 Gone).
func follow(ctx context.Context, source Source, sink Sink, rv string) (string, bool, error) {
	w, err := source.Watch(ctx, &metainternalversion.ListOptions{Watch: true, ResourceVersion: rv, AllowWatchBookmarks: true})
	if err != nil {
		return rv, expired(err), err
	}
	defer w.Stop()
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
				return rv, expired(err), err
			}
			// The watch cache, when enabled, sends each object wrapped for its serialization
			// cache.
			if cached, ok := e.Object.(runtime.CacheableObject); ok {
				e.Object = cached.GetObject()
			}
			if err := sink.Apply(e.Type, e.Object); err != nil {
				return rv, false, err
			}
			m, err := meta.Accessor(e.Object)
			if err != nil {
				return rv, false, fmt.Errorf("watch event without metadata: %w", err)
			}
			if v := m.GetResourceVersion(); v != "" {
				rv = v
			}
		}
	}
}

func expired(err error) bool { return apierrors.IsResourceExpired(err) || apierrors.IsGone(err) }

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ListAll lists every object of source, page by page, handing each to f.
func ListAll(ctx context.Context, source Source, pageSize int64, f func(runtime.Object)) error {
	ctx = genericapirequest.WithNamespace(ctx, metav1.NamespaceAll)
	options := &metainternalversion.ListOptions{Limit: pageSize}
	for {
		obj, err := source.List(ctx, options)
		if err != nil {
			return err
		}
		items, err := meta.ExtractList(obj)
		if err != nil {
			return err
		}
		for _, item := range items {
			f(item)
		}
		list, err := meta.ListAccessor(obj)
		if err != nil {
			return err
		}
		if list.GetContinue() == "" {
			return nil
		}
		options = &metainternalversion.ListOptions{Limit: pageSize, Continue: list.GetContinue()}
	}
}
