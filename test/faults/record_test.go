package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mayHaveBeenRecorded is what a server's Status message says when it cannot tell whether a
// mapping was recorded (503/504 with Retry-After): the client must treat it as unknown.
const mayHaveBeenRecorded = "may have been recorded"

// attempt is one raw HTTP exchange of a logical request: client-go may send several (it
// retries 429 and 5xx answers that carry Retry-After).
type attempt struct {
	// code is the HTTP status; 0 when no answer arrived.
	code       int
	retryAfter string
	// message is the Status message of the answer, if it carried one.
	message string
	// err is why no answer arrived: the connection failed or the client gave up.
	err error
	// ctxErr is the request context's error when no answer arrived: context.Canceled when the
	// load cancelled the request on purpose, DeadlineExceeded when it hit requestBound.
	ctxErr error
}

// label names an attempt in the errors column: the HTTP code; "reset" when the server reset
// the HTTP/2 stream instead of answering (a live server that aborts its handler); "conn" for
// any other transport error (connection refused, lost with the server); "cancel" for a request
// the client cancelled and "hang" for one not answered within requestBound.
func (a attempt) label() string {
	switch {
	case a.code != 0:
		return strconv.Itoa(a.code)
	case errors.Is(a.ctxErr, context.DeadlineExceeded):
		return "hang"
	case a.ctxErr != nil:
		return "cancel"
	case isStreamReset(a.err):
		return "reset"
	default:
		return "conn"
	}
}

// isStreamReset tells an HTTP/2 RST_STREAM sent by the server (Go's HTTP/2 server sends one when
// a handler aborts, e.g. the apiserver's timeout filter) from a lost connection. The error
// types of the bundled and the x/net HTTP/2 clients differ; their text is the same.
func isStreamReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "stream error:") && strings.Contains(err.Error(), "received from peer")
}

// outcome is what the client may conclude about a logical request.
type outcome int

const (
	recorded outcome = iota
	unknown
	notRecorded
)

func (o outcome) String() string {
	return [...]string{"recorded", "unknown", "not recorded"}[o]
}

// request is one logical mapping request: one ImageStreamMapping create, with every attempt
// client-go made for it.
type request struct {
	n                  int64
	stream, tag, image string
	server             int
	// shape says how it was sent: "default", "timeout=1s", or a cancel point.
	shape      string
	start, end time.Time
	// err is what client-go returned (nil for a 201).
	err error

	mu       sync.Mutex
	attempts []attempt
}

func (r *request) add(a attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, a)
}

// outcome classifies the request: a 201 is recorded. An answer saying it may have been
// recorded, a transport error or a client-side cancel in any attempt makes it unknown. Any
// other error answer means not recorded.
func (r *request) outcome() outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err == nil {
		return recorded
	}
	var status apierrors.APIStatus
	if len(r.attempts) == 0 || !errors.As(r.err, &status) {
		// Given up before an answer, e.g. cancelled before it was sent.
		return unknown
	}
	for _, a := range r.attempts {
		if a.code == 0 || strings.Contains(a.message, mayHaveBeenRecorded) {
			return unknown
		}
	}
	return notRecorded
}

// requestKey carries the *request a raw exchange belongs to.
type requestKey struct{}

// recordingTransport records every raw answer (code, Retry-After, Status message) and
// transport error of the load's requests, below client-go's retries.
type recordingTransport struct {
	next http.RoundTripper
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, _ := req.Context().Value(requestKey{}).(*request)
	resp, err := rt.next.RoundTrip(req)
	if r == nil {
		return resp, err
	}
	if err != nil {
		r.add(attempt{err: err, ctxErr: req.Context().Err()})
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		r.add(attempt{err: err, ctxErr: req.Context().Err()})
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	a := attempt{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	var st metav1.Status
	if json.Unmarshal(body, &st) == nil {
		a.message = st.Message
	}
	r.add(a)
	return resp, nil
}

// errorCounts counts the error answers and failed attempts of requests by label, in the
// errors column's format: "429:3 503:12 conn:5".
func errorCounts(requests []*request) string {
	counts := map[string]int{}
	for _, r := range requests {
		r.mu.Lock()
		for _, a := range r.attempts {
			if a.code < 300 && a.code != 0 {
				continue
			}
			counts[a.label()]++
		}
		if len(r.attempts) == 0 && r.err != nil {
			counts["cancel"]++
		}
		r.mu.Unlock()
	}
	labels := make([]string, 0, len(counts))
	for l := range counts {
		labels = append(labels, l)
	}
	// Codes in numeric order, then the transport-level labels.
	sort.Slice(labels, func(i, j int) bool {
		ci, ei := strconv.Atoi(labels[i])
		cj, ej := strconv.Atoi(labels[j])
		switch {
		case ei == nil && ej == nil:
			return ci < cj
		case ei == nil || ej == nil:
			return ei == nil
		}
		return labels[i] < labels[j]
	})
	var out []string
	for _, l := range labels {
		out = append(out, l+":"+strconv.Itoa(counts[l]))
	}
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, " ")
}
