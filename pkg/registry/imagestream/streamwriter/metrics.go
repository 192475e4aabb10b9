package streamwriter

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	attemptsPerChange = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestream_write_attempts",
		Help:           "Number of etcd transactions each image stream change (a mapping, say) was part of before it was answered (1 = no conflict; 0 = answered before any, e.g. invalid).",
		Buckets:        []float64{0, 1, 2, 3, 5, 8, 13, 21, 34},
		StabilityLevel: metrics.ALPHA,
	})
	batchSizes = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestream_write_batch_size",
		Help:           "Number of changes to one image stream committed together in one transaction.",
		Buckets:        []float64{1, 2, 4, 8, 16, 32, 64},
		StabilityLevel: metrics.ALPHA,
	})
	droppedTagEvents = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestream_tag_events_dropped_total",
		Help:           "Number of old tag events removed from image streams by the per-tag history limit (--max-tag-history or the image.openshift.io/max-tag-history annotation).",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

// RegisterMetrics registers the writer's metrics with the legacy registry served at /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(attemptsPerChange, batchSizes, droppedTagEvents)
	})
}

// recordOutcome observes, once per request, how many transactions it took.
func recordOutcome(attempts int) {
	attemptsPerChange.Observe(float64(attempts))
}
