// Package rawwatch watches one resource straight from etcd, without the previous value of each
// change.
//
// The server's in-memory copies (the stream cache and the image index) only need the new value
// of a change, and the name of what was deleted. The generic etcd3 storage asks etcd for the
// previous value of every change too: etcd then reads it from its backend for each event and
// sends it along, and this server receives it, for every push (the stream it rewrites is a
// kilobyte or more). This watch leaves that out. Values are decoded exactly as the resource's
// Store decodes them (same key, codec, transformer and resourceVersion), so the copies see the
// same objects; lists still go through the Store.
//
// A consumer that learns of some changes before the watch does (a cache the server updates
// as it commits) says so through Source.Known: those changes are neither decoded nor
// delivered, and a bookmark tells the consumer how far the watch has gone past them.
package rawwatch

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// Source lists through Lister (the resource's Store) and watches etcd through Client.
type Source struct {
	rest.Lister
	Client   *clientv3.Client
	Resource *txn.Resource
	// Known, when set, tells whether the consumer holds the object at key (relative to the
	// resource's prefix: "namespace/name", or "name") at modRevision or later already. Such a
	// put is skipped; deletions are always delivered.
	Known func(key string, modRevision int64) bool
}

// Watch watches every object of the resource from just after options.ResourceVersion, which
// must be a revision (a list's resourceVersion). A revision etcd has compacted ends the watch
// with a 410 Expired error event, as the generic storage does. With AllowWatchBookmarks, etcd's
// progress notifications become bookmarks.
func (s Source) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	rev, err := strconv.ParseInt(options.ResourceVersion, 10, 64)
	if err != nil || rev <= 0 {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("watching %s from etcd needs a revision to start after, not resourceVersion %q", s.Resource.GroupResource(), options.ResourceVersion))
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &watcher{cancel: cancel, result: make(chan watch.Event, 100), resource: s.Resource, bookmarks: options.AllowWatchBookmarks, known: s.Known, prefix: s.Resource.Prefix()}
	events := s.Client.Watch(clientv3.WithRequireLeader(ctx), s.Resource.Prefix(),
		clientv3.WithPrefix(), clientv3.WithRev(rev+1), clientv3.WithProgressNotify())
	go w.run(ctx, rev, events)
	return w, nil
}

type watcher struct {
	cancel    context.CancelFunc
	result    chan watch.Event
	resource  *txn.Resource
	bookmarks bool
	known     func(key string, modRevision int64) bool
	prefix    string
}

// Stop ends the watch; ResultChan is closed soon after.
func (w *watcher) Stop() { w.cancel() }

// ResultChan is the watch's events.
func (w *watcher) ResultChan() <-chan watch.Event { return w.result }

func (w *watcher) run(ctx context.Context, rev int64, events clientv3.WatchChan) {
	defer close(w.result)
	defer w.cancel()
	for resp := range events {
		if resp.CompactRevision > 0 {
			w.send(ctx, errorEvent(apierrors.NewResourceExpired(fmt.Sprintf("too old resource version: %d (%d)", rev, resp.CompactRevision))))
			return
		}
		if err := resp.Err(); err != nil {
			w.send(ctx, errorEvent(apierrors.NewInternalError(fmt.Errorf("watching %s in etcd: %w", w.resource.GroupResource(), err))))
			return
		}
		if resp.IsProgressNotify() {
			if w.bookmarks && !w.bookmark(ctx, resp.Header.Revision) {
				return
			}
			continue
		}
		skipped := false
		for _, ev := range resp.Events {
			rev = ev.Kv.ModRevision
			if skipped = w.isKnown(ev); skipped {
				continue
			}
			event, err := w.convert(ctx, ev)
			if err != nil {
				w.send(ctx, errorEvent(apierrors.NewInternalError(err)))
				return
			}
			if !w.send(ctx, event) {
				return
			}
		}
		// The consumer has everything up to here; without a bookmark, a watch it resumes
		// later would start before the changes it skipped.
		if skipped && w.bookmarks && !w.bookmark(ctx, rev) {
			return
		}
	}
}

// isKnown tells whether ev is a put the consumer holds already.
func (w *watcher) isKnown(ev *clientv3.Event) bool {
	if w.known == nil || ev.Type != mvccpb.PUT {
		return false
	}
	key, ok := strings.CutPrefix(string(ev.Kv.Key), w.prefix)
	return ok && w.known(key, ev.Kv.ModRevision)
}

// convert decodes a put's value, or names a deletion's object after its key.
func (w *watcher) convert(ctx context.Context, ev *clientv3.Event) (watch.Event, error) {
	key := string(ev.Kv.Key)
	if ev.Type == mvccpb.DELETE {
		obj, err := w.resource.ObjectForKey(key)
		if err != nil {
			return watch.Event{}, err
		}
		if err := setResourceVersion(obj, ev.Kv.ModRevision); err != nil {
			return watch.Event{}, err
		}
		return watch.Event{Type: watch.Deleted, Object: obj}, nil
	}
	obj := w.resource.New()
	if err := w.resource.Decode(ctx, key, ev.Kv.Value, ev.Kv.ModRevision, obj); err != nil {
		return watch.Event{}, err
	}
	eventType := watch.Modified
	if ev.IsCreate() {
		eventType = watch.Added
	}
	return watch.Event{Type: eventType, Object: obj}, nil
}

func (w *watcher) bookmark(ctx context.Context, rev int64) bool {
	obj := w.resource.New()
	if err := setResourceVersion(obj, rev); err != nil {
		return w.send(ctx, errorEvent(apierrors.NewInternalError(err)))
	}
	return w.send(ctx, watch.Event{Type: watch.Bookmark, Object: obj})
}

// send delivers an event unless the watch was stopped first.
func (w *watcher) send(ctx context.Context, e watch.Event) bool {
	select {
	case w.result <- e:
		return true
	case <-ctx.Done():
		return false
	}
}

func setResourceVersion(obj runtime.Object, rev int64) error {
	accessor, err := meta.Accessor(obj)
	if err != nil {
		return err
	}
	accessor.SetResourceVersion(strconv.FormatInt(rev, 10))
	return nil
}

func errorEvent(err *apierrors.StatusError) watch.Event {
	status := err.Status()
	return watch.Event{Type: watch.Error, Object: &status}
}
