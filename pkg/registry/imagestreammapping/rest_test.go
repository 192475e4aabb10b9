package imagestreammapping_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

const ns = "faults"

// hookedTxn is the real etcd implementation with a hook before each Commit, where a test plays
// the concurrent writer that makes the guard fail.
type hookedTxn struct {
	txn.Interface
	commits      atomic.Int32
	beforeCommit func(attempt int)
}

func (h *hookedTxn) Commit(ctx context.Context, ops ...txn.Op) (int64, error) {
	n := int(h.commits.Add(1))
	if h.beforeCommit != nil {
		h.beforeCommit(n)
	}
	return h.Interface.Commit(ctx, ops...)
}

type fixture struct {
	rest    *imagestreammapping.REST
	txn     *hookedTxn
	streams *imagestream.REST
	images  *imageregistry.REST
}

// newFixture wires the mapping REST exactly as the server does, on a real etcd.
func newFixture(t testing.TB, configure ...func(*imagestreammapping.Config)) *fixture {
	t.Helper()
	storage := registrytest.NewStorage(t)
	images, err := imageregistry.NewREST(apiserver.Scheme, storage)
	if err != nil {
		t.Fatal(err)
	}
	streams, _, err := imagestream.NewREST(apiserver.Scheme, storage, imagestream.RegistryHostnames{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Destroy(); streams.Destroy() })
	imageRes, err := txn.ResourceFor(images.Store, storage)
	if err != nil {
		t.Fatal(err)
	}
	streamRes, err := txn.ResourceFor(streams.Store, storage)
	if err != nil {
		t.Fatal(err)
	}
	client, err := txn.NewClient(context.Background(), storage.Config.Transport)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	hooked := &hookedTxn{Interface: txn.New(client)}
	cfg := imagestreammapping.Config{
		Typer: apiserver.Scheme, Txn: hooked, Streams: streamRes, Images: imageRes,
		ImageStrategy:  imageregistry.NewStrategy(apiserver.Scheme),
		StatusStrategy: imagestream.NewStatusStrategy(imagestream.NewStrategy(apiserver.Scheme, imagestream.RegistryHostnames{})),
	}
	for _, c := range configure {
		c(&cfg)
	}
	r := imagestreammapping.NewREST(cfg)
	f := &fixture{rest: r, txn: hooked, streams: streams, images: images}
	if _, err := streams.Create(nsContext(), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return f
}

func nsContext() context.Context {
	return genericapirequest.WithNamespace(context.Background(), ns)
}

func digest(n int) string { return fmt.Sprintf("sha256:%064x", n) }

func mappingOf(tag string, n int) *imagev1.ImageStreamMapping {
	return &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns},
		Tag:        tag,
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest(n)}, DockerImageReference: "registry.test/faults/app@" + digest(n)},
	}
}

func (f *fixture) create(ctx context.Context, m *imagev1.ImageStreamMapping) error {
	_, err := f.rest.Create(ctx, m, nil, &metav1.CreateOptions{})
	return err
}

