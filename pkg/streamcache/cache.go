// Package streamcache keeps the current version of every image stream in memory: what the
// stream writer and imagestreams/layers read on every request, without an etcd round trip.
//
// The apiserver's watch cache would do the same, but it also keeps a history of recent events
// with their previous objects for at least 75 seconds, up to 100 000 events: at a thousand
// pushes a second that history holds gigabytes of streams, and keeps holding them after the
// burst. This cache holds one object per stream, fed by a list and watch of etcd (see
// listwatch), as its encoding, within a byte bound.
//
// The server's own writes reach the cache twice: from the stream writer as it commits
// (Committed), and from the watch a moment later. The watch asks first (Known) and neither
// decodes nor delivers a change the cache holds already, so a push costs one encoding of its
// stream here instead of a decoding and an encoding. Revisions keep the two feeds in order:
// an entry is only ever replaced by a newer revision, and a commit the watch has already gone
// past is left to the watch.
package streamcache

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync"

	imagev1 "github.com/openshift/api/image/v1"
	"google.golang.org/protobuf/encoding/protowire"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// watched is the revision the watch has delivered everything up to (the list's, then each
	// applied event's or bookmark's). A commit at or below it is the watch's to deliver.
	watched  int64
	pageSize int64
	publish  func(streams int, bytes int64)
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
	stream.ResourceVersion = strconv.FormatInt(e.rev, 10)
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
	rev, err := revision(stream)
	if err != nil {
		return k, entry{}, err
	}
	data, err := stream.Marshal()
	if err != nil {
		return k, entry{}, fmt.Errorf("stream %s: %w", k, err)
	}
	return k, entry{data: data, rev: rev, bytes: int64(cap(data)+len(k)) + entryOverhead}, nil
}

// protobufPrefix starts every value the protobuf storage codec writes, before the
// runtime.Unknown that wraps the object's own encoding.
var protobufPrefix = []byte{0x6b, 0x38, 0x73, 0x00}

// committedEntry is newEntry from the stored encoding when it is protobuf: the object's own
// encoding inside it is what Marshal gives (but for the resourceVersion, which storage clears
// and Get sets from the entry), and it is kept as is, without a copy.
func committedEntry(stream *imagev1.ImageStream, encoded []byte) (string, entry, error) {
	raw, ok := objectInEnvelope(encoded)
	if !ok {
		return newEntry(stream)
	}
	rev, err := revision(stream)
	if err != nil {
		return "", entry{}, err
	}
	k := key(stream.Namespace, stream.Name)
	return k, entry{data: raw, rev: rev, bytes: int64(cap(raw)+len(k)) + entryOverhead}, nil
}

// objectInEnvelope returns the object's encoding inside a value of the protobuf storage codec:
// after the prefix, a runtime.Unknown whose fields are all length-delimited: 1 typeMeta,
// 2 raw (the object), 3 contentEncoding, 4 contentType. runtime.Unknown.Unmarshal would copy
// raw; this reads it in place. ok is false for anything else, or an encoded (compressed) raw.
func objectInEnvelope(value []byte) (raw []byte, ok bool) {
	rest, ok := bytes.CutPrefix(value, protobufPrefix)
	if !ok {
		return nil, false
	}
	found := false
	for len(rest) > 0 {
		num, typ, n := protowire.ConsumeTag(rest)
		if n < 0 || typ != protowire.BytesType {
			return nil, false
		}
		rest = rest[n:]
		field, n := protowire.ConsumeBytes(rest)
		if n < 0 {
			return nil, false
		}
		rest = rest[n:]
		switch num {
		case 2:
			raw, found = field, true
		case 3:
			if len(field) > 0 {
				return nil, false
			}
		}
	}
	return raw, found
}

func revision(obj metav1.Object) (int64, error) {
	rev, err := strconv.ParseInt(obj.GetResourceVersion(), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s/%s: resourceVersion %q: %w", obj.GetNamespace(), obj.GetName(), obj.GetResourceVersion(), err)
	}
	return rev, nil
}

// holdsLocked tells whether the cache holds k at rev or later.
func (c *Cache) holdsLocked(k string, rev int64) bool {
	e, ok := c.streams[k]
	return ok && e.rev >= rev
}

// Known tells whether the cache already holds the stream namespace/name (key) at revision
// rev or later: the watch then skips that change. It is a rawwatch.Source's Known.
func (c *Cache) Known(key string, rev int64) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.holdsLocked(key, rev)
}

// Committed puts a stream this server has just committed, with its new resourceVersion, into
// the cache (and the tee) ahead of the watch. stream is only read, and not kept. encoded, when
// the storage codec is protobuf, is the stream's stored encoding: the cache then keeps the
// stream's own encoding from inside it instead of encoding the stream again.
func (c *Cache) Committed(stream *imagev1.ImageStream, encoded []byte) {
	k, e, err := committedEntry(stream, encoded)
	if err != nil {
		// The watch delivers it instead.
		klog.Background().Error(err, "Cannot cache a committed image stream", "imageStream", klog.KObj(stream))
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.synced || e.rev <= c.watched || c.holdsLocked(k, e.rev) {
		return
	}
	if c.tee != nil {
		// Sinks of a watch take Added and Modified alike.
		if err := c.tee.Apply(watch.Modified, stream); err != nil {
			klog.Background().Error(err, "Automatic imports could not observe a committed image stream", "imageStream", klog.KObj(stream))
		}
	}
	c.putInto(c.streams, &c.bytes, k, e)
	c.changed()
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

// Apply implements listwatch.Sink. The tee sees the event under the cache's lock, so that
// it sees each stream's changes in the order the cache does.
func (c *Cache) Apply(eventType watch.EventType, obj runtime.Object) error {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return fmt.Errorf("image stream cache: unexpected object %T", obj)
	}
	rev, err := revision(stream)
	if err != nil {
		return err
	}
	k := key(stream.Namespace, stream.Name)
	var e entry
	if eventType == watch.Added || eventType == watch.Modified {
		if _, e, err = newEntry(stream); err != nil {
			return err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() { c.watched = max(c.watched, rev) }()
	switch eventType {
	case watch.Added, watch.Modified:
		if c.holdsLocked(k, rev) {
			// Committed put this change, or a newer one, in already; the tee saw it then.
			return nil
		}
	case watch.Deleted:
		if c.holdsLocked(k, rev+1) {
			// Committed put in the stream as it was created again after this deletion.
			return nil
		}
	}
	if c.tee != nil {
		if err := c.tee.Apply(eventType, obj); err != nil {
			return err
		}
	}
	switch eventType {
	case watch.Added, watch.Modified:
		c.putInto(c.streams, &c.bytes, k, e)
	case watch.Deleted:
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
	// Commits put into the map just replaced are in the list, or come with the watch.
	if rev, err := strconv.ParseInt(resourceVersion, 10, 64); err == nil {
		c.watched = rev
	}
	c.changed()
}

func (r *replacement) Abort() {
	if r.tee != nil {
		r.tee.Abort()
	}
}
