package imageindex

// SetPageSize makes the feed list n images a page, so that tests see several pages.
func SetPageSize(x *Index, n int64) { x.pageSize = n }
