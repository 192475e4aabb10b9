package imagestreammapping

import (
	"context"
	"errors"
	"sync"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// etcdMaxTxnOps is etcd's default --max-txn-ops: a transaction with more puts (or compares)
// is refused.
const etcdMaxTxnOps = 128

// groupCommitter merges the transactions of different streams that are ready at the same time
// into one etcd transaction. Every etcd transaction costs a raft entry, an apply step and a
// round trip whatever its size, so with many streams being pushed at once this is what keeps
// the server near the raw etcd rate. It changes no semantics: each stream's ops keep their own
// guards, and when any guard fails the members whose guards held are committed again on
// their own, so one contended stream cannot hold back the others.
type groupCommitter struct {
	txn      txn.Interface
	maxOps   int
	maxBytes int
	// slots bounds the group transactions in flight; while all are busy, commits queue up
	// and leave together.
	slots chan struct{}

	mu      sync.Mutex
	pending []*groupMember
}

type groupMember struct {
	ops  []txn.Op
	size int
	done chan groupResult
}

type groupResult struct {
	rev int64
	err error
}

func newGroupCommitter(t txn.Interface, inFlight, maxBytes int) *groupCommitter {
	return &groupCommitter{txn: t, maxOps: etcdMaxTxnOps, maxBytes: maxBytes, slots: make(chan struct{}, inFlight)}
}

// commit commits ops, possibly together with other streams' ops, and returns what a Commit of
// ops alone would return.
func (g *groupCommitter) commit(ops []txn.Op) (int64, error) {
	m := &groupMember{ops: ops, size: opsSize(ops), done: make(chan groupResult, 1)}
	g.mu.Lock()
	g.pending = append(g.pending, m)
	select {
	case g.slots <- struct{}{}:
		go g.flush()
	default: // a running flusher takes it on its next round
	}
	g.mu.Unlock()
	r := <-m.done
	return r.rev, r.err
}

// flush commits pending members group by group until none is left, then frees its slot. The
// slot is freed under the lock that commit appends under, so no member is left waiting.
func (g *groupCommitter) flush() {
	for {
		g.mu.Lock()
		group := g.take()
		if len(group) == 0 {
			<-g.slots
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		g.commitGroup(group)
	}
}

// take removes the next group from pending: in arrival order, within etcd's op limit and the
// byte budget. The first member always goes, whatever its size.
func (g *groupCommitter) take() []*groupMember {
	ops, size, n := 0, 0, 0
	for _, m := range g.pending {
		if n > 0 && (ops+len(m.ops) > g.maxOps || size+m.size > g.maxBytes) {
			break
		}
		ops, size, n = ops+len(m.ops), size+m.size, n+1
	}
	group := g.pending[:n:n]
	g.pending = g.pending[n:]
	return group
}

func (g *groupCommitter) commitGroup(group []*groupMember) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	if len(group) == 1 {
		rev, err := g.txn.Commit(ctx, group[0].ops...)
		group[0].done <- groupResult{rev, err}
		return
	}
	var all []txn.Op
	for _, m := range group {
		all = append(all, m.ops...)
	}
	rev, err := g.txn.Commit(ctx, all...)
	var conflict *txn.ConflictError
	if err == nil || !errors.As(err, &conflict) {
		for _, m := range group {
			m.done <- groupResult{rev, err}
		}
		return
	}
	// Split the conflicts by member. Members with one answer now; the others commit alone.
	start := 0
	for _, m := range group {
		var mine []txn.Conflict
		for _, c := range conflict.Conflicts {
			if c.Index >= start && c.Index < start+len(m.ops) {
				c.Index -= start
				mine = append(mine, c)
			}
		}
		start += len(m.ops)
		if len(mine) > 0 {
			m.done <- groupResult{err: txn.NewConflictError(mine)}
			continue
		}
		rev, err := g.txn.Commit(ctx, m.ops...)
		m.done <- groupResult{rev, err}
	}
}

// opsSize estimates the bytes ops write, from the objects' protobuf sizes.
func opsSize(ops []txn.Op) int {
	size := 0
	for _, op := range ops {
		if s, ok := op.Obj.(interface{ Size() int }); ok {
			size += s.Size()
		}
		size += 100 // key and framing
	}
	return size
}
