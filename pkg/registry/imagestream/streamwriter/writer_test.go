package streamwriter_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream/streamwriter"
	"github.com/image-apiserver/image-apiserver/pkg/registry/registrytest"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

const ns = "ns"

// hookedTxn is the real etcd committer with a hook before every transaction, where a test
// holds a transaction, plays a concurrent writer or makes etcd's answer get lost.
type hookedTxn struct {
	txn.PreparedCommitter
	mu     sync.Mutex
	sent   int
	before func(n int, prepared []txn.PreparedOp) error
}

func (h *hookedTxn) CommitPrepared(ctx context.Context, prepared []txn.PreparedOp) (int64, error) {
	h.mu.Lock()
	h.sent++
	n, before := h.sent, h.before
	h.mu.Unlock()
	if before != nil {
		if err := before(n, prepared); err != nil {
			return 0, err
		}
	}
	return h.PreparedCommitter.CommitPrepared(ctx, prepared)
}

func (h *hookedTxn) setHook(f func(n int, prepared []txn.PreparedOp) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.before = f
}

func (h *hookedTxn) transactions() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

type fixture struct {
	t      *testing.T
	env    *registrytest.StreamEnv
	txn    *hookedTxn
	writer *streamwriter.Writer
}

// newFixture wires a Writer as the server does — through a txn.Group, reading streams through
// the store — on a real etcd, with the stream ns/app created.
func newFixture(t *testing.T, configure ...func(*streamwriter.Config)) *fixture {
	t.Helper()
	env := registrytest.NewStreamEnv(t)
	hooked := &hookedTxn{PreparedCommitter: env.Txn}
	cfg := streamwriter.Config{
		Txn:            txn.NewGroup(hooked, txn.GroupOptions{}),
		Streams:        env.StreamRes,
		Images:         env.ImageRes,
		ReadStream:     streamwriter.StoreReader(env.Streams.Store),
		StatusStrategy: env.StatusStrategy(),
		SpecStrategy:   imagestream.NewServerWriteStrategy(env.Streams.Strategy()),
		CreateStrategy: imagestream.NewServerCreateStrategy(env.Streams.Strategy()),
	}
	for _, c := range configure {
		c(&cfg)
	}
	env.CreateStream(t, ns, "app")
	return &fixture{t: t, env: env, txn: hooked, writer: streamwriter.New(cfg)}
}

// writeAsync writes in the background and returns the channel of the answer.
func (f *fixture) writeAsync(ctx context.Context, stream string, c streamwriter.Change) <-chan error {
	errs := make(chan error, 1)
	go func() { errs <- f.writer.Write(ctx, ns, stream, c) }()
	return errs
}

// holdFirst holds the first transaction until the returned release is called, and returns a
// channel closed once it is held.
func (f *fixture) holdFirst() (held <-chan struct{}, release func()) {
	h, r := make(chan struct{}), make(chan struct{})
	var once sync.Once
	f.txn.setHook(func(n int, _ []txn.PreparedOp) error {
		if n == 1 {
			close(h)
			<-r
		}
		return nil
	})
	return h, func() { once.Do(func() { close(r) }) }
}

// waitQueued waits until n changes wait behind the transaction in flight.
func (f *fixture) waitQueued(stream string, n int) {
	f.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return f.writer.Queued(ns, stream) == n, nil
	}); err != nil {
		f.t.Fatalf("%d changes queued, want %d", f.writer.Queued(ns, stream), n)
	}
}

func (f *fixture) history(stream, tag string) []string {
	return registrytest.History(f.env.Stream(f.t, ns, stream), tag)
}

