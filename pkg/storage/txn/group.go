package txn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/workers"
)

// etcdMaxTxnOps is etcd's default --max-txn-ops: a transaction with more compares (or puts,
// or reads) is refused.
const etcdMaxTxnOps = 128

// GroupOptions tune a Group. The zero value is etcd's defaults.
type GroupOptions struct {
	// MaxRequestBytes is the largest transaction sent, alone or grouped (default
	// DefaultMaxRequestBytes, etcd's --max-request-bytes). A caller's ops larger than this
	// are refused with a 413 before they join a group.
	MaxRequestBytes int64
	// MaxOps is the most ops one etcd transaction carries (default 128, etcd's
	// --max-txn-ops).
	MaxOps int
	// InFlight is how many group transactions may be in flight at once (default 2). While all
	// are busy, commits queue up and then leave together. One would make fewer, larger
	// transactions: compared within the same make bench runs, 8 % less CPU per push (this
	// server's and etcd's) at 64 clients, but 1–3 % fewer pushes a second at 16, where a push
	// then more often waits for a whole transaction before its own can go.
	InFlight int
	// CommitTimeout bounds one etcd transaction (default 5s). It is deliberately not any
	// caller's deadline: a transaction cancelled half-way may still be applied, so callers
	// stop waiting (see Commit) rather than cancel.
	CommitTimeout time.Duration
}

// Group merges the Commits of concurrent callers into fewer etcd transactions. Every etcd
// transaction costs a raft entry, an apply step and a round trip whatever its size, so when
// many image streams are written at once this is what keeps the server near the raw etcd rate.
//
// Grouping never changes what a caller sees; no caller fails because of another (D14):
//   - each caller's ops are prepared (checked, encoded, sized) in its own goroutine, so a bad
//     op or an oversized transaction fails that caller alone, before it joins a group;
//   - a group never holds two callers that name the same key (one image mapped into two
//     streams at once): the later one waits for the next group, in order;
//   - when a compare fails, only the callers whose own compares failed get the conflict; the
//     others go again together in the next group;
//   - any other error of a shared transaction that is not about etcd being unreachable is
//     retried caller by caller, so it reaches only the caller that causes it;
//   - a panic while committing is logged with its stack and answered as a 500 to its caller,
//     or retried caller by caller when several shared the transaction; no caller is left
//     waiting.
type Group struct {
	backend       PreparedCommitter
	maxBytes      int64
	maxOps        int
	commitTimeout time.Duration
	slots         chan struct{}

	mu      sync.Mutex
	pending []*groupMember
}

var _ Interface = &Group{}

type memberState int

const (
	// memberPending: queued, in no transaction yet.
	memberPending memberState = iota
	// memberSent: in a transaction whose outcome is not known yet.
	memberSent
	// memberLeft: its caller stopped waiting; nothing more is sent for it.
	memberLeft
)

type groupMember struct {
	prepared []PreparedOp
	size     int64
	// solo members are committed in a transaction of their own: a shared transaction failed
	// in a way that could be any member's doing.
	solo bool
	done chan groupResult // buffered: the answer never blocks the committer

	// guarded by Group.mu
	state    memberState
	answered bool
}

type groupResult struct {
	rev int64
	err error
}

// NewGroup returns a Group committing through backend.
func NewGroup(backend PreparedCommitter, opts GroupOptions) *Group {
	if opts.MaxRequestBytes == 0 {
		opts.MaxRequestBytes = DefaultMaxRequestBytes
	}
	if opts.MaxOps <= 0 {
		opts.MaxOps = etcdMaxTxnOps
	}
	if opts.InFlight <= 0 {
		opts.InFlight = 2
	}
	if opts.CommitTimeout <= 0 {
		opts.CommitTimeout = 5 * time.Second
	}
	return &Group{
		backend:       backend,
		maxBytes:      opts.MaxRequestBytes,
		maxOps:        opts.MaxOps,
		commitTimeout: opts.CommitTimeout,
		slots:         make(chan struct{}, opts.InFlight),
	}
}

// Get implements Interface by reading straight from the backend.
func (g *Group) Get(ctx context.Context, r *Resource, namespace, name string, into runtime.Object) (int64, error) {
	return g.backend.Get(ctx, r, namespace, name, into)
}

