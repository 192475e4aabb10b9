package imagestreammapping

import (
	"strconv"
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
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
		legacyregistry.MustRegister(mappingResults)
	})
}

func countResult(code int) {
	mappingResults.WithLabelValues(strconv.Itoa(code)).Inc()
}
