package txn_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn/txntest"
)

// The Group is a txn.Interface like any other: the shared suite passes through it, on the
// fake and on a real etcd.
func TestGroupConformance(t *testing.T) {
	t.Run("fake", func(t *testing.T) {
		txntest.RunConformance(t, func(t *testing.T) (txn.Interface, txntest.Fixtures) {
			return txn.NewGroup(txntest.NewFake(), txn.GroupOptions{}), txntest.FakeFixtures(t)
		})
	})
	t.Run("etcd", func(t *testing.T) {
		txntest.RunConformance(t, func(t *testing.T) (txn.Interface, txntest.Fixtures) {
			env := newEtcdEnv(t, nil)
			return txn.NewGroup(env.impl.(txn.PreparedCommitter), txn.GroupOptions{}), env.fx
		})
	})
}

// recordingBackend is the fake with a hook before each transaction, which can hold it,
// inject an error or panic, and a record of the keys of every transaction sent.
type recordingBackend struct {
	*txntest.Fake
	hook func(prepared []txn.PreparedOp) error

	mu   sync.Mutex
	sent [][]string
}

func (b *recordingBackend) CommitPrepared(ctx context.Context, prepared []txn.PreparedOp) (int64, error) {
	keys := make([]string, len(prepared))
	for i, p := range prepared {
		keys[i] = p.Key
	}
	b.mu.Lock()
	b.sent = append(b.sent, keys)
	hook := b.hook
	b.mu.Unlock()
	if hook != nil {
		if err := hook(prepared); err != nil {
			return 0, err
		}
	}
	return b.Fake.CommitPrepared(ctx, prepared)
}

func (b *recordingBackend) transactions() [][]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([][]string(nil), b.sent...)
}

// groupFixture is a Group over a recording fake whose first transaction is held until
// release is called, so that the commits that arrive meanwhile queue up and leave together.
type groupFixture struct {
	t       *testing.T
	group   *txn.Group
	backend *recordingBackend
	fx      txntest.Fixtures
	release func()
}

func newGroupFixture(t *testing.T, opts txn.GroupOptions) *groupFixture {
	t.Helper()
	held := make(chan struct{})
	var once sync.Once
	b := &recordingBackend{Fake: txntest.NewFake()}
	b.hook = func([]txn.PreparedOp) error {
		<-held
		return nil
	}
	opts.InFlight = 1
	return &groupFixture{t: t, group: txn.NewGroup(b, opts), backend: b, fx: txntest.FakeFixtures(t),
		release: func() { once.Do(func() { close(held) }) }}
}

// commitAsync commits ops in the background and returns the channel of its answer.
func (f *groupFixture) commitAsync(ops ...txn.Op) <-chan error {
	errs := make(chan error, 1)
	go func() {
		_, err := f.group.Commit(context.Background(), ops...)
		errs <- err
	}()
	return errs
}

// afterHold makes every transaction, once the hold is released, also run then: to panic or
// to fail the way a test needs.
func (f *groupFixture) afterHold(then func(prepared []txn.PreparedOp) error) {
	f.backend.mu.Lock()
	defer f.backend.mu.Unlock()
	hold := f.backend.hook
	f.backend.hook = func(prepared []txn.PreparedOp) error {
		if err := hold(prepared); err != nil {
			return err
		}
		return then(prepared)
	}
}

// waitSent waits until n transactions were sent.
func (f *groupFixture) waitSent(n int) {
	f.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return len(f.backend.transactions()) == n, nil
	}); err != nil {
		f.t.Fatalf("%d transactions sent, want %d", len(f.backend.transactions()), n)
	}
}

// waitPending waits until n commits are queued behind the held transaction.
func (f *groupFixture) waitPending(n int) {
	f.t.Helper()
	if err := wait.PollUntilContextTimeout(context.Background(), time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		return f.group.Pending() == n, nil
	}); err != nil {
		f.t.Fatalf("%d commits pending, want %d", f.group.Pending(), n)
	}
}

func (f *groupFixture) stream(name string, images ...*imagev1.Image) txn.Op {
	return txn.Op{Resource: f.fx.ImageStreams, Namespace: "ns", Name: name, Obj: txntest.NewImageStream("ns", name, images...)}
}

// image is an op creating a copy of img: ops are their caller's alone, as in the server.
func (f *groupFixture) image(img *imagev1.Image) txn.Op {
	return txn.Op{Resource: f.fx.Images, Name: img.Name, Obj: img.DeepCopy()}
}