// Commit implements Interface: ops commit atomically, possibly in one etcd transaction with
// other callers' ops, and the answer is what a transaction of ops alone would have given.
//
// When ctx ends first, Commit stops waiting: if ops were not sent yet they never will be, and
// the error IsNotSent; if they were, the error IsOutcomeUnknown and the transaction completes
// on its own.
func (g *Group) Commit(ctx context.Context, ops ...Op) (int64, error) {
	prepared, err := Prepare(ctx, g.maxBytes, ops)
	if err != nil {
		recordCommit(err)
		return 0, err
	}
	m := &groupMember{prepared: prepared, size: Size(prepared), done: make(chan groupResult, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, m)
	g.startFlusherLocked()
	g.mu.Unlock()

	select {
	case r := <-m.done:
		return r.rev, r.err
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if m.answered {
		r := <-m.done
		return r.rev, r.err
	}
	state := m.state
	m.state = memberLeft
	if state == memberPending {
		g.removeLocked(m)
		cause := context.Cause(ctx)
		return 0, &NotSentError{StatusError: apierrors.NewInternalError(fmt.Errorf("not committed: %w", cause)), cause: cause}
	}
	return 0, NewOutcomeUnknownError(fmt.Errorf("stopped waiting for the transaction: %w", context.Cause(ctx)))
}

// Pending returns how many callers wait for a transaction to be sent, so that tests can line
// up a group without sleeping.
func (g *Group) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// flushers run the groups' flushes: on goroutines whose stacks have grown to what encoding a
// transaction and the etcd client need (package workers).
var flushers = workers.New(time.Minute)

// startFlusherLocked starts a flusher when a slot is free; otherwise a running flusher takes
// the pending members on its next round.
func (g *Group) startFlusherLocked() {
	select {
	case g.slots <- struct{}{}:
		flushers.Go(g.flush)
	default:
	}
}

func (g *Group) removeLocked(m *groupMember) {
	for i, p := range g.pending {
		if p == m {
			g.pending = append(g.pending[:i:i], g.pending[i+1:]...)
			return
		}
	}
}

// flush commits pending members group by group until none is left, then frees its slot. The
// slot is freed under the lock that Commit appends under, so no member is left waiting.
func (g *Group) flush() {
	for {
		g.mu.Lock()
		group := g.takeLocked()
		if len(group) == 0 {
			<-g.slots
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commitGroup(group)
	}
}

// takeLocked removes the next group from pending, in arrival order, within etcd's op limit
// and the byte budget. The first member always goes, whatever its size. A member naming a key
// that a member taken before it names is left for a later group, and so is every later member
// naming one of its keys, so that writes of one key keep their order. A solo member goes only
// alone.
func (g *Group) takeLocked() []*groupMember {
	var group, rest []*groupMember
	taken := map[string]bool{}
	deferred := map[string]bool{}
	ops, size, closed := 0, int64(0), false
	for _, m := range g.pending {
		fits := !closed && (len(group) == 0 ||
			(!m.solo && ops+len(m.prepared) <= g.maxOps && size+m.size <= g.maxBytes))
		if fits {
			for _, p := range m.prepared {
				if taken[p.Key] || deferred[p.Key] {
					fits = false
					break
				}
			}
		}
		if !fits {
			for _, p := range m.prepared {
				deferred[p.Key] = true
			}
			rest = append(rest, m)
			// Size and op limits end the group: later members stay behind this one.
			if len(group) > 0 && (m.solo || ops+len(m.prepared) > g.maxOps || size+m.size > g.maxBytes) {
				closed = true
			}
			continue
		}
		for _, p := range m.prepared {
			taken[p.Key] = true
		}
		group = append(group, m)
		ops, size = ops+len(m.prepared), size+m.size
		m.state = memberSent
		if m.solo {
			closed = true
		}
	}
	g.pending = rest
	if len(group) > 0 {
		groupSizes.Observe(float64(len(group)))
	}
	return group
}

// commitGroup sends one transaction for group and answers or re-queues every member.
func (g *Group) commitGroup(group []*groupMember) {
	defer func() {
		if p := recover(); p != nil {
			g.recoverGroup(group, p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), g.commitTimeout)
	defer cancel()
	var all []PreparedOp
	for _, m := range group {
		all = append(all, m.prepared...)
	}
	rev, err := g.backend.CommitPrepared(ctx, all)
	var conflict *ConflictError
	switch {
	case err == nil:
		g.answerAll(group, groupResult{rev: rev})
	case len(group) == 1:
		g.answer(group[0], groupResult{err: err})
	case errors.As(err, &conflict):
		g.splitConflict(group, conflict)
	case IsOutcomeUnknown(err):
		// etcd did not answer: that is nobody's doing, and it is the same for everyone.
		g.answerAll(group, groupResult{err: err})
	default:
		// A shared transaction failed for a reason that may be one member's: try each alone.
		g.requeue(group, true)
	}
}

// splitConflict answers the members whose own compares failed and re-queues the others.
func (g *Group) splitConflict(group []*groupMember, conflict *ConflictError) {
	var again []*groupMember
	start := 0
	for _, m := range group {
		var mine []Conflict
		for _, c := range conflict.Conflicts {
			if c.Index >= start && c.Index < start+len(m.prepared) {
				c.Index -= start
				mine = append(mine, c)
			}
		}
		start += len(m.prepared)
		if len(mine) > 0 {
			g.answer(m, groupResult{err: NewConflictError(mine)})
		} else {
			again = append(again, m)
		}
	}
	g.requeue(again, false)
}

// recoverGroup handles a panic while committing group: it is logged with its stack; a member
// alone gets the 500, and shared members are retried one by one (their guards make that safe
// even if the transaction was applied), so that only the one causing it gets it.
func (g *Group) recoverGroup(group []*groupMember, p any) {
	err := panics.NewError(context.Background(), p, "committing an etcd transaction (it may or may not have been applied)")
	if len(group) == 1 {
		g.answer(group[0], groupResult{err: err})
		return
	}
	g.requeue(group, true)
}

// requeue puts members back at the head of the queue, to go before anything that arrived
// meanwhile. Members whose callers left are answered instead: nothing more is sent for them.
func (g *Group) requeue(members []*groupMember, solo bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	var again []*groupMember
	for _, m := range members {
		if m.answered || m.state == memberLeft {
			g.answerLocked(m, groupResult{err: NewOutcomeUnknownError(errors.New("the caller stopped waiting"))})
			continue
		}
		m.state = memberPending
		m.solo = m.solo || solo
		again = append(again, m)
	}
	g.pending = append(again, g.pending...)
}

func (g *Group) answerAll(group []*groupMember, r groupResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range group {
		g.answerLocked(m, r)
	}
}

func (g *Group) answer(m *groupMember, r groupResult) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.answerLocked(m, r)
}

// answerLocked delivers the one answer of m; later ones (after a panic, say) are dropped.
func (g *Group) answerLocked(m *groupMember, r groupResult) {
	if m.answered {
		return
	}
	m.answered = true
	m.done <- r
}
