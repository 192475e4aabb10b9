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
	indexMisses = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "image_index_misses_total",
		Help:           "Images a request looked for in the image index without finding them, each then read from etcd once (an image deleted but still in a stream's history, or one the index has not received yet).",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

// RegisterMetrics registers the index gauges with the legacy registry served at /metrics and
// makes x the index they report. The server has one index.
func RegisterMetrics(x *Index) {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(indexImages, indexBytes, indexMisses)
	})
	x.mu.Lock()
	defer x.mu.Unlock()
	x.publish = func(images int, bytes int64) {
		indexImages.Set(float64(images))
		indexBytes.Set(float64(bytes))
	}
	x.changed()
}

// RecordMiss counts an image looked for and not found in the index.
func RecordMiss() { indexMisses.Inc() }