// D14: one image mapped into 32 streams at once — mirroring, promotion, multi-arch pushes —
// is 32 successes, every time: the streams' transactions share the image key, so they never
// share a transaction, and the ones that find the image created learn it from their own
// conflict.
func TestSharedImageAcrossStreams(t *testing.T) {
	f := newFixture(t)
	const streams = 32
	for i := 0; i < streams; i++ {
		f.env.CreateStream(t, ns, fmt.Sprintf("s%d", i))
	}
	for round := 0; round < 5; round++ {
		img := image(100 + round)
		var answers []<-chan error
		for i := 0; i < streams; i++ {
			answers = append(answers, f.writeAsync(context.Background(), fmt.Sprintf("s%d", i), &tagChange{tag: "latest", image: img}))
		}
		for i, a := range answers {
			if err := <-a; err != nil {
				t.Errorf("round %d, stream s%d: %v", round, i, err)
			}
		}
		if !f.env.ImageExists(t, img.Name) {
			t.Errorf("round %d: the image was not stored", round)
		}
		for i := 0; i < streams; i++ {
			if h := f.history(fmt.Sprintf("s%d", i), "latest"); len(h) != round+1 || h[0] != img.Name {
				t.Fatalf("round %d, stream s%d: history %v", round, i, h)
			}
		}
	}
}

// D14: in one batch, a change's own validation error, panic or excess size is answered to
// that change alone, and the others commit.
func TestOwnFailuresStayOwn(t *testing.T) {
	f := newFixture(t, func(c *streamwriter.Config) { c.MaxImageStreamBytes = 4096 })
	held, release := f.holdFirst()
	first := f.writeAsync(context.Background(), "app", &tagChange{tag: "first", image: image(1)})
	<-held
	invalid := apierrors.NewInvalid(schema.GroupKind{Group: imagev1.GroupName, Kind: "ImageStreamMapping"}, "app", field.ErrorList{field.Invalid(field.NewPath("tag"), "x", "bad")})
	good1 := f.writeAsync(context.Background(), "app", &tagChange{tag: "good1", image: image(2)})
	bad := f.writeAsync(context.Background(), "app", &tagChange{tag: "bad", image: image(3), err: invalid})
	boom := f.writeAsync(context.Background(), "app", &tagChange{tag: "boom", image: image(4), panics: true})
	huge := f.writeAsync(context.Background(), "app", &hugeChange{tags: 40, image: image(5)})
	good2 := f.writeAsync(context.Background(), "app", &tagChange{tag: "good2", image: image(6)})
	f.waitQueued("app", 5)
	release()
	for name, a := range map[string]<-chan error{"first": first, "good1": good1, "good2": good2} {
		if err := <-a; err != nil {
			t.Errorf("%s failed beside failing changes: %v", name, err)
		}
	}
	if err := <-bad; !apierrors.IsInvalid(err) {
		t.Errorf("invalid change: %v, want its own 422", err)
	}
	if err := <-boom; !panics.Is(err) || !apierrors.IsInternalError(err) {
		t.Errorf("panicking change: %v, want its own 500", err)
	}
	if err := <-huge; !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("oversized change: %v, want its own 413", err)
	}
	stream := f.env.Stream(t, ns, "app")
	var tags []string
	for _, tl := range stream.Status.Tags {
		tags = append(tags, tl.Tag)
	}
	if fmt.Sprint(tags) != "[first good1 good2]" {
		t.Errorf("recorded tags %v, want only the good ones", tags)
	}
	for _, n := range []int{3, 4, 5} {
		if f.env.ImageExists(t, digest(n)) {
			t.Errorf("the image of failed change %d was written", n)
		}
	}
}

// hugeChange adds one image under many tags, more than the size limit allows.
type hugeChange struct {
	tags  int
	image *imagev1.Image
}

func (c *hugeChange) Apply(stream *imagev1.ImageStream, tx *streamwriter.Tx) (bool, error) {
	tx.EnsureImage(c.image)
	for i := 0; i < c.tags; i++ {
		(&tagChange{tag: fmt.Sprintf("huge%d", i), image: c.image}).Apply(stream, tx)
	}
	return true, nil
}

func (c *hugeChange) String() string { return "the huge change" }