// Commits that arrive while a transaction is in flight leave together in the next one.
func TestGroupMergesWaitingCommits(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	first := f.commitAsync(f.stream("first"))
	f.waitSent(1)
	var answers []<-chan error
	for i := 0; i < 10; i++ {
		img := txntest.NewImage(fmt.Sprint(i))
		answers = append(answers, f.commitAsync(f.stream(fmt.Sprintf("s%d", i), img), f.image(img)))
	}
	f.waitPending(10)
	f.release()
	for _, a := range append(answers, first) {
		if err := <-a; err != nil {
			t.Errorf("commit: %v", err)
		}
	}
	sent := f.backend.transactions()
	if len(sent) != 2 || len(sent[1]) != 20 {
		t.Errorf("transactions %d (second with %d keys), want 2: the first alone, then all ten together", len(sent), len(sent[len(sent)-1]))
	}
}

// D14: commits that name the same key (one image mapped into several streams at once) never
// share a transaction: each gets the answer it would get alone — the first creates the image,
// the others learn from their own conflict that it exists. Nobody gets an error about the
// other's key.
func TestGroupSharedKey(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	held := f.commitAsync(f.stream("held"))
	f.waitSent(1)
	img := txntest.NewImage("shared")
	var answers []<-chan error
	for i := 0; i < 8; i++ {
		answers = append(answers, f.commitAsync(f.stream(fmt.Sprintf("s%d", i), img), f.image(img)))
	}
	// One more, with no key in common, joins the first group of the waiting ones.
	other := txntest.NewImage("other")
	independent := f.commitAsync(f.stream("independent", other), f.image(other))
	f.waitPending(9)
	f.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	created, conflicts := 0, 0
	for _, a := range answers {
		err := <-a
		var conflict *txn.ConflictError
		switch {
		case err == nil:
			created++
		case errors.As(err, &conflict):
			conflicts++
			if len(conflict.Conflicts) != 1 || conflict.Conflicts[0].Index != 1 || conflict.Conflicts[0].Op.Name != img.Name {
				t.Errorf("conflict %+v, want exactly this commit's image op (index 1)", conflict.Conflicts)
			}
		default:
			t.Errorf("commit sharing an image: %v", err)
		}
	}
	if err := <-independent; err != nil {
		t.Errorf("independent commit: %v", err)
	}
	if created != 1 || conflicts != 7 {
		t.Errorf("%d created and %d conflicts, want 1 and 7", created, conflicts)
	}
	for _, keys := range f.backend.transactions() {
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				t.Errorf("a transaction names %s twice: %v", k, keys)
			}
			seen[k] = true
		}
	}
}

// When a shared transaction loses a guard, only the commits whose own guards failed get the
// conflict, with indexes of their own ops; the others are committed together right after.
func TestGroupConflictSplit(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	held := f.commitAsync(f.stream("held"))
	f.waitSent(1)
	a, b, c := txntest.NewImage("a"), txntest.NewImage("b"), txntest.NewImage("c")
	// b's stream is guarded by a revision it does not have.
	stale := f.stream("b", b)
	stale.Revision = 12345
	answerA := f.commitAsync(f.stream("a", a), f.image(a))
	answerB := f.commitAsync(f.image(b), stale)
	answerC := f.commitAsync(f.stream("c", c), f.image(c))
	f.waitPending(3)
	f.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	var conflict *txn.ConflictError
	if err := <-answerB; !errors.As(err, &conflict) || len(conflict.Conflicts) != 1 || conflict.Conflicts[0].Index != 1 {
		t.Errorf("stale commit: %v, want a conflict on its own op 1", err)
	}
	for name, answer := range map[string]<-chan error{"a": answerA, "c": answerC} {
		if err := <-answer; err != nil {
			t.Errorf("commit %s failed with its group: %v", name, err)
		}
	}
	sent := f.backend.transactions()
	if len(sent) != 3 || len(sent[2]) != 4 {
		t.Errorf("transactions %v, want the held one, the group of three, then a and c together", sent)
	}
}