func (f *fixture) stream(t *testing.T) *imagev1.ImageStream {
	t.Helper()
	obj, err := f.streams.Get(nsContext(), "app", &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return obj.(*imagev1.ImageStream)
}

func (f *fixture) imageExists(t *testing.T, n int) bool {
	t.Helper()
	_, err := f.images.Get(context.Background(), digest(n), &metav1.GetOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// relabel is a concurrent writer that changes the stream but not its tags.
func (f *fixture) relabel(t testing.TB, value string) {
	obj, err := f.streams.Get(nsContext(), "app", &metav1.GetOptions{})
	if err != nil {
		t.Error(err)
		return
	}
	s := obj.(*imagev1.ImageStream).DeepCopy()
	s.Labels = map[string]string{"writer": value}
	if _, _, err := f.streams.Update(nsContext(), "app", rest.DefaultUpdatedObjectInfo(s), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Error(err)
	}
}

// decisions.md D6/D7: a guard lost to a concurrent writer is recomputed on the fresh stream;
// the other writer's change survives and the mapping is recorded once.
func TestGuardLostToConcurrentWriter(t *testing.T) {
	f := newFixture(t)
	f.txn.beforeCommit = func(attempt int) {
		if attempt == 1 {
			f.relabel(t, "concurrent")
		}
	}
	if err := f.create(nsContext(), mappingOf("v1", 1)); err != nil {
		t.Fatal(err)
	}
	s := f.stream(t)
	if s.Labels["writer"] != "concurrent" || len(s.Status.Tags) != 1 || len(s.Status.Tags[0].Items) != 1 || !f.imageExists(t, 1) {
		t.Errorf("after a lost guard: labels %v, tags %+v", s.Labels, s.Status.Tags)
	}
	if got := f.txn.commits.Load(); got != 2 {
		t.Errorf("%d commits, want 2 (one conflict, one success)", got)
	}
}

// The stream is deleted between the read and the commit: 404 naming the mapping (D9), and
// neither the image nor a tag event is written.
func TestStreamDeletedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.txn.beforeCommit = func(attempt int) {
		if attempt == 1 {
			if _, _, err := f.streams.Delete(nsContext(), "app", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
				t.Error(err)
			}
		}
	}
	err := f.create(nsContext(), mappingOf("v1", 2))
	if !apierrors.IsNotFound(err) || err.(apierrors.APIStatus).Status().Details.Kind != "imagestreammappings" {
		t.Fatalf("got %v, want 404 imagestreammappings", err)
	}
	if f.imageExists(t, 2) {
		t.Error("the image was written although the mapping failed")
	}
}

// The image is created by someone else between the read and the commit: the retry tags the
// existing image and never modifies it (spec §6 step 5).
func TestImageCreatedMeanwhile(t *testing.T) {
	f := newFixture(t)
	f.txn.beforeCommit = func(attempt int) {
		if attempt == 1 {
			img := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest(3), Labels: map[string]string{"by": "other"}}, DockerImageReference: "elsewhere.test/x@" + digest(3)}
			if _, err := f.images.Create(genericapirequest.WithNamespace(context.Background(), ""), img, nil, &metav1.CreateOptions{}); err != nil {
				t.Error(err)
			}
		}
	}
	if err := f.create(nsContext(), mappingOf("v1", 3)); err != nil {
		t.Fatal(err)
	}
	obj, err := f.images.Get(context.Background(), digest(3), &metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := obj.(*imagev1.Image); img.Labels["by"] != "other" || img.DockerImageReference != "elsewhere.test/x@"+digest(3) {
		t.Errorf("the existing image was modified: %+v", img)
	}
	if s := f.stream(t); len(s.Status.Tags) != 1 {
		t.Errorf("tags %+v", s.Status.Tags)
	}
}

// decisions.md D7: when every attempt loses its guard until the deadline, the answer is 429
// with Retry-After, and nothing of the mapping is written.
func TestDeadlineExhausted(t *testing.T) {
	f := newFixture(t)
	var writes atomic.Int32
	f.txn.beforeCommit = func(int) { f.relabel(t, fmt.Sprint(writes.Add(1))) }
	ctx, cancel := context.WithTimeout(nsContext(), 1500*time.Millisecond)
	defer cancel()
	err := f.create(ctx, mappingOf("v1", 4))
	if !apierrors.IsTooManyRequests(err) {
		t.Fatalf("got %v, want 429", err)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d < 1 {
		t.Errorf("no Retry-After in %v", err)
	}
	if f.imageExists(t, 4) || len(f.stream(t).Status.Tags) != 0 {
		t.Error("a 429 mapping left the image or a tag event behind")
	}
}

// Concurrent mappings to one stream share transactions instead of racing each other, and each
// is recorded exactly once.
func TestConcurrentMappingsCoalesce(t *testing.T) {
	f := newFixture(t)
	const n = 48
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := f.create(nsContext(), mappingOf("same", 100+i)); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	s := f.stream(t)
	if len(s.Status.Tags) != 1 || len(s.Status.Tags[0].Items) != n {
		t.Fatalf("history %+v, want %d entries", s.Status.Tags, n)
	}
	seen := map[string]bool{}
	for _, it := range s.Status.Tags[0].Items {
		seen[it.Image] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct images in history, want %d", len(seen), n)
	}
	if c := f.txn.commits.Load(); c >= n {
		t.Errorf("%d transactions for %d mappings: nothing was coalesced", c, n)
	}
	t.Logf("%d mappings in %d transactions", n, f.txn.commits.Load())
}

// BenchmarkCreate measures one mapping through the REST layer on a real etcd, without HTTP:
// the server's own share of a mapping's cost.
func BenchmarkCreate(b *testing.B) {
	f := newFixture(b)
	ctx := nsContext()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := f.create(ctx, mappingOf(fmt.Sprintf("t%d", i%8), 1_000_000+i)); err != nil {
			b.Fatal(err)
		}
	}
}

// decisions.md D8 with coalescing: when a batch together would pass the size limit, its
// members are retried one by one, so those that fit are recorded and only the rest get 413.
func TestOversizedBatchSplits(t *testing.T) {
	// An empty stream is about 150 bytes and each event about 180: one or two more fit, ten not.
	f := newFixture(t, func(c *imagestreammapping.Config) { c.MaxImageStreamBytes = 600 })
	// Hold the first commit until the other ten mappings are queued behind it, so that they
	// form one batch.
	release := make(chan struct{})
	var once sync.Once
	f.txn.beforeCommit = func(int) { once.Do(func() { <-release }) }
	errs := make(chan error, 11)
	go func() { errs <- f.create(nsContext(), mappingOf("first", 300)) }()
	for i := 0; i < 10; i++ {
		go func(i int) { errs <- f.create(nsContext(), mappingOf(fmt.Sprintf("t%d", i), 301+i)) }(i)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return imagestreammapping.Queued(f.rest, ns, "app") == 10, nil
	}); err != nil {
		t.Fatalf("mappings did not queue: %v", err)
	}
	close(release)
	var ok, tooLarge int
	for i := 0; i < 11; i++ {
		switch err := <-errs; {
		case err == nil:
			ok++
		case apierrors.IsRequestEntityTooLargeError(err):
			tooLarge++
		default:
			t.Errorf("unexpected error %v", err)
		}
	}
	recorded := 0
	for _, tl := range f.stream(t).Status.Tags {
		recorded += len(tl.Items)
	}
	// Without the split, the batch of ten would fail as a whole and only "first" would be
	// recorded.
	if ok < 2 || tooLarge == 0 || recorded != ok {
		t.Errorf("%d recorded, %d ok, %d too large: want the first and at least one queued mapping recorded, the rest refused", recorded, ok, tooLarge)
	}
}
