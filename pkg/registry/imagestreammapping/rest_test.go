package imagestreammapping_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/image-apiserver/image-apiserver/pkg/apiserver"
	"github.com/image-apiserver/image-apiserver/pkg/panics"
	imageregistry "github.com/image-apiserver/image-apiserver/pkg/registry/image"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestreammapping"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

const ns = "faults"

// hookedTxn is the real etcd committer with a hook before each transaction, where a test
// plays the concurrent writer that makes the guard fail, or holds a transaction.
type hookedTxn struct {
	txn.PreparedCommitter
	commits      atomic.Int32
	beforeCommit func(attempt int)
}

func (h *hookedTxn) CommitPrepared(ctx context.Context, prepared []txn.PreparedOp) (int64, error) {
	n := int(h.commits.Add(1))
	if h.beforeCommit != nil {
		h.beforeCommit(n)
	}
	return h.PreparedCommitter.CommitPrepared(ctx, prepared)
}

type fixture struct {
	rest    *imagestreammapping.REST
	writer  *streamwriter.Writer
	txn     *hookedTxn
	streams *imagestream.REST
	images  *imageregistry.REST
}

// newFixture wires the mapping REST exactly as the server does, on a real etcd.
func newFixture(t testing.TB, configure ...func(*imagestreammapping.Config, *streamwriter.Config)) *fixture {
	t.Helper()
	env := registrytest.NewStreamEnv(t)
	hooked := &hookedTxn{PreparedCommitter: env.Txn}
	wcfg := streamwriter.Config{
		Txn: txn.NewGroup(hooked, txn.GroupOptions{}), Streams: env.StreamRes, Images: env.ImageRes,
		ReadStream:          streamwriter.StoreReader(env.Streams.Store),
		StatusStrategy:      env.StatusStrategy(),
		MaxImageStreamBytes: imagestreammapping.DefaultMaxImageStreamBytes,
	}
	cfg := imagestreammapping.Config{Typer: apiserver.Scheme, ImageStrategy: imageregistry.NewStrategy(apiserver.Scheme)}
	for _, c := range configure {
		c(&cfg, &wcfg)
	}
	writer := streamwriter.New(wcfg)
	cfg.Writer = writer
	f := &fixture{rest: imagestreammapping.NewREST(cfg), writer: writer, txn: hooked, streams: env.Streams, images: env.Images}
	env.CreateStream(t, ns, "app")
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

// D6, D7: a guard lost to a concurrent writer is recomputed on the fresh stream;
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
// existing image and never modifies it: a mapping never changes an existing Image.
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

// D7: when every attempt loses its guard until the deadline, the answer is retryable, with
// Retry-After: 429 "not recorded" when the deadline comes between attempts, 504 "may have been
// recorded" when it comes while an attempt is in flight. Nothing of the mapping is written.
func TestDeadlineExhausted(t *testing.T) {
	f := newFixture(t)
	var writes atomic.Int32
	// The writer may still be sending a transaction when the answer has come and the test
	// ends: from then on (its storage is going away) the concurrent writer stops, and never
	// reports to a finished test.
	var mu sync.Mutex
	finished := false
	t.Cleanup(func() { mu.Lock(); defer mu.Unlock(); finished = true })
	f.txn.beforeCommit = func(int) {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			f.relabel(t, fmt.Sprint(writes.Add(1)))
		}
	}
	ctx, cancel := context.WithTimeout(nsContext(), 1500*time.Millisecond)
	defer cancel()
	err := f.create(ctx, mappingOf("v1", 4))
	if !apierrors.IsTooManyRequests(err) && !(apierrors.IsTimeout(err) && strings.Contains(err.Error(), "may have been recorded")) {
		t.Fatalf("got %v, want 429 or 504", err)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d < 1 {
		t.Errorf("no Retry-After in %v", err)
	}
	if f.imageExists(t, 4) || len(f.stream(t).Status.Tags) != 0 {
		t.Error("a mapping that never won its guard left the image or a tag event behind")
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

// D8 with coalescing: when a batch together would pass the size limit, its
// members are retried one by one, so those that fit are recorded and only the rest get 413.
func TestOversizedBatchSplits(t *testing.T) {
	// An empty stream is about 150 bytes and each event about 180: one or two more fit, ten not.
	f := newFixture(t, func(_ *imagestreammapping.Config, c *streamwriter.Config) { c.MaxImageStreamBytes = 600 })
	// Hold the first commit until the other ten mappings are queued behind it, so that they
	// form one batch.
	held, release := f.holdFirstCommit()
	errs := make(chan error, 11)
	go func() { errs <- f.create(nsContext(), mappingOf("first", 300)) }()
	<-held
	for i := 0; i < 10; i++ {
		go func(i int) { errs <- f.create(nsContext(), mappingOf(fmt.Sprintf("t%d", i), 301+i)) }(i)
	}
	if err := wait.PollUntilContextTimeout(context.Background(), 5*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return f.writer.Queued(ns, "app") == 10, nil
	}); err != nil {
		t.Fatalf("mappings did not queue: %v", err)
	}
	release()
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

// holdFirstCommit holds the first transaction until release is called; held is closed once it
// is held, so that mappings sent after it queue behind it and form one batch.
func (f *fixture) holdFirstCommit() (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.txn.beforeCommit = func(attempt int) {
		if attempt == 1 {
			close(h)
			<-r
		}
	}
	return h, func() { once.Do(func() { close(r) }) }
}

func (f *fixture) createAsync(ctx context.Context, m *imagev1.ImageStreamMapping) <-chan error {
	errs := make(chan error, 1)
	go func() { errs <- f.create(ctx, m) }()
	return errs
}

// D14: one image mapped into 32 streams at once, repeated, is 32 successes every
// time.
func TestOneImageIntoManyStreams(t *testing.T) {
	f := newFixture(t)
	const streams = 32
	for i := 0; i < streams; i++ {
		if _, err := f.streams.Create(nsContext(), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i), Namespace: ns}}, nil, &metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 3; round++ {
		var answers []<-chan error
		for i := 0; i < streams; i++ {
			m := mappingOf("latest", 500+round)
			m.Name = fmt.Sprintf("s%d", i)
			answers = append(answers, f.createAsync(nsContext(), m))
		}
		for i, a := range answers {
			if err := <-a; err != nil {
				t.Errorf("round %d, stream s%d: %v", round, i, err)
			}
		}
	}
}

// panickyStatus is the status strategy, panicking on a stream that has a tag named "boom".
type panickyStatus struct{ rest.RESTUpdateStrategy }

func (p panickyStatus) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {
	for _, tl := range obj.(*imagev1.ImageStream).Status.Tags {
		if tl.Tag == "boom" {
			panic("the strategy panics on tag boom")
		}
	}
	p.RESTUpdateStrategy.PrepareForUpdate(ctx, obj, old)
}

// D14: a panic in the strategy while a batch is planned, in the batch's goroutine, reaches
// only the mapping that causes it, as a 500; its batch-mates commit and the server goes on.
func TestPanicInBatchIsOwn(t *testing.T) {
	f := newFixture(t, func(_ *imagestreammapping.Config, c *streamwriter.Config) {
		c.StatusStrategy = panickyStatus{c.StatusStrategy}
	})
	held, release := f.holdFirstCommit()
	first := f.createAsync(nsContext(), mappingOf("first", 600))
	<-held
	var good []<-chan error
	for i := 0; i < 4; i++ {
		good = append(good, f.createAsync(nsContext(), mappingOf(fmt.Sprintf("t%d", i), 601+i)))
	}
	boom := f.createAsync(nsContext(), mappingOf("boom", 610))
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return f.writer.Queued(ns, "app") == 5, nil
	}); err != nil {
		t.Fatalf("mappings did not queue: %v", err)
	}
	release()
	for _, a := range append(good, first) {
		if err := <-a; err != nil {
			t.Errorf("a mapping failed because of another's panic: %v", err)
		}
	}
	if err := <-boom; !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "panicked") {
		t.Errorf("the panicking mapping: %v, want its own 500", err)
	}
	if f.imageExists(t, 610) {
		t.Error("the panicking mapping wrote its image")
	}
	if err := f.create(nsContext(), mappingOf("later", 620)); err != nil {
		t.Errorf("mapping after the panic: %v", err)
	}
	if n := len(f.stream(t).Status.Tags); n != 6 {
		t.Errorf("%d tags recorded, want 6 (first, four others, later)", n)
	}
}

