// Package streamcache keeps the current version of every image stream in memory: what the
// stream writer and imagestreams/layers read on every request, without an etcd round trip.
//
// The apiserver's watch cache would do the same, but it also keeps a history of recent events
// with their previous objects for at least 75 seconds, up to 100 000 events: at a thousand
// pushes a second that history holds gigabytes of streams, and keeps holding them after the
// burst. This cache holds one object per stream, fed by a list and watch of etcd (see
// listwatch), as its encoding, within a byte bound.
package streamcache

import (
	"context"
	"fmt"
	"strconv"
	"sync"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/storage/listwatch"
)

// entryOverhead approximates what an entry costs beyond its encoded stream: the map slot with
// its key, and the slice header.
const entryOverhead = 128

// Cache holds the current version of every stream it has room for.
type Cache struct {
	mu      sync.RWMutex
	streams map[string]entry
	// bytes estimates the memory held; maxBytes bounds it (0: no bound). Streams beyond the
	// bound are left out: their readers read etcd.
	bytes, maxBytes int64
	full            bool
	synced          bool
	pageSize        int64
	publish         func(streams int, bytes int64)
	// tee also sees every list and event, decoded once for both (the automatic imports).
	tee listwatch.Sink
}

// SetTee makes sink see every list and event the cache sees. Call it before Run.
func (c *Cache) SetTee(sink listwatch.Sink) { c.tee = sink }

// entry is a stream as its protobuf encoding: a third of the memory of the decoded object,
// whose strings, slices, pointers and timestamps each take more room in memory than on the
// wire. Readers decode their own copy.
type entry struct {
	data  []byte
	rev   int64
	bytes int64
}

// New returns an empty cache bounded to maxBytes (0: no bound).
func New(maxBytes int64) *Cache {
	return &Cache{streams: map[string]entry{}, maxBytes: maxBytes, pageSize: listwatch.DefaultPageSize}
}

func key(namespace, name string) string { return namespace + "/" + name }

// Get returns the cached stream, the caller's own copy, and its revision. ok is false when
// the cache cannot say: not synced yet, or the stream is not held (absent, or beyond the
// bound); the caller then reads etcd.
func (c *Cache) Get(namespace, name string) (stream *imagev1.ImageStream, rev int64, ok bool) {
	c.mu.RLock()
	e, found := c.streams[key(namespace, name)]
	synced := c.synced
	c.mu.RUnlock()
	if !synced || !found {
		return nil, 0, false
	}
	stream = &imagev1.ImageStream{}
	if err := stream.Unmarshal(e.data); err != nil {
		// Encoded by this process a moment ago: cannot happen; the caller reads etcd.
		klog.Background().Error(err, "Cannot decode a cached image stream", "imageStream", klog.KRef(namespace, name))
		return nil, 0, false
	}
	return stream, e.rev, true
}

// Synced tells whether the cache has loaded the full list once.
func (c *Cache) Synced() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.synced
}

// Len is the number of streams held.
func (c *Cache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.streams)
}

// Bytes is the estimated memory held.
func (c *Cache) Bytes() int64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.bytes
}

func newEntry(stream *imagev1.ImageStream) (string, entry, error) {
	k := key(stream.Namespace, stream.Name)
	rev, err := strconv.ParseInt(stream.ResourceVersion, 10, 64)
	if err != nil {
		return k, entry{}, fmt.Errorf("stream %s: resourceVersion %q: %w", k, stream.ResourceVersion, err)
	}
	data, err := stream.Marshal()
	if err != nil {
		return k, entry{}, fmt.Errorf("stream %s: %w", k, err)
	}
	return k, entry{data: data, rev: rev, bytes: int64(cap(data)+len(k)) + entryOverhead}, nil
}

// putInto stores e under k in streams unless the bound forbids it.
func (c *Cache) putInto(streams map[string]entry, bytes *int64, k string, e entry) {
	if old, ok := streams[k]; ok {
		delete(streams, k)
		*bytes -= old.bytes
	}
	if c.maxBytes > 0 && *bytes+e.bytes > c.maxBytes {
		if !c.full {
			c.full = true
			klog.Background().Info("The image stream cache is at its byte bound: further streams are read from etcd", "maxBytes", c.maxBytes, "streams", len(streams))
		}
		return
	}
	streams[k] = e
	*bytes += e.bytes
}

func (c *Cache) changed() {
	if c.publish != nil {
		c.publish(len(c.streams), c.bytes)
	}
}

// Run feeds the cache from source, the imagestreams storage, until ctx ends.
func (c *Cache) Run(ctx context.Context, source listwatch.Source) {
	listwatch.Run(ctx, "imagestream-cache", source, c, c.pageSize)
}

// BeginReplace implements listwatch.Sink.
func (c *Cache) BeginReplace() listwatch.Replacement {
	r := &replacement{c: c, streams: map[string]entry{}}
	if c.tee != nil {
		r.tee = c.tee.BeginReplace()
	}
	return r
}

// Apply implements listwatch.Sink.
func (c *Cache) Apply(eventType watch.EventType, obj runtime.Object) error {
	if c.tee != nil {
		if err := c.tee.Apply(eventType, obj); err != nil {
			return err
		}
	}
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return fmt.Errorf("image stream cache: unexpected object %T", obj)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch eventType {
	case watch.Added, watch.Modified:
		k, e, err := newEntry(stream)
		if err != nil {
			return err
		}
		c.putInto(c.streams, &c.bytes, k, e)
	case watch.Deleted:
		k := key(stream.Namespace, stream.Name)
		if old, ok := c.streams[k]; ok {
			delete(c.streams, k)
			c.bytes -= old.bytes
		}
	}
	c.changed()
	return nil
}

type replacement struct {
	c       *Cache
	streams map[string]entry
	bytes   int64
	tee     listwatch.Replacement
}

func (r *replacement) Add(objs []runtime.Object) error {
	if r.tee != nil {
		if err := r.tee.Add(objs); err != nil {
			return err
		}
	}
	keys := make([]string, 0, len(objs))
	entries := make([]entry, 0, len(objs))
	for _, obj := range objs {
		stream, ok := obj.(*imagev1.ImageStream)
		if !ok {
			return fmt.Errorf("image stream cache: unexpected object %T", obj)
		}
		k, e, err := newEntry(stream)
		if err != nil {
			return err
		}
		keys, entries = append(keys, k), append(entries, e)
	}
	r.c.mu.Lock()
	defer r.c.mu.Unlock()
	for i, e := range entries {
		r.c.putInto(r.streams, &r.bytes, keys[i], e)
	}
	return nil
}

func (r *replacement) Finish(resourceVersion string) {
	if r.tee != nil {
		r.tee.Finish(resourceVersion)
	}
	c := r.c
	c.mu.Lock()
	defer c.mu.Unlock()
	c.streams, c.bytes = r.streams, r.bytes
	c.synced = true
	c.changed()
}

func (r *replacement) Abort() {
	if r.tee != nil {
		r.tee.Abort()
	}
}
