// Package panics turns a panic on the write path into an error for the one request that
// caused it. The generic apiserver already does this for a request's own goroutine; the write
// path also runs code for a request in shared goroutines (a stream's batch, a group
// transaction), where an unrecovered panic would end the whole process and strand every other
// request.
package panics

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/klog/v2"
)

// Error is the 500 a request gets when handling it panicked.
type Error struct {
	*apierrors.StatusError
	// Value is what was passed to panic.
	Value any
}

// Unwrap lets errors.As find the StatusError.
func (e *Error) Unwrap() error { return e.StatusError }

// NewError logs the panic value p with the stack of the panicking goroutine (call it from the
// deferred function that recovered) and returns the 500 for its request. what says what was
// being done, for the log and the message.
func NewError(ctx context.Context, p any, what string) *Error {
	klog.FromContext(ctx).Error(fmt.Errorf("panic: %v", p), "Recovered a panic", "while", what, "stack", string(debug.Stack()))
	return &Error{
		StatusError: apierrors.NewInternalError(fmt.Errorf("the server panicked while %s; the panic and its stack are in the server log", what)),
		Value:       p,
	}
}

// Is tells whether err reports a recovered panic.
func Is(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Call runs f and returns its error, or the panic it raised as an *Error.
func Call(ctx context.Context, what string, f func() error) error {
	return CallDescribed(ctx, func() string { return what }, f)
}

// CallDescribed is Call for a description that costs something to build (every push runs
// through here): describe runs only if f panics.
func CallDescribed(ctx context.Context, describe func() string, f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = NewError(ctx, p, describe())
		}
	}()
	return f()
}
