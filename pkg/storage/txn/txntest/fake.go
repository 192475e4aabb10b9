package txntest

import (
	"context"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// Fake is an in-memory txn.Interface for unit tests of its callers. It keeps values exactly
// as etcd would (keys, encoding and transformation are txn.Prepare's, like the real
// implementation) and one global revision that each writing Commit bumps by one, so it
// passes RunConformance. It can also inject conflicts.
type Fake struct {
	// MaxRequestBytes is the size limit of a Commit; 0 means txn.DefaultMaxRequestBytes,
	// negative disables it. Set it before first use.
	MaxRequestBytes int64

	mu       sync.Mutex
	revision int64
	kvs      map[string]fakeKV
	failNext int
	before   func(ctx context.Context, ops []txn.Op)
	commits  int
}

type fakeKV struct {
	value       []byte
	modRevision int64
}

var _ txn.PreparedCommitter = &Fake{}

// NewFake returns an empty Fake at revision 1, where a new etcd starts.
func NewFake() *Fake {
	return &Fake{revision: 1, kvs: map[string]fakeKV{}}
}

// FailNextCommits makes the next n Commits that get past validation fail with a
// *txn.ConflictError listing every op with the unchanged current state, as if a concurrent
// writer had won each time. Use it to exercise retry bounds (D7).
func (f *Fake) FailNextCommits(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failNext = n
}

// BeforeCommit installs a hook that runs at the start of every Commit, outside the Fake's
// lock, so it may call Commit itself, e.g. to let a concurrent writer move a key and cause a
// real conflict. nil removes it.
func (f *Fake) BeforeCommit(hook func(ctx context.Context, ops []txn.Op)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.before = hook
}

// Commits returns how many Commits succeeded.
func (f *Fake) Commits() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.commits
}

// Revision returns the current revision.
func (f *Fake) Revision() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revision
}

// Get implements txn.Interface.
func (f *Fake) Get(ctx context.Context, r *txn.Resource, namespace, name string, into runtime.Object) (int64, error) {
	key, err := r.Key(ctx, namespace, name)
	if err != nil {
		return 0, err
	}
	f.mu.Lock()
	kv, ok := f.kvs[key]
	f.mu.Unlock()
	if !ok {
		return 0, apierrors.NewNotFound(r.GroupResource(), name)
	}
	if err := r.Decode(ctx, key, kv.value, kv.modRevision, into); err != nil {
		return 0, err
	}
	return kv.modRevision, nil
}

// Commit implements txn.Interface.
func (f *Fake) Commit(ctx context.Context, ops ...txn.Op) (int64, error) {
	f.mu.Lock()
	hook := f.before
	f.mu.Unlock()
	if hook != nil {
		hook(ctx, ops)
	}

	limit := f.MaxRequestBytes
	if limit == 0 {
		limit = txn.DefaultMaxRequestBytes
	}
	prepared, err := txn.Prepare(ctx, limit, ops)
	if err != nil {
		return 0, err
	}
	return f.commitPrepared(ctx, prepared)
}

// CommitPrepared implements txn.PreparedCommitter. The BeforeCommit hook sees the ops.
func (f *Fake) CommitPrepared(ctx context.Context, prepared []txn.PreparedOp) (int64, error) {
	f.mu.Lock()
	hook := f.before
	f.mu.Unlock()
	if hook != nil {
		ops := make([]txn.Op, len(prepared))
		for i, p := range prepared {
			ops[i] = p.Op
		}
		hook(ctx, ops)
	}
	return f.commitPrepared(ctx, prepared)
}

func (f *Fake) commitPrepared(ctx context.Context, prepared []txn.PreparedOp) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	injected := f.failNext > 0
	if injected {
		f.failNext--
	}
	var conflicts []txn.Conflict
	for i, p := range prepared {
		kv, ok := f.kvs[p.Key]
		if kv.modRevision == p.Revision && !injected {
			continue
		}
		c := txn.Conflict{Index: i, Op: p.Op, Revision: kv.modRevision}
		if ok {
			c.Object = p.Resource.New()
			if err := p.Resource.Decode(ctx, p.Key, kv.value, kv.modRevision, c.Object); err != nil {
				return 0, err
			}
		}
		conflicts = append(conflicts, c)
	}
	if len(conflicts) > 0 {
		return 0, txn.NewConflictError(conflicts)
	}

	// Like etcd, a transaction that only compares does not create a revision.
	writes := false
	for _, p := range prepared {
		if p.Obj != nil {
			writes = true
			break
		}
	}
	if writes {
		f.revision++
		for _, p := range prepared {
			if p.Obj != nil {
				f.kvs[p.Key] = fakeKV{value: p.Value, modRevision: f.revision}
			}
		}
	}
	if err := txn.SetRevisions(prepared, f.revision); err != nil {
		return 0, err
	}
	f.commits++
	return f.revision, nil
}