// panickyImages is the image strategy, panicking on one image.
type panickyImages struct {
	rest.RESTCreateStrategy
	name string
}

func (p panickyImages) PrepareForCreate(ctx context.Context, obj runtime.Object) {
	if obj.(*imagev1.Image).Name == p.name {
		panic("the image strategy panics")
	}
	p.RESTCreateStrategy.PrepareForCreate(ctx, obj)
}

// A panic while a mapping is validated, in its own goroutine, is its 500; nothing is written.
func TestPanicWhileValidating(t *testing.T) {
	f := newFixture(t, func(c *imagestreammapping.Config, _ *streamwriter.Config) {
		c.ImageStrategy = panickyImages{RESTCreateStrategy: c.ImageStrategy, name: digest(700)}
	})
	if err := f.create(nsContext(), mappingOf("v1", 700)); !panics.Is(err) || !apierrors.IsInternalError(err) {
		t.Errorf("panicking validation: %v, want a 500", err)
	}
	if err := f.create(nsContext(), mappingOf("v1", 701)); err != nil {
		t.Errorf("mapping after the panic: %v", err)
	}
	if f.imageExists(t, 700) || len(f.stream(t).Status.Tags[0].Items) != 1 {
		t.Error("the panicking mapping wrote something")
	}
}

// D14: a mapping with a short deadline (?timeout=) that comes while it waits behind a
// transaction gets 429 "not recorded" and is never recorded; its batch-mates with longer
// deadlines are not cut short.
func TestShortDeadlineInBatch(t *testing.T) {
	f := newFixture(t)
	held, release := f.holdFirstCommit()
	first := f.createAsync(nsContext(), mappingOf("first", 800))
	<-held
	short, cancel := context.WithTimeout(nsContext(), 300*time.Millisecond)
	defer cancel()
	shortAnswer := f.createAsync(short, mappingOf("short", 801))
	long := f.createAsync(nsContext(), mappingOf("long", 802))
	if err := <-shortAnswer; !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "not recorded") {
		t.Errorf("short deadline: %v, want 429 not recorded", err)
	} else if se := err.(apierrors.APIStatus).Status(); se.Details == nil || se.Details.Kind != "imagestreammappings" || se.Details.Name != "app" {
		t.Errorf("D9: details %+v", se.Details)
	}
	release()
	for _, a := range []<-chan error{first, long} {
		if err := <-a; err != nil {
			t.Errorf("a mapping failed because of another's deadline: %v", err)
		}
	}
	if f.imageExists(t, 801) {
		t.Error("the mapping answered \"not recorded\" wrote its image")
	}
	for _, tl := range f.stream(t).Status.Tags {
		if tl.Tag == "short" {
			t.Errorf("the mapping answered \"not recorded\" wrote its tag event")
		}
	}
}