// D14: a request whose deadline comes while it waits behind a transaction is told "not
// recorded" (429), and indeed never is; the others are not held back by its deadline.
func TestDeadlineWhileQueued(t *testing.T) {
	f := newFixture(t)
	held, release := f.holdFirst()
	first := f.writeAsync(context.Background(), "app", &tagChange{tag: "first", image: image(1)})
	<-held
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	shortAnswer := f.writeAsync(short, "app", &tagChange{tag: "short", image: image(2)})
	long := f.writeAsync(context.Background(), "app", &tagChange{tag: "long", image: image(3)})
	err := <-shortAnswer
	if !apierrors.IsTooManyRequests(err) || !strings.Contains(err.Error(), "not recorded") {
		t.Errorf("short deadline while queued: %v, want 429 not recorded", err)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d < 1 {
		t.Errorf("no Retry-After in %v", err)
	}
	release()
	for _, a := range []<-chan error{first, long} {
		if err := <-a; err != nil {
			t.Errorf("a change failed because of another's deadline: %v", err)
		}
	}
	if h := f.history("app", "short"); len(h) != 0 || f.env.ImageExists(t, digest(2)) {
		t.Errorf("a change answered \"not recorded\" was recorded: history %v", h)
	}
	if h := f.history("app", "long"); len(h) != 1 {
		t.Errorf("long history %v", h)
	}
}

// A request whose deadline comes while its transaction is in flight is told that it may have
// been recorded (504 with Retry-After), not that it failed; here it was.
func TestDeadlineWhileCommitting(t *testing.T) {
	f := newFixture(t)
	answered := make(chan struct{})
	f.txn.setHook(func(n int, _ []txn.PreparedOp) error {
		if n == 1 {
			<-answered
		}
		return nil
	})
	short, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := f.writer.Write(short, ns, "app", &tagChange{tag: "short", image: image(1)})
	close(answered)
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code != 504 || !strings.Contains(err.Error(), "may have been recorded") {
		t.Fatalf("deadline during the commit: %v, want 504 saying it may have been recorded", err)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d < 1 {
		t.Errorf("no Retry-After in %v", err)
	}
	// The transaction goes on by itself and commits.
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(f.history("app", "short")) == 1, nil
	}); err != nil {
		t.Errorf("the change in flight was not recorded: history %v", f.history("app", "short"))
	}
}

// When etcd's answer is lost after the transaction was applied, the writer finds out from a
// fresh read and answers success: the change is recorded once, not twice.
func TestLostAnswerOfAppliedCommit(t *testing.T) {
	f := newFixture(t)
	f.txn.setHook(func(n int, prepared []txn.PreparedOp) error {
		if n == 1 {
			if _, err := f.env.Txn.CommitPrepared(context.Background(), prepared); err != nil {
				return err
			}
			return txn.NewOutcomeUnknownError(errors.New("the answer was lost"))
		}
		return nil
	})
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Fatalf("write whose answer was lost: %v", err)
	}
	if h := f.history("app", "v1"); len(h) != 1 {
		t.Errorf("history %v, want the change once", h)
	}
}

// When etcd keeps not answering, the answer is a 503 that says the change may have been
// recorded, within seconds.
func TestEtcdNotAnswering(t *testing.T) {
	f := newFixture(t)
	f.txn.setHook(func(int, []txn.PreparedOp) error {
		return txn.NewOutcomeUnknownError(errors.New("etcd is unreachable"))
	})
	err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)})
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Code != 503 || !strings.Contains(err.Error(), "may have been recorded") {
		t.Fatalf("etcd not answering: %v, want 503 saying it may have been recorded", err)
	}
	if d, ok := apierrors.SuggestsClientDelay(err); !ok || d < 1 {
		t.Errorf("no Retry-After in %v", err)
	}
}

// A panic in the writer's own goroutine reaches the requests of that batch as a 500, and the
// writer goes on serving.
func TestPanicInWriterGoroutine(t *testing.T) {
	poisoned := true
	var mu sync.Mutex
	f := newFixture(t, func(c *streamwriter.Config) {
		read := c.ReadStream
		c.ReadStream = func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, int64, error) {
			mu.Lock()
			p := poisoned
			mu.Unlock()
			if p && name == "app" {
				panic("reading panics")
			}
			return read(ctx, namespace, name)
		}
	})
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); !panics.Is(err) {
		t.Fatalf("write whose read panics: %v, want a 500", err)
	}
	f.env.CreateStream(t, ns, "other")
	if err := f.writer.Write(context.Background(), ns, "other", &tagChange{tag: "v1", image: image(2)}); err != nil {
		t.Errorf("write of another stream after the panic: %v", err)
	}
	mu.Lock()
	poisoned = false
	mu.Unlock()
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Errorf("write of the same stream after the panic: %v", err)
	}
}

