package notifications

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Outcomes of an event, the values of the metric's outcome label.
const (
	// outcomeRecorded: a manifest push, committed (or found committed already).
	outcomeRecorded = "recorded"
	// outcomeIgnored: not a manifest push; nothing to record.
	outcomeIgnored = "ignored"
	// outcomeRejected: a manifest push that can never be recorded; acknowledged and logged.
	outcomeRejected = "rejected"
	// outcomeRetry: a manifest push not recorded yet; the registry sends it again.
	outcomeRetry = "retry"
)

var (
	eventResults = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "openshift_image_apiserver",
		Name:           "registry_notification_events_total",
		Help:           "Registry notification events by outcome: recorded, ignored (not a manifest push), rejected (can never be recorded; acknowledged) or retry (answered 5xx).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"outcome"})
	registerOnce sync.Once
)

// RegisterMetrics registers the notification metrics with the legacy registry served at
// /metrics.
func RegisterMetrics() {
	registerOnce.Do(func() {
		legacyregistry.MustRegister(eventResults)
	})
}

func countOutcome(outcome string) {
	eventResults.WithLabelValues(outcome).Inc()
}
