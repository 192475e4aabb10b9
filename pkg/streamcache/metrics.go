package streamcache

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	cachedStreams = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestream_cache_streams",
		Help:           "Image streams held by the stream cache the stream writer and imagestreams/layers read.",
		StabilityLevel: metrics.ALPHA,
	})
	cachedBytes = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestream_cache_bytes",
		Help:           "The stream cache's estimate of its own size in bytes.",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

// RegisterMetrics registers the cache gauges and makes c the cache they report. The server has
// one cache.
func RegisterMetrics(c *Cache) {
	registerOnce.Do(func() { legacyregistry.MustRegister(cachedStreams, cachedBytes) })
	c.mu.Lock()
	defer c.mu.Unlock()
	c.publish = func(streams int, bytes int64) {
		cachedStreams.Set(float64(streams))
		cachedBytes.Set(float64(bytes))
	}
	c.changed()
}
