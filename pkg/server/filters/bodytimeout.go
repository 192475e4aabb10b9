// Package filters holds HTTP filters the generic apiserver's handler chain lacks: a bound on
// how long a request body may take to arrive, and a check that text bodies are UTF-8.
package filters

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// WithRequestBodyTimeout bounds the time from the handler's first read of a request body to
// its end. The generic apiserver has none: a client that sends its body one byte per second
// holds a request slot, a goroutine and a connection for as long as it keeps trickling, at
// least until the generic request timeout (60 s by default). When the bound passes, reading the body fails with a 408 Status, which
// the API handlers return as they return any body error. Requests without a body, such as
// watches, are not affected. timeout <= 0 disables the bound.
//
// It must be the outermost filter: it sets the read deadline through the server's own
// ResponseWriter, which works for HTTP/1.1 (a connection deadline) and HTTP/2 (a stream
// deadline).
func WithRequestBodyTimeout(handler http.Handler, timeout time.Duration) http.Handler {
	if timeout <= 0 {
		return handler
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Body == nil || req.Body == http.NoBody || req.ContentLength == 0 {
			handler.ServeHTTP(w, req)
			return
		}
		body := &deadlineBody{body: req.Body, rc: http.NewResponseController(w), timeout: timeout}
		// On HTTP/1.1 a read that fails on the connection's deadline also cancels the request's
		// context, and the generic chain would then answer 504 "context canceled" before the
		// handler can answer 408. So the request gets a context of its own, cancelled like the
		// original one (client gone, connection closed) except when the cause is this deadline;
		// it ends with the request in any case.
		ctx, cancel := context.WithCancel(context.WithoutCancel(req.Context()))
		stop := context.AfterFunc(req.Context(), func() {
			if !body.expired() {
				cancel()
			}
		})
		defer func() {
			stop()
			cancel()
			body.finish()
		}()
		req = req.WithContext(ctx)
		req.Body = body
		handler.ServeHTTP(w, req)
	})
}

// deadlineBody sets the read deadline on the first read and clears it at the end of the body.
type deadlineBody struct {
	body    io.ReadCloser
	rc      *http.ResponseController
	timeout time.Duration

	mu sync.Mutex
	// deadline is zero until the first read.
	deadline time.Time
	// eof: the body was read to its end; timedOut: a read failed on the deadline; finished:
	// the handler returned and the ResponseController must no longer be used.
	eof, timedOut, finished bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	if err := b.start(); err != nil {
		return 0, err
	}
	n, err := b.body.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		b.reachedEOF()
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.mu.Lock()
		b.timedOut = true
		b.mu.Unlock()
		err = bodyTimeoutError(b.timeout)
	default:
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			// A client that disconnects mid-body is not a server error (500).
			err = apierrors.NewBadRequest(fmt.Sprintf("reading the request body: %v", err))
		}
	}
	return n, err
}

// Close keeps the deadline of a body that was not read to its end: after the handler, the
// server reads and discards what remains of it (on HTTP/1.1, to reuse the connection), and
// the deadline bounds that too.
func (b *deadlineBody) Close() error { return b.body.Close() }

// start sets the deadline on the first read.
func (b *deadlineBody) start() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.deadline.IsZero() || b.finished {
		return nil
	}
	b.deadline = time.Now().Add(b.timeout)
	if err := b.rc.SetReadDeadline(b.deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return apierrors.NewInternalError(fmt.Errorf("setting the request body's read deadline: %w", err))
	}
	return nil
}

// reachedEOF clears the deadline once the body is read: on HTTP/1.1 it would otherwise also
// end the connection's idle read that notices a client going away while the request is
// processed, and cancel the request.
func (b *deadlineBody) reachedEOF() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.eof {
		return
	}
	b.eof = true
	if !b.deadline.IsZero() && !b.finished {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
}

// finish is called when the handler returns. A body the handler did not read (a request
// rejected before its body was needed) gets its deadline now, for the server's discarding of
// it. From now on the ResponseController is not used: an inner handler still running on its
// own goroutine (after the generic request timeout) must not touch a connection that may
// already serve another request.
func (b *deadlineBody) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.deadline.IsZero() && !b.eof {
		b.deadline = time.Now().Add(b.timeout)
		_ = b.rc.SetReadDeadline(b.deadline)
	}
	b.finished = true
}

// expired says whether the body's deadline passed before its end arrived.
func (b *deadlineBody) expired() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.timedOut || (!b.eof && !b.deadline.IsZero() && !time.Now().Before(b.deadline))
}

// bodyTimeoutError is the 408 a body that did not arrive in time gets. The reason is the one
// Kubernetes gives a 408 (apierrors.NewGenericServerResponse).
func bodyTimeoutError(timeout time.Duration) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status:  metav1.StatusFailure,
		Code:    http.StatusRequestTimeout,
		Reason:  metav1.StatusReasonTimeout,
		Message: fmt.Sprintf("the request body was not received within %s", timeout),
	}}
}