// D14: a commit's own problem reaches that commit only: an oversized or malformed one is
// refused before it joins a group, and the rest commit.
func TestGroupOwnErrors(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{MaxRequestBytes: 64 << 10})
	held := f.commitAsync(f.stream("held"))
	f.waitSent(1)
	big := txntest.NewImage("big")
	big.Annotations = map[string]string{"a": strings.Repeat("x", 100<<10)}
	tooLarge := f.commitAsync(f.image(big))
	malformed := f.commitAsync(txn.Op{Resource: f.fx.Images, Name: "Not/A/Name", Obj: &imagev1.Image{}})
	good := txntest.NewImage("good")
	fine := f.commitAsync(f.stream("fine", good), f.image(good))
	if err := <-tooLarge; !apierrors.IsRequestEntityTooLargeError(err) {
		t.Errorf("oversized commit: %v, want 413", err)
	}
	if err := <-malformed; err == nil {
		t.Error("malformed commit succeeded")
	}
	f.waitPending(1)
	f.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-fine; err != nil {
		t.Errorf("a good commit failed beside bad ones: %v", err)
	}
}

// A panic while committing a shared transaction is retried commit by commit, so that it
// reaches only the commit that causes it, as a logged 500; the group keeps committing.
func TestGroupPanic(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	poison := txntest.NewImage("poison")
	held := f.commitAsync(f.stream("held"))
	f.waitSent(1)
	var answers []<-chan error
	for i := 0; i < 4; i++ {
		img := txntest.NewImage(fmt.Sprint(i))
		answers = append(answers, f.commitAsync(f.stream(fmt.Sprintf("s%d", i), img), f.image(img)))
	}
	poisoned := f.commitAsync(f.stream("poisoned", poison), f.image(poison))
	f.waitPending(5)
	f.afterHold(func(prepared []txn.PreparedOp) error {
		for _, p := range prepared {
			if p.Name == poison.Name {
				panic("poisoned value")
			}
		}
		return nil
	})
	f.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for _, a := range answers {
		if err := <-a; err != nil {
			t.Errorf("a commit failed because of another's panic: %v", err)
		}
	}
	if err := <-poisoned; !panics.Is(err) || !apierrors.IsInternalError(err) {
		t.Errorf("poisoned commit: %v, want the panic as a 500", err)
	}
	after := txntest.NewImage("after")
	if _, err := f.group.Commit(context.Background(), f.stream("after", after), f.image(after)); err != nil {
		t.Errorf("commit after the panic: %v", err)
	}
}

// A caller that stops waiting before its ops are sent is told they never will be; once they
// are sent, that the outcome is unknown. Either way the others are not affected.
func TestGroupCallerLeaves(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	inFlightCtx, leaveInFlight := context.WithCancel(context.Background())
	inFlight := make(chan error, 1)
	go func() {
		_, err := f.group.Commit(inFlightCtx, f.stream("in-flight"))
		inFlight <- err
	}()
	f.waitSent(1)
	queuedCtx, leaveQueued := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := f.group.Commit(queuedCtx, f.stream("queued"))
		queued <- err
	}()
	stays := f.commitAsync(f.stream("stays"))
	f.waitPending(2)
	leaveQueued()
	if err := <-queued; !txn.IsNotSent(err) || txn.IsOutcomeUnknown(err) {
		t.Errorf("left while queued: %v, want \"not sent\"", err)
	}
	leaveInFlight()
	if err := <-inFlight; !txn.IsOutcomeUnknown(err) {
		t.Errorf("left while in flight: %v, want an unknown outcome", err)
	}
	f.release()
	if err := <-stays; err != nil {
		t.Errorf("the commit that stayed: %v", err)
	}
	for _, keys := range f.backend.transactions() {
		for _, k := range keys {
			if strings.HasSuffix(k, "/queued") {
				t.Errorf("the commit whose caller left while queued was sent: %v", keys)
			}
		}
	}
}

// An unknown outcome of a shared transaction is everybody's: etcd did not answer.
func TestGroupUnknownOutcome(t *testing.T) {
	f := newGroupFixture(t, txn.GroupOptions{})
	held := f.commitAsync(f.stream("held"))
	f.waitSent(1)
	a, b := f.commitAsync(f.stream("a")), f.commitAsync(f.stream("b"))
	f.waitPending(2)
	f.afterHold(func(prepared []txn.PreparedOp) error {
		if len(prepared) > 1 {
			return txn.NewOutcomeUnknownError(errors.New("etcd went away"))
		}
		return nil
	})
	f.release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	for _, answer := range []<-chan error{a, b} {
		if err := <-answer; !txn.IsOutcomeUnknown(err) {
			t.Errorf("member of a transaction without answer: %v, want unknown outcome", err)
		}
	}
}
