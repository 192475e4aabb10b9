package importer

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// countingLimiter grants every token and counts them.
type countingLimiter struct {
	mu     sync.Mutex
	tokens int
}

func (c *countingLimiter) Wait(context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens++
	return nil
}

// Every manifest and tag-list request that reaches a registry, retries included, took a token
// of that registry's bucket.
func TestEveryRequestTakesAToken(t *testing.T) {
	f := &flaky{failures: 1, code: http.StatusTooManyRequests}
	reg := startRegistry(t, true, f.wrap)
	reg.pushImage("ns/app:v1")
	reg.pushImage("ns/app:v2")
	idx := reg.pushIndex("ns/app:list", "application/vnd.oci.image.index.v1+json", "linux/amd64", "linux/arm64")
	f.attempts = 0

	imp := New(fastOptions(t))
	counters := map[string]*countingLimiter{}
	var mu sync.Mutex
	imp.limits.newLimiter = func() limiter {
		mu.Lock()
		defer mu.Unlock()
		c := &countingLimiter{}
		counters[reg.host] = c
		return c
	}
	before := reg.limitedRequests()
	isi := images(imagev1.TagImportPolicy{}, reg.host+"/ns/app:v1", reg.host+"/ns/app:list")
	isi.Spec.Images = append(isi.Spec.Images, images(imagev1.TagImportPolicy{ImportMode: imagev1.ImportModePreserveOriginal}, reg.host+"/ns/app@"+digestOf(t, idx)).Spec.Images...)
	isi.Spec.Repository = &imagev1.RepositoryImportSpec{From: corev1Ref(reg.host + "/ns/app")}
	status := imp.Import(context.Background(), isi, nil, nil)
	for i, st := range status.Images {
		if st.Status.Status != metav1.StatusSuccess {
			t.Fatalf("images[%d]: %+v", i, st.Status)
		}
	}
	if status.Repository.Status.Status != metav1.StatusSuccess {
		t.Fatalf("repository: %+v", status.Repository.Status)
	}
	requests := reg.limitedRequests() - before
	if c := counters[reg.host]; c == nil || c.tokens != requests || requests == 0 || f.attempts < 2 {
		t.Errorf("%d manifest and tag-list requests (%d attempts of the first), %+v tokens", requests, f.attempts, c)
	}
	if len(imp.limits.hosts) != 1 {
		t.Errorf("%d buckets for one registry", len(imp.limits.hosts))
	}
}

// The bucket of a registry is shared by all requests of an Importer, and a request that
// cannot get a token before its deadline fails instead of waiting past it. Other registries
// have buckets of their own.
func TestRateLimitIsPerRegistryAcrossRequests(t *testing.T) {
	reg := startRegistry(t, true, nil)
	other := startRegistry(t, true, nil)
	var specs []string
	for _, tag := range []string{"a", "b", "c", "d"} {
		specs = append(specs, reg.host+"/ns/app@"+digestOf(t, reg.pushImage("ns/app:"+tag)))
	}
	other.pushImage("ns/app:v1")

	opts := fastOptions(t)
	opts.RegistryQPS, opts.RegistryBurst = 1e-6, 3 // no token comes back during the test
	imp := New(opts)
	before := reg.limitedRequests()

	first := imp.Import(context.Background(), images(imagev1.TagImportPolicy{}, specs[:3]...), nil, nil)
	for _, st := range first.Images {
		checkStatus(t, st.Status, wantStatus{})
	}

	// A generous bound: the limiter refuses at once when the deadline is too near.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	second := imp.Import(ctx, images(imagev1.TagImportPolicy{}, specs[3], other.host+"/ns/app:v1"), nil, nil)
	checkStatus(t, second.Images[0].Status, wantStatus{500, metav1.StatusReasonInternalError, "waiting for the rate limit of " + reg.host})
	checkStatus(t, second.Images[1].Status, wantStatus{})
	if n := reg.limitedRequests() - before; n != 3 {
		t.Errorf("%d manifest requests reached the registry, want the burst of 3", n)
	}
	if !strings.Contains(second.Images[0].Status.Message, "rate") {
		t.Errorf("message %q", second.Images[0].Status.Message)
	}
}
