// Package leader lets one replica at a time do the server's background work, through a
// coordination.k8s.io Lease held in kube-apiserver, as Kubernetes controllers do.
package leader

import (
	"context"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Election names the Lease and who competes for it.
type Election struct {
	Client    kubernetes.Interface
	Namespace string
	Name      string
	// Identity is this replica's, unique among them (host name and a random suffix).
	Identity string
}

// Run calls lead each time this replica comes to hold the Lease, with a context that ends
// when it loses it, and competes again after a loss, until ctx ends.
func Run(ctx context.Context, e Election, lead func(ctx context.Context), lost func()) {
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: e.Namespace, Name: e.Name},
		Client:     e.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: e.Identity},
	}
	for ctx.Err() == nil {
		leaderelection.RunOrDie(ctx, leaderelection.LeaderElectionConfig{
			Lock:            lock,
			Name:            e.Name,
			LeaseDuration:   15 * time.Second,
			RenewDeadline:   10 * time.Second,
			RetryPeriod:     2 * time.Second,
			ReleaseOnCancel: true,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					klog.FromContext(ctx).Info("Leading", "lease", klog.KRef(e.Namespace, e.Name), "identity", e.Identity)
					lead(ctx)
				},
				OnStoppedLeading: lost,
			},
		})
	}
}