// A stream the cheap read does not show yet (created a moment ago) is read again from etcd
// before the answer is 404.
func TestStaleMissingStream(t *testing.T) {
	f := newFixture(t, func(c *streamwriter.Config) {
		c.ReadStream = func(context.Context, string, string) (*imagev1.ImageStream, int64, error) { return nil, 0, nil }
	})
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Errorf("write to a stream the cache does not show: %v", err)
	}
	if err := f.writer.Write(context.Background(), ns, "missing", &tagChange{tag: "v1", image: image(2)}); !apierrors.IsNotFound(err) {
		t.Errorf("write to a missing stream: %v, want 404", err)
	}
	if f.env.ImageExists(t, digest(2)) {
		t.Error("the write to a missing stream created its image")
	}
}

// D6: a dry run answers what a commit would, and writes nothing.
func TestDryRun(t *testing.T) {
	f := newFixture(t, func(c *streamwriter.Config) { c.MaxImageStreamBytes = 4096 })
	if err := f.writer.DryRun(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Errorf("dry run: %v", err)
	}
	if err := f.writer.DryRun(context.Background(), ns, "missing", &tagChange{tag: "v1", image: image(1)}); !apierrors.IsNotFound(err) {
		t.Errorf("dry run to a missing stream: %v, want 404", err)
	}
	if err := f.writer.DryRun(context.Background(), ns, "app", &hugeChange{tags: 40, image: image(2)}); !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("oversized dry run: %v, want 413", err)
	}
	if n := f.txn.transactions(); n != 0 || f.env.ImageExists(t, digest(1)) || len(f.env.Stream(t, ns, "app").Status.Tags) != 0 {
		t.Errorf("dry runs wrote something (%d transactions)", n)
	}
}

// Config.Committed is given each committed stream as stored, at its new resourceVersion, and
// nothing for a write that commits nothing or fails.
func TestCommittedHook(t *testing.T) {
	var committed []*imagev1.ImageStream
	var encodings [][]byte
	var images []*imagev1.Image
	f := newFixture(t, func(c *streamwriter.Config) {
		c.Committed = func(s *imagev1.ImageStream, encoded []byte) {
			committed = append(committed, s.DeepCopy())
			encodings = append(encodings, encoded)
		}
		c.CommittedImage = func(img *imagev1.Image) { images = append(images, img.DeepCopy()) }
	})
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Fatal(err)
	}
	stored := f.env.Stream(t, ns, "app")
	if len(committed) != 1 {
		t.Fatalf("Committed called %d times, want 1", len(committed))
	}
	// As encoded (the stream cache keeps its protobuf encoding): times in memory carry
	// nanoseconds that storage drops.
	got, err := committed[0].Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want, err := stored.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Committed got %+v, want the stored stream %+v", committed[0], stored)
	}
	// And the stream's encoding as the storage codec wrote it.
	plain, err := f.env.StreamRes.EncodePlain(stored)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(encodings[0], plain) {
		t.Errorf("Committed got the encoding\n%q\nwant the stored stream's\n%q", encodings[0], plain)
	}
	// Recorded already: nothing is committed.
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v1", image: image(1)}); err != nil {
		t.Fatal(err)
	}
	if err := f.writer.Write(context.Background(), ns, "app", &tagChange{tag: "v2", image: image(2), err: errors.New("refused")}); err == nil {
		t.Fatal("a refused change was written")
	}
	if len(committed) != 1 {
		t.Errorf("Committed called %d times, want 1 (nothing else was written)", len(committed))
	}
	// The image the first write created, once, at the revision it was stored at.
	if len(images) != 1 || images[0].Name != digest(1) || images[0].ResourceVersion != stored.ResourceVersion {
		t.Errorf("CommittedImage got %d images (first %+v), want %s once at the commit's revision %s", len(images), images, digest(1), stored.ResourceVersion)
	}
}
