package faults

import (
	"context"
	"errors"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The classification the invariants rest on, without processes.
func TestOutcome(t *testing.T) {
	conflict := apierrors.NewTooManyRequests("the mapping was not recorded", 1)
	unavailable := apierrors.NewServiceUnavailable("storage is unavailable, the mapping may have been recorded; retrying is safe")
	notFound := apierrors.NewNotFound(schema.GroupResource{Group: "image.openshift.io", Resource: "imagestreammappings"}, "app")
	reset := errors.New("stream error: stream ID 453; INTERNAL_ERROR; received from peer")
	tests := []struct {
		name     string
		err      error
		attempts []attempt
		want     outcome
	}{
		{"201", nil, []attempt{{code: 201}}, recorded},
		{"201 after retries", nil, []attempt{{code: 503, retryAfter: "1", message: unavailable.ErrStatus.Message}, {code: 201}}, recorded},
		{"404", notFound, []attempt{{code: 404}}, notRecorded},
		{"429s until client-go gave up", conflict, []attempt{{code: 429, retryAfter: "1"}, {code: 429, retryAfter: "1"}}, notRecorded},
		{"a retry after a may-have-been-recorded answer", conflict, []attempt{{code: 504, retryAfter: "1", message: "the mapping may have been recorded"}, {code: 429, retryAfter: "1"}}, unknown},
		{"a retry after a transport error", conflict, []attempt{{err: reset}, {code: 429, retryAfter: "1"}}, unknown},
		{"may NOT have been recorded is not unknown", unavailable, []attempt{{code: 503, message: "the mapping may not have been recorded"}}, notRecorded},
		{"transport error", reset, []attempt{{err: reset}}, unknown},
		{"cancelled before sending", context.Canceled, nil, unknown},
		{"cancelled in flight", context.Canceled, []attempt{{err: context.Canceled, ctxErr: context.Canceled}}, unknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &request{err: tc.err, attempts: tc.attempts}
			if got := r.outcome(); got != tc.want {
				t.Errorf("outcome %s, want %s", got, tc.want)
			}
		})
	}
}

func TestAcceptableAnswers(t *testing.T) {
	tests := []struct {
		a     attempt
		label string
		ok    bool
	}{
		{attempt{code: 201}, "201", true},
		{attempt{code: 404}, "404", true},
		{attempt{code: 413}, "413", true},
		{attempt{code: 422}, "422", true},
		{attempt{code: 429, retryAfter: "1"}, "429", true},
		{attempt{code: 503, retryAfter: "1"}, "503", true},
		{attempt{code: 504, retryAfter: "1"}, "504", true},
		{attempt{code: 504}, "504", false},
		{attempt{code: 503}, "503", false},
		{attempt{code: 500, retryAfter: "1"}, "500", false},
		{attempt{code: 409}, "409", false},
		{attempt{err: errors.New("dial tcp 127.0.0.1:1: connect: connection refused")}, "conn", true},
		{attempt{err: errors.New("stream error: stream ID 3; INTERNAL_ERROR; received from peer")}, "reset", false},
		{attempt{err: context.Canceled, ctxErr: context.Canceled}, "cancel", true},
		{attempt{err: context.DeadlineExceeded, ctxErr: context.DeadlineExceeded}, "hang", false},
	}
	for _, tc := range tests {
		if got := tc.a.label(); got != tc.label {
			t.Errorf("%v: label %q, want %q", tc.a, got, tc.label)
		}
		if got := acceptable(tc.a); got != tc.ok {
			t.Errorf("%v: acceptable %t, want %t", tc.a, got, tc.ok)
		}
	}
}

func TestErrorCounts(t *testing.T) {
	requests := []*request{
		{err: nil, attempts: []attempt{{code: 503, retryAfter: "1"}, {code: 201}}},
		{err: errors.New("x"), attempts: []attempt{{code: 429}, {code: 429}, {err: errors.New("EOF")}}},
		{err: context.Canceled},
	}
	if got, want := errorCounts(requests), "429:2 503:1 cancel:1 conn:1"; got != want {
		t.Errorf("errorCounts %q, want %q", got, want)
	}
}
