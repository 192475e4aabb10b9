// Package txn writes several objects of different resources in one etcd transaction, exactly
// as their genericregistry.Store would write each of them: same key, codec, value transformer
// and resourceVersion semantics. An ImageStreamMapping uses it to create an Image and update
// its ImageStream's status atomically (D6): either both are written or nothing is. Group
// merges the transactions of concurrent callers into fewer etcd transactions.
//
// Writes go around the Store on purpose: no admission, no managedFields update, no store
// hooks. Keys, codec, value transformer and resourceVersion semantics are the Store's own, so
// watches and the watch cache see ordinary ADDED/MODIFIED events at the commit revision.
package txn

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/storage"
)

// DefaultMaxRequestBytes is etcd's default --max-request-bytes (1.5 MiB). Commit refuses
// larger transactions with a 413 before sending them, instead of etcd's opaque "request is
// too large".
const DefaultMaxRequestBytes = 3 * 1024 * 1024 / 2

// Op is one key of a transaction.
type Op struct {
	// Resource says how the key is laid out and how its value is encoded.
	Resource *Resource
	// Namespace is empty for cluster-scoped resources.
	Namespace, Name string
	// Obj is the new object, written as the Store would write it. Nil only asserts Revision.
	// Its name and namespace must match Name and Namespace. On success its resourceVersion
	// is set to the commit revision; on failure it is left as given (but for a cleared
	// selfLink, as the etcd3 store does).
	Obj runtime.Object
	// Revision is the ModRevision the key must have: the rev returned by Get (equal to the
	// object's resourceVersion) or 0 for "must not exist".
	Revision int64
	// Encoded, when set, is given Obj's encoding by the storage codec (before any value
	// transformer) as the op is prepared; nothing writes to it afterwards, so the caller may
	// keep it (the stream cache keeps what the writer committed).
	Encoded func(plain []byte)
}

// Interface reads single objects and commits several writes atomically.
//
// Every Commit error says whether the transaction may have been applied: IsOutcomeUnknown is
// true when etcd was asked but did not answer (unreachable, timed out); for every other
// error nothing was written.
type Interface interface {
	// Get reads an object directly from storage (linearizable, undecorated: no
	// Store.Decorator runs) into into, with its resourceVersion set, and returns the key's
	// ModRevision for Op.Revision. A missing object is apierrors.NewNotFound(resource, name).
	Get(ctx context.Context, r *Resource, namespace, name string, into runtime.Object) (rev int64, err error)
	// Commit applies all ops in one transaction and returns its revision. If any Revision
	// does not match, nothing is written and the error is a *ConflictError (also
	// apierrors.IsConflict) carrying the fresh state of every op that failed. A transaction
	// larger than the limit is a 413 (apierrors.IsRequestEntityTooLargeError).
	Commit(ctx context.Context, ops ...Op) (rev int64, err error)
}

// PreparedCommitter is an Interface that can also commit ops already checked and encoded by
// Prepare. Group uses it so that each caller's ops are prepared, and fail, on their own.
type PreparedCommitter interface {
	Interface
	// CommitPrepared is Commit without the Prepare step: every op's compare, every written
	// value, one transaction. It does not check the size limit.
	CommitPrepared(ctx context.Context, prepared []PreparedOp) (rev int64, err error)
}

// ConflictError is returned by Commit when a compare failed. It is a 409 Conflict StatusError
// about the first failed op and carries the state of every failed op, read in the same round
// trip, so callers can recompute without reading again (D7).
type ConflictError struct {
	*apierrors.StatusError
	// Conflicts are the failed ops in the order they were given.
	Conflicts []Conflict
}

// Conflict is the current state of a key whose compare failed.
type Conflict struct {
	// Index is the position of the op in the Commit call.
	Index int
	// Op is the op as given to Commit.
	Op Op
	// Revision is the key's ModRevision now; 0 when it does not exist.
	Revision int64
	// Object is the current object, with its resourceVersion set to Revision; nil when the
	// key does not exist.
	Object runtime.Object
}

// Unwrap lets errors.As find the *apierrors.StatusError.
func (e *ConflictError) Unwrap() error { return e.StatusError }

