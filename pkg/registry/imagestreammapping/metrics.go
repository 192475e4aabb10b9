package imagestreammapping

import (
	"strconv"
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	attemptsPerMapping = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestreammapping_transaction_attempts",
		Help:           "Number of etcd transactions tried for each mapping before it was committed or given up (1 = no conflict).",
		Buckets:        []float64{1, 2, 3, 5, 8, 13, 21, 34},
		StabilityLevel: metrics.ALPHA,
	})
	mappingsBatched = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestreammapping_batch_size",
		Help:           "Number of mappings to one stream committed together in one transaction.",
		Buckets:        []float64{1, 2, 4, 8, 16, 32, 64},
		StabilityLevel: metrics.ALPHA,
	})
	mappingResults = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "imagestreammappings_total",
		Help:           "ImageStreamMapping creates by HTTP result code.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"code"})
	registerOnce sync.Once
)

// RegisterMetrics registers the mapping metrics with the legacy registry served at /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(attemptsPerMapping, mappingsBatched, mappingResults)
	})
}

func recordResult(code int) {
	mappingResults.WithLabelValues(strconv.Itoa(code)).Inc()
}
