package panics_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
)

func TestCall(t *testing.T) {
	own := errors.New("own error")
	tests := []struct {
		name      string
		f         func() error
		wantPanic bool
		wantErr   error
	}{
		{name: "no error", f: func() error { return nil }},
		{name: "an error is returned as is", f: func() error { return own }, wantErr: own},
		{name: "a panic is a 500", f: func() error { panic("boom") }, wantPanic: true},
		{name: "a panic with an error value is a 500", f: func() error { panic(own) }, wantPanic: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			described := false
			describe := func() string { described = true; return "testing" }
			err := panics.CallDescribed(context.Background(), describe, tc.f)
			if described != tc.wantPanic {
				t.Errorf("CallDescribed built its description: %v, want %v (only on a panic)", described, tc.wantPanic)
			}
			if again := panics.Call(context.Background(), "testing", tc.f); panics.Is(again) != panics.Is(err) || !panics.Is(err) && again != err {
				t.Errorf("Call gives %v, CallDescribed %v", again, err)
			}
			if got := panics.Is(err); got != tc.wantPanic {
				t.Fatalf("panics.Is(%v) = %v, want %v", err, got, tc.wantPanic)
			}
			if tc.wantPanic {
				if !apierrors.IsInternalError(err) || !strings.Contains(err.Error(), "while testing") {
					t.Errorf("panic error %v, want a 500 saying what was being done", err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("error %v, want %v", err, tc.wantErr)
			}
		})
	}
}