// ForOp returns the conflict of the op at index, if that op failed.
func (e *ConflictError) ForOp(index int) (*Conflict, bool) {
	for i := range e.Conflicts {
		if e.Conflicts[i].Index == index {
			return &e.Conflicts[i], true
		}
	}
	return nil, false
}

// NewConflictError builds the ConflictError for failed ops (at least one). Implementations
// of Interface share it so that callers see one error shape.
func NewConflictError(conflicts []Conflict) *ConflictError {
	if len(conflicts) == 0 {
		return &ConflictError{StatusError: apierrors.NewConflict(schema.GroupResource{}, "", errors.New(genericregistry.OptimisticLockErrorMsg))}
	}
	first := conflicts[0]
	var reason string
	switch {
	case first.Op.Revision == 0:
		reason = "the object already exists"
	case first.Revision == 0:
		reason = "the object has been deleted"
	default:
		reason = genericregistry.OptimisticLockErrorMsg
	}
	if n := len(conflicts) - 1; n > 0 {
		reason += fmt.Sprintf(" (%d more object(s) of the same transaction changed too)", n)
	}
	return &ConflictError{
		StatusError: apierrors.NewConflict(first.Op.Resource.GroupResource(), first.Op.Name, errors.New(reason)),
		Conflicts:   conflicts,
	}
}

// PreparedOp is an Op with its full key and, for writes, the value as it goes to etcd.
type PreparedOp struct {
	Op
	// Key is the full etcd key (Resource.Key).
	Key string
	// Value is Resource.Encode of Obj; nil for assert-only ops.
	Value []byte
}

// Prepare validates ops, computes their keys and storage values and enforces the request size
// limit (maxRequestBytes <= 0: no limit). Implementations of Interface share it so that they
// agree on everything but the storage itself. Malformed ops are programming errors (500);
// bad names or namespaces are 400; oversized transactions are 413.
func Prepare(ctx context.Context, maxRequestBytes int64, ops []Op) ([]PreparedOp, error) {
	if len(ops) == 0 {
		return nil, apierrors.NewInternalError(errors.New("transaction without operations"))
	}
	prepared := make([]PreparedOp, 0, len(ops))
	seen := make(map[string]bool, len(ops))
	for i, op := range ops {
		if op.Resource == nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("transaction op %d has no resource", i))
		}
		gr := op.Resource.GroupResource()
		if op.Revision < 0 {
			return nil, apierrors.NewInternalError(fmt.Errorf("transaction op %d (%s %q) has negative revision %d", i, gr, op.Name, op.Revision))
		}
		key, err := op.Resource.Key(ctx, op.Namespace, op.Name)
		if err != nil {
			return nil, err
		}
		// etcd rejects a put and a compare on the same key twice in one Txn anyway; say why.
		if seen[key] {
			return nil, apierrors.NewInternalError(fmt.Errorf("transaction names %s %q twice", gr, op.Name))
		}
		seen[key] = true
		p := PreparedOp{Op: op, Key: key}
		if op.Obj != nil {
			if err := checkObject(op); err != nil {
				return nil, apierrors.NewInternalError(fmt.Errorf("transaction op %d: %w", i, err))
			}
			plain, err := op.Resource.EncodePlain(op.Obj)
			if err != nil {
				return nil, err
			}
			if p.Value, err = op.Resource.transform(ctx, key, plain); err != nil {
				return nil, err
			}
			if op.Encoded != nil {
				op.Encoded(plain)
			}
		}
		prepared = append(prepared, p)
	}
	if size := Size(prepared); maxRequestBytes > 0 && size > maxRequestBytes {
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf(
			"the storage transaction would be %d bytes, over the limit of %d bytes: %s", size, maxRequestBytes, describe(prepared)))
	}
	return prepared, nil
}

