package streamcache

// SetPageSize makes the cache list n streams a page, so that tests see several pages.
func SetPageSize(c *Cache, n int64) { c.pageSize = n }

// HeldData is the encoding the cache holds for namespace/name (nil when none).
func HeldData(c *Cache, namespace, name string) []byte {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.streams[key(namespace, name)].data
}
