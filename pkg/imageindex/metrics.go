package imageindex

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	indexImages = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "image_index_images",
		Help:           "Number of images in the in-memory image index that serves imagestreams/layers and imagestreamimages.",
		StabilityLevel: metrics.ALPHA,
	})
	indexBytes = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "image_index_bytes",
		Help:           "Estimated memory, in bytes, held by the in-memory image index (entries, layer lists and interned digests).",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

// RegisterMetrics registers the index gauges with the legacy registry served at /metrics and
// makes x the index they report. The server has one index.
func RegisterMetrics(x *Index) {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(indexImages, indexBytes)
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	x.publish = func(images int, bytes int64) {
		indexImages.Set(float64(images))
		indexBytes.Set(float64(bytes))
	}
	x.changed()
}
