package txn

import (
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

const metricsNamespace = "openshift_image_apiserver"

var (
	commitsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      "txn",
		Name:           "commits_total",
		Help:           "Number of multi-object etcd transactions by result: success, conflict, too_large or error.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})

	// conflictsTotal shows which resource is contended (D7): a hot image stream shows up
	// here long before clients see 429s.
	conflictsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      metricsNamespace,
		Subsystem:      "txn",
		Name:           "conflicts_total",
		Help:           "Number of objects whose revision check failed in a multi-object etcd transaction, by resource.",
		StabilityLevel: metrics.ALPHA,
	}, []string{"group", "resource"})

	// groupSizes shows how much Group saves: callers per etcd transaction.
	groupSizes = metrics.NewHistogram(&metrics.HistogramOpts{
		Namespace:      metricsNamespace,
		Subsystem:      "txn",
		Name:           "group_size",
		Help:           "Number of callers whose writes shared one etcd transaction.",
		Buckets:        []float64{1, 2, 4, 8, 16, 32, 64},
		StabilityLevel: metrics.ALPHA,
	})

	registerOnce sync.Once
)

// RegisterMetrics registers the transaction metrics with the legacy registry, which the
// generic API server serves on /metrics. It is safe to call more than once. Until it is
// called the metrics are not recorded.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(commitsTotal, conflictsTotal, groupSizes)
	})
}

// recordCommit counts a Commit by the kind of its outcome.
func recordCommit(err error) {
	result := "success"
	switch {
	case err == nil:
	case apierrors.IsConflict(err):
		result = "conflict"
	case apierrors.IsRequestEntityTooLargeError(err):
		result = "too_large"
	default:
		result = "error"
	}
	commitsTotal.WithLabelValues(result).Inc()
}

// recordConflicts counts each failed compare by its resource.
func recordConflicts(conflicts []Conflict) {
	for _, c := range conflicts {
		gr := c.Op.Resource.GroupResource()
		conflictsTotal.WithLabelValues(gr.Group, gr.Resource).Inc()
	}
}
