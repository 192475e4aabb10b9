package streamwriter

import (
	"context"
	"fmt"
	"strconv"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
)

// Change is one request's change to an image stream: a mapping's tag event today; tag writes
// and imports go the same way. The writer applies it to the freshest stream it knows and
// may apply it again to a fresher one after a lost revision guard, so Apply must derive
// everything from its arguments.
type Change interface {
	// Apply records the change in stream, the writer's private copy of the stored stream
	// (with its repository fields set, as clients see them), and declares through tx the
	// images it writes or relies on. It reports whether the stream changed. An error fails
	// this change alone.
	Apply(stream *imagev1.ImageStream, tx *Tx) (changed bool, err error)
	// String names the change in answers and logs, e.g. "the mapping of tag v1 to sha256:…".
	String() string
}

// StreamCreator is a Change that creates its stream when the stream does not exist, as tag
// writes do. Other changes to a missing stream are answered 404.
type StreamCreator interface {
	Change
	CreatesStream() bool
}

func createsStream(c Change) bool {
	sc, ok := c.(StreamCreator)
	return ok && sc.CreatesStream()
}

// Tx is what a plan knows about images, and the image ops of its transaction.
type Tx struct {
	// Now is the time of this plan: the created time of the tag events it adds.
	Now metav1.Time

	images *txn.Resource
	// known holds the revision of images known to exist, and 0 for images known to be absent.
	// An image not in it is assumed new: created with a "must not exist" guard, which the
	// conflict corrects if it is wrong.
	known   map[string]int64
	planned map[string]bool
	ops     []txn.Op

	// revision is the stored stream's; 0 when the transaction creates the stream.
	revision int64
	// streamChanged says an earlier change of this transaction changed the stream already.
	streamChanged bool
}

// Creating tells whether the transaction creates the stream: it did not exist when planned.
func (tx *Tx) Creating() bool { return tx.revision == 0 }

// ResourceVersionIs tells whether the stream the change applies to is the one stored at
// resourceVersion rv, for changes that carry a client's precondition: it is not once an
// earlier change of the same transaction changed the stream, as it would not be had the two
// been committed one after the other.
func (tx *Tx) ResourceVersionIs(rv string) bool {
	return !tx.streamChanged && tx.revision != 0 && rv == strconv.FormatInt(tx.revision, 10)
}

// EnsureImage makes img exist once the transaction commits, and reports whether it existed
// before this change: stored already, or written by an earlier change of the same
// transaction. An image known to exist is never modified, only asserted, so that it cannot
// be deleted under the new reference; a new one is created with the transaction.
func (tx *Tx) EnsureImage(img *imagev1.Image) (existed bool) {
	if tx.planned[img.Name] {
		return true
	}
	tx.planned[img.Name] = true
	if rev := tx.known[img.Name]; rev != 0 {
		tx.ops = append(tx.ops, txn.Op{Resource: tx.images, Name: img.Name, Revision: rev})
		return true
	}
	tx.ops = append(tx.ops, txn.Op{Resource: tx.images, Name: img.Name, Obj: img.DeepCopy()})
	return false
}

// writesImage tells whether the transaction creates an image, as opposed to only asserting.
func (tx *Tx) writesImage() bool {
	for _, op := range tx.ops {
		if op.Obj != nil {
			return true
		}
	}
	return false
}

// PlanInput is everything a plan depends on.
type PlanInput struct {
	// Stored is the stream as stored, at Revision; it is never modified. When Create is set
	// the stream does not exist: Stored holds only its namespace and name, Revision is 0, and
	// the transaction creates it.
	Stored   *imagev1.ImageStream
	Revision int64
	Create   bool
	// Images are the revisions of images known to exist (0: known absent).
	Images  map[string]int64
	Changes []Change
	// Streams and ImageResource say where the ops write.
	Streams, ImageResource *txn.Resource
	Hostnames              imagestream.RegistryHostnames
	Now                    metav1.Time
	// MaxTagHistory is the server's per-tag history limit (D16), 0 for none; a stream's
	// annotation overrides it.
	MaxTagHistory int
	// Finish completes the updated stream for storage (status strategy, validation, size
	// limit); stored is read-only.
	Finish func(updated, stored *imagev1.ImageStream) error
}

// PlanResult is a transaction that applies a batch of changes.
type PlanResult struct {
	// Ops is nil when there is nothing to write: every change is recorded already.
	// Otherwise Ops[0] is the stream's (a write, or an assertion when only images change).
	Ops []txn.Op
	// Stream is the stream as it will be stored, or nil when Ops does not write it.
	Stream *imagev1.ImageStream
	// Dropped counts the old tag events the history limit removed.
	Dropped int
}

// PlanError is a change's own failure, or a failure of the batch as a whole (Index -1),
// which the writer resolves by planning each change alone.
type PlanError struct {
	Index int
	Err   error
}

func (e *PlanError) Error() string { return e.Err.Error() }

// Plan applies in.Changes in order to a copy of the stored stream and returns the
// transaction that records them, guarded by the revisions it was computed from. It reads and
// writes nothing else, so the same input always gives the same transaction; a panic in a
// change or in Finish is returned as that change's (or the batch's) error.
func Plan(in PlanInput) (PlanResult, *PlanError) {
	stream := in.Stored.DeepCopy()
	imagestream.SetRepositories(stream, in.Hostnames)
	tx := &Tx{Now: in.Now, images: in.ImageResource, known: in.Images, planned: map[string]bool{}, revision: in.Revision}
	if in.Create {
		tx.revision = 0
	}
	// Creating the stream is a change in itself.
	changed := in.Create
	for i, c := range in.Changes {
		tx.streamChanged = changed
		var did bool
		err := panics.CallDescribed(context.Background(), func() string { return fmt.Sprintf("applying %s", c) }, func() (err error) {
			did, err = c.Apply(stream, tx)
			return err
		})
		if err != nil {
			return PlanResult{}, &PlanError{Index: i, Err: err}
		}
		changed = changed || did
	}
	if !changed && !tx.writesImage() {
		return PlanResult{}, nil
	}
	// Revision 0 is etcd's "must not exist": a stream created meanwhile is a conflict.
	streamOp := txn.Op{Resource: in.Streams, Namespace: in.Stored.Namespace, Name: in.Stored.Name, Revision: tx.revision}
	var result PlanResult
	if changed {
		// Once for the whole batch, whatever its changes were (mappings, tracking tags, tag
		// writes): a tag this batch lengthened past the limit loses its oldest events in the
		// same transaction, so the stored stream never holds more, even for a moment. Before
		// Finish, so that the size limit and validation see the stream as it will be stored.
		result.Dropped = imagestream.TrimTagHistory(stream, in.Stored, imagestream.TagHistoryLimit(stream, in.MaxTagHistory))
		err := panics.Call(context.Background(), "preparing an image stream update", func() error {
			return in.Finish(stream, in.Stored)
		})
		if err != nil {
			return PlanResult{}, &PlanError{Index: -1, Err: err}
		}
		streamOp.Obj = stream
		result.Stream = stream
	}
	// The stream's guard comes first, even when only images are written: a change that relies
	// on the stream as it was read must not commit over a stream that changed meanwhile.
	result.Ops = append([]txn.Op{streamOp}, tx.ops...)
	return result, nil
}