// checkObject refuses objects that would be stored under another object's key: the watch
// cache derives keys from metadata, so a mismatch would corrupt it.
func checkObject(op Op) error {
	if want, got := reflect.TypeOf(op.Resource.New()), reflect.TypeOf(op.Obj); want != got {
		return fmt.Errorf("%s wants %v, got %v", op.Resource.GroupResource(), want, got)
	}
	accessor, err := meta.Accessor(op.Obj)
	if err != nil {
		return err
	}
	if accessor.GetName() != op.Name || accessor.GetNamespace() != op.Namespace {
		return fmt.Errorf("%s object %s/%s does not match its op %s/%s", op.Resource.GroupResource(),
			accessor.GetNamespace(), accessor.GetName(), op.Namespace, op.Name)
	}
	return nil
}

// describe names the written objects and their sizes for the 413 message.
func describe(prepared []PreparedOp) string {
	var parts []string
	for _, p := range prepared {
		if p.Obj == nil {
			continue
		}
		name := p.Name
		if p.Namespace != "" {
			name = p.Namespace + "/" + name
		}
		parts = append(parts, fmt.Sprintf("%s %s (%d bytes)", p.Resource.GroupResource(), name, len(p.Value)))
	}
	return strings.Join(parts, ", ")
}

// SetRevisions stamps every written object with the commit revision, as the etcd3 store does
// with the object it returns.
func SetRevisions(prepared []PreparedOp, rev int64) error {
	for _, p := range prepared {
		if p.Obj == nil {
			continue
		}
		if err := (storage.APIObjectVersioner{}).UpdateObject(p.Obj, uint64(rev)); err != nil {
			return apierrors.NewInternalError(fmt.Errorf("setting resourceVersion of %s %q: %w", p.Resource.GroupResource(), p.Name, err))
		}
	}
	return nil
}

// OutcomeUnknownError is a Commit error after which the transaction may or may not have been
// applied: etcd was asked, but the answer did not arrive (the cluster is unreachable, lost its
// leader, or the wait timed out). Revision guards make a retry of the same change safe: if the
// first attempt was applied, the retry's guard fails and the caller sees the applied state.
type OutcomeUnknownError struct {
	*apierrors.StatusError
	cause error
}

// Unwrap exposes both the StatusError and the cause to errors.Is and errors.As.
func (e *OutcomeUnknownError) Unwrap() []error { return []error{e.StatusError, e.cause} }

// NewOutcomeUnknownError wraps the reason a transaction's outcome is not known.
func NewOutcomeUnknownError(cause error) *OutcomeUnknownError {
	return &OutcomeUnknownError{
		StatusError: apierrors.NewInternalError(fmt.Errorf("the transaction may or may not have been applied: %w", cause)),
		cause:       cause,
	}
}

// IsOutcomeUnknown tells whether a Commit error leaves open whether the transaction was
// applied.
func IsOutcomeUnknown(err error) bool {
	var unknown *OutcomeUnknownError
	return errors.As(err, &unknown)
}

// NotSentError is a Commit error for ops that were never sent to etcd: the caller stopped
// waiting while they were queued. Nothing was written, and nothing will be.
type NotSentError struct {
	*apierrors.StatusError
	cause error
}

// Unwrap exposes both the StatusError and the cause to errors.Is and errors.As.
func (e *NotSentError) Unwrap() []error { return []error{e.StatusError, e.cause} }

// IsNotSent tells whether a Commit error says the ops were never sent.
func IsNotSent(err error) bool {
	var notSent *NotSentError
	return errors.As(err, &notSent)
}

// Size is the number of bytes prepared ops count against etcd's request limit: every key is
// compared and read back on failure, every value written.
func Size(prepared []PreparedOp) int64 {
	var size int64
	for _, p := range prepared {
		size += 2 * int64(len(p.Key))
		if p.Obj != nil {
			size += int64(len(p.Key) + len(p.Value))
		}
	}
	return size
}

// statusCause is a 500 StatusError that still unwraps to its cause, so callers can tell
// context.DeadlineExceeded (D7's retry bound) from other storage failures with errors.Is.
type statusCause struct {
	*apierrors.StatusError
	cause error
}

// Unwrap exposes both the StatusError and the cause to errors.Is and errors.As.
func (e *statusCause) Unwrap() []error { return []error{e.StatusError, e.cause} }

// internalError makes a storage failure a client-visible 500 that keeps its cause.
func internalError(err error) error {
	return &statusCause{StatusError: apierrors.NewInternalError(err), cause: err}
}
