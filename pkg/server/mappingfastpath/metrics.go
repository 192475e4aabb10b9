package mappingfastpath

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

var (
	servedRequests = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "mapping_fast_path_requests_total",
		Help:           "ImageStreamMapping creates served by the mapping fast path rather than the generic create handler (--mapping-fast-path).",
		StabilityLevel: metrics.ALPHA,
	})
	registerOnce sync.Once
)

func registerMetrics() {
	registerOnce.Do(func() { legacyregistry.MustRegister(servedRequests) })
}
