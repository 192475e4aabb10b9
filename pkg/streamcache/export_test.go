package streamcache

// SetPageSize makes the cache list n streams a page, so that tests see several pages.
func SetPageSize(c *Cache, n int64) { c.pageSize = n }
