package imagestreammapping

import (
	"context"
	"sync"
	"time"
)

// defaultBatchTimeout bounds a batch whose members all came without a deadline.
const defaultBatchTimeout = 30 * time.Second

// request is one mapping waiting to be committed.
type request struct {
	ctx  context.Context
	m    *mapping
	done chan error
	// taken is set (under the batcher's lock) once a batch owns the request; from then on
	// only the batch decides its outcome.
	taken bool
}

// batcher coalesces concurrent mappings to the same stream: while one transaction for a
// stream is in flight, later mappings queue, and the next transaction records all of them.
// A hot stream then costs one transaction per round instead of a retry storm in which every
// request but one loses the revision guard. Correctness does not depend on it: each batch is
// still guarded by the stream's revision, so several server replicas stay correct.
type batcher struct {
	maxBatch int
	commit   func(context.Context, *batch)

	mu     sync.Mutex
	queues map[string]*streamQueue
}

type streamQueue struct {
	namespace, stream string
	pending           []*request
}

func newBatcher(maxBatch int, commit func(context.Context, *batch)) *batcher {
	return &batcher{maxBatch: maxBatch, commit: commit, queues: map[string]*streamQueue{}}
}

// submit queues m and waits for its outcome. A request still queued when its context ends
// leaves the queue unwritten and is told to retry (429).
func (b *batcher) submit(ctx context.Context, m *mapping) error {
	req := &request{ctx: ctx, m: m, done: make(chan error, 1)}
	key := m.namespace + "/" + m.stream
	b.mu.Lock()
	q, running := b.queues[key]
	if !running {
		q = &streamQueue{namespace: m.namespace, stream: m.stream}
		b.queues[key] = q
	}
	q.pending = append(q.pending, req)
	b.mu.Unlock()
	if !running {
		go b.drain(key, q)
	}

	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
	}
	b.mu.Lock()
	if !req.taken {
		for i, p := range q.pending {
			if p == req {
				q.pending = append(q.pending[:i], q.pending[i+1:]...)
				break
			}
		}
		b.mu.Unlock()
		return tooManyRetries(m.namespace, m.stream, 0)
	}
	b.mu.Unlock()
	// A batch owns the request; its deadline is no later than this request's.
	return <-req.done
}

// drain commits the queue of one stream batch by batch until it is empty.
func (b *batcher) drain(key string, q *streamQueue) {
	for {
		b.mu.Lock()
		n := min(len(q.pending), b.maxBatch)
		if n == 0 {
			delete(b.queues, key)
			b.mu.Unlock()
			return
		}
		members := append([]*request(nil), q.pending[:n]...)
		q.pending = q.pending[n:]
		for _, r := range members {
			r.taken = true
		}
		b.mu.Unlock()

		ctx, cancel := batchContext(members)
		b.commit(ctx, &batch{namespace: q.namespace, stream: q.stream, members: members})
		cancel()
	}
}

// batchContext carries the first member's request values and the earliest deadline of all
// members, so that no member waits past its own deadline.
func batchContext(members []*request) (context.Context, context.CancelFunc) {
	deadline := time.Now().Add(defaultBatchTimeout)
	for i, r := range members {
		if d, ok := r.ctx.Deadline(); ok && (i == 0 || d.Before(deadline)) {
			deadline = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(members[0].ctx), deadline)
}

// finish delivers err (nil for success) to every member.
func (b *batch) finish(err error) {
	for _, r := range b.members {
		r.done <- err
	}
}

// observe records, for every member, how many transactions its batch needed, and the batch's
// size once.
func (b *batch) observe(attempts int) {
	for range b.members {
		attemptsPerMapping.Observe(float64(attempts))
	}
	mappingsBatched.Observe(float64(len(b.members)))
}
