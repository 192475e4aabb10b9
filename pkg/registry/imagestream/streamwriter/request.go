package streamwriter

import (
	"context"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

const (
	// defaultTimeout bounds a request that came without a deadline (the apiserver gives every
	// request one; direct callers in tests may not).
	defaultTimeout = 30 * time.Second
	// maxAnswerMargin is kept free at the end of a request's deadline, so that its answer is
	// written before the apiserver's own timeout answers in its place — with a 504 that would
	// not say what became of the change, or a reset stream. A request with a short timeout
	// keeps a third of it.
	maxAnswerMargin = time.Second
)

// requestState is where a request is on its way; it decides what may truthfully be said
// when the request stops waiting.
type requestState int

const (
	// stateQueued: waiting or being planned; in no transaction in flight.
	stateQueued requestState = iota
	// stateCommitting: in a transaction that has not answered yet.
	stateCommitting
	// stateAnswered: its answer is in done.
	stateAnswered
	// stateLeft: its caller stopped waiting; the writer leaves it out from now on.
	stateLeft
)

// request is one change waiting for its answer.
type request struct {
	ctx    context.Context
	change Change
	// answerBy is when the caller stops waiting: shortly before its deadline.
	answerBy time.Time
	// done receives the one answer; buffered, so the writer never blocks on a caller.
	done chan error
	// result is the stream as the change left it, set before a nil answer is sent.
	result *imagev1.ImageStream

	// Guarded by Writer.mu.
	state requestState
	// uncertain is set once a transaction holding the request ended without an answer from
	// etcd: from then on "not recorded" can no longer be said of it.
	uncertain bool
	// attempts counts the transactions the request was part of.
	attempts int
}

func newRequest(ctx context.Context, change Change) *request {
	now := time.Now()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = now.Add(defaultTimeout)
	}
	// The request's whole timeout counts from when the apiserver received it.
	start := now
	if received, ok := genericapirequest.ReceivedTimestampFrom(ctx); ok && received.Before(now) {
		start = received
	}
	margin := min(maxAnswerMargin, deadline.Sub(start)/3)
	return &request{ctx: ctx, change: change, answerBy: deadline.Add(-margin), done: make(chan error, 1)}
}

// wait returns the request's answer, or, when its time is up or its caller went away first,
// what can truthfully be said then: "not recorded" (429) when it is in no transaction in
// flight, since from now on it will be in none; "may have been recorded" (504) otherwise.
func (w *Writer) wait(r *request, namespace, name string) error {
	timer := time.NewTimer(time.Until(r.answerBy))
	defer timer.Stop()
	select {
	case err := <-r.done:
		return err
	case <-timer.C:
	case <-r.ctx.Done():
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if r.state == stateAnswered {
		return <-r.done
	}
	inFlight := r.state == stateCommitting || r.uncertain
	r.state = stateLeft
	recordOutcome(r.attempts)
	if inFlight {
		return outcomeUnknown(504, namespace, name, r.change, errDeadline)
	}
	return deadlineNotRecorded(namespace, name, r.change, r.attempts)
}

// answer delivers r's answer, unless its caller left already.
func (w *Writer) answer(r *request, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.answerLocked(r, err)
}

// answerCommitted answers batch with success; stream is how the changes left it (shared:
// WriteStream hands out copies).
func (w *Writer) answerCommitted(batch []*request, stream *imagev1.ImageStream) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range batch {
		if r.state != stateAnswered && r.state != stateLeft {
			r.result = stream
		}
		w.answerLocked(r, nil)
	}
}

// keepCreators answers the members of batch that cannot create their missing stream with
// 404 and returns the others.
func (w *Writer) keepCreators(q *queue, batch []*request) []*request {
	kept := batch[:0:0]
	for _, r := range batch {
		if createsStream(r.change) {
			kept = append(kept, r)
		} else {
			w.answer(r, streamNotFound(q.name))
		}
	}
	return kept
}

func (w *Writer) answerLocked(r *request, err error) {
	if r.state == stateAnswered || r.state == stateLeft {
		return
	}
	r.state = stateAnswered
	recordOutcome(r.attempts)
	r.done <- err
}

// keepWaiting returns the members of batch still waiting for an answer. Members whose time is
// up are answered here, between transactions, where it is known whether they are in one.
func (w *Writer) keepWaiting(q *queue, batch []*request) []*request {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]*request, 0, len(batch))
	for _, r := range batch {
		switch {
		case r.state == stateAnswered || r.state == stateLeft:
		case now.After(r.answerBy):
			if r.uncertain {
				w.answerLocked(r, outcomeUnknown(504, q.namespace, q.name, r.change, errDeadline))
			} else {
				w.answerLocked(r, deadlineNotRecorded(q.namespace, q.name, r.change, r.attempts))
			}
		default:
			out = append(out, r)
		}
	}
	return out
}

// markCommitting marks batch as in a transaction from now on, unless a member left since the
// batch was planned; then it returns false and the batch must be planned again.
func (w *Writer) markCommitting(batch []*request) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range batch {
		if r.state != stateQueued {
			return false
		}
	}
	for _, r := range batch {
		r.state = stateCommitting
		r.attempts++
	}
	return true
}

// unmarkCommitting ends the transaction of batch; unknown says it ended without an answer.
func (w *Writer) unmarkCommitting(batch []*request, unknown bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range batch {
		if unknown {
			r.uncertain = true
		}
		if r.state == stateCommitting {
			r.state = stateQueued
		}
	}
}
