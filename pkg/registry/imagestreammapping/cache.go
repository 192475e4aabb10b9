package imagestreammapping

import (
	"sync"

	imagev1 "github.com/openshift/api/image/v1"
)

// streamCache remembers, per stream, the object and revision of this server's last commit.
// A mapping then guards its transaction with that revision instead of reading the stream
// first, which saves an etcd round trip per push. A stale entry (another replica or client
// wrote meanwhile) only costs a failed guard, whose reply carries the fresh stream, so it
// can never make a mapping write over a change it did not see.
type streamCache struct {
	mu      sync.Mutex
	max     int
	entries map[string]cachedStream
}

type cachedStream struct {
	stream *imagev1.ImageStream // as stored; never modified once cached
	rev    int64
}

func newStreamCache(max int) *streamCache {
	return &streamCache{max: max, entries: map[string]cachedStream{}}
}

func (c *streamCache) get(key string) (*imagev1.ImageStream, int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[key]
	return e.stream, e.rev, ok
}

// put stores a stream the caller will no longer modify.
func (c *streamCache) put(key string, stream *imagev1.ImageStream, rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[key]; !ok && len(c.entries) >= c.max {
		// Drop an arbitrary entry: a miss costs one read, so no recency bookkeeping is worth it.
		for k := range c.entries {
			delete(c.entries, k)
			break
		}
	}
	c.entries[key] = cachedStream{stream: stream, rev: rev}
}

func (c *streamCache) delete(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.entries, key)
}
