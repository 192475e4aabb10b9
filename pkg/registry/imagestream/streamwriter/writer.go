// Package streamwriter records changes to image streams — a mapping's tag event today, tag
// writes and imports later — each in one etcd transaction with the images it creates, and
// without failing one request because of another (D6, D7, D14).
//
// A change's path reads top to bottom:
//
//	Write: queue the change behind its stream and wait for the answer (request.go)
//	drain: the stream's queue leaves in batches; a batch is planned and committed together
//	plan:  stream and image state in, transaction ops out; a pure function (plan.go)
//	commit: through a txn.Interface, normally a *txn.Group shared with other streams
//	answer: every change gets exactly one answer, and the answer is true
//
// The rules that make answers true:
//   - "not recorded" (404, 409, 413, 422, 429, a 503 about reading) is only said of a change
//     that is in no transaction in flight and will be in none later;
//   - a change whose transaction was sent and not answered (etcd unreachable, the request's
//     deadline came first) is answered 503 or 504 with Retry-After, saying it may have been
//     recorded. Retrying it is harmless: an event equal to the tag's head is not added again;
//   - a request's answer never waits past its own deadline, and one request's deadline,
//     error or panic is never another's: it leaves its batch alone.
package streamwriter

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/klog/v2"

	"github.com/image-apiserver/image-apiserver/pkg/panics"
	"github.com/image-apiserver/image-apiserver/pkg/registry/imagestream"
	"github.com/image-apiserver/image-apiserver/pkg/storage/txn"
	"github.com/image-apiserver/image-apiserver/pkg/workers"
)

const (
	// readTimeout bounds one storage read. etcd's client waits for an unreachable cluster
	// until its context ends; a registry should get a 503 within seconds rather than hang.
	readTimeout = 5 * time.Second
	// maxUnknownOutcomes is how many transactions of one batch may end without an answer from
	// etcd before the batch stops trying and says so.
	maxUnknownOutcomes = 2
	// defaultMaxBatch caps how many queued changes to one stream share a transaction.
	defaultMaxBatch = 64
)

// StreamReader reads a stream as cheaply as possible: from the watch cache, say, which also
// sees other replicas' writes. It may be stale: a stale stream only costs a lost revision
// guard, whose answer carries the fresh one. A missing stream is (nil, 0, nil).
type StreamReader func(ctx context.Context, namespace, name string) (*imagev1.ImageStream, int64, error)

// Config is what a Writer needs.
type Config struct {
	// Txn reads fresh objects and commits; normally a *txn.Group.
	Txn txn.Interface
	// Streams and Images describe how imagestreams and images are stored.
	Streams, Images *txn.Resource
	// ReadStream is the cheap read; nil reads through Txn.
	ReadStream StreamReader
	// Committed, when set, is given every stream the writer commits, with its new
	// resourceVersion, once the callers are answered (the stream cache takes it ahead of its
	// watch), and the stream's encoding by the storage codec (txn.Op.Encoded), which it may
	// keep. It must only read the stream, and not keep it.
	Committed func(stream *imagev1.ImageStream, encoded []byte)
	// CommittedImage, when set, is given every image the writer creates, with its
	// resourceVersion, once the callers are answered (the image index learns it ahead of its
	// watch). It must only read the image, and not keep it.
	CommittedImage func(*imagev1.Image)
	// StatusStrategy is the imagestreams/status update strategy every write that changes
	// only a stream's status goes through: defaulting, generations, validation.
	StatusStrategy rest.RESTUpdateStrategy
	// SpecStrategy finishes a stream whose spec a change altered (a tag write): the change
	// applied the spec rules itself; this validates the whole stream. Nil: only status
	// changes are expected.
	SpecStrategy rest.RESTUpdateStrategy
	// CreateStrategy creates a stream that a StreamCreator change creates: the main
	// endpoint's create rules and validation.
	CreateStrategy rest.RESTCreateStrategy
	Hostnames      imagestream.RegistryHostnames
	// MaxImageStreamBytes is D8's limit on a stored stream; 0 means no limit.
	MaxImageStreamBytes int
	// MaxTagHistory is the number of events each tag keeps (D16), unless the stream's
	// annotation says otherwise; 0 means no limit.
	MaxTagHistory int
	// MaxBatch caps the changes of one transaction (default 64).
	MaxBatch int
}

// Writer records changes to image streams.
type Writer struct {
	cfg Config

	mu     sync.Mutex
	queues map[string]*queue
}

// New returns a Writer.
func New(cfg Config) *Writer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = defaultMaxBatch
	}
	return &Writer{cfg: cfg, queues: map[string]*queue{}}
}

// queue holds the changes waiting for one stream. While it exists one goroutine drains it,
// and keeps what it learned of the stream from one batch to the next, so that a busy stream
// needs no read between its transactions. It is dropped when empty: the writer's memory
// grows with the streams being written, not with the streams that exist.
type queue struct {
	namespace, name string
	pending         []*request // guarded by Writer.mu

	// Owned by the draining goroutine.
	stream *imagev1.ImageStream // as stored; nil when it does not exist
	rev    int64
	known  bool
	// fresh asks for the next read to come from etcd: a commit's outcome is unknown, or the
	// cheap read said the stream is missing.
	fresh bool
}

// drainers run the queues' drains: on goroutines whose stacks have grown to what planning,
// validation and encoding need (package workers).
var drainers = workers.New(time.Minute)

// Write records change in the stream namespace/name, or says why not. It returns nil once
// the change is committed (or found recorded already).
func (w *Writer) Write(ctx context.Context, namespace, name string, change Change) error {
	// No copy of the stream for a caller that does not read it: a push.
	_, err := w.write(ctx, namespace, name, change)
	return err
}

// WriteStream is Write that also returns the stream as the change left it: as committed, or
// as found when there was nothing to write. The stream is the caller's own copy.
func (w *Writer) WriteStream(ctx context.Context, namespace, name string, change Change) (*imagev1.ImageStream, error) {
	req, err := w.write(ctx, namespace, name, change)
	if err != nil {
		return nil, err
	}
	// Set before the answer was sent, so the receive in wait orders this read after it.
	return req.result.DeepCopy(), nil
}

// write queues change and waits for its answer.
func (w *Writer) write(ctx context.Context, namespace, name string, change Change) (*request, error) {
	req := newRequest(ctx, change)
	key := namespace + "/" + name
	w.mu.Lock()
	q, running := w.queues[key]
	if !running {
		q = &queue{namespace: namespace, name: name}
		w.queues[key] = q
	}
	q.pending = append(q.pending, req)
	w.mu.Unlock()
	if !running {
		drainers.Go(func() { w.drain(key, q) })
	}
	if err := w.wait(req, namespace, name); err != nil {
		return nil, err
	}
	return req, nil
}

// Queued returns how many changes to a stream wait behind the transaction in flight, so tests
// can line up a batch without sleeping.
func (w *Writer) Queued(namespace, name string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if q, ok := w.queues[namespace+"/"+name]; ok {
		return len(q.pending)
	}
	return 0
}

// DryRun plans change against the stream and images as stored, reading everything fresh
// (a dry run must not rely on this server's view), and runs every check a commit would:
// validation, D8's size limit, etcd's request limit. It writes nothing.
func (w *Writer) DryRun(ctx context.Context, namespace, name string, change Change) error {
	_, err := w.DryRunStream(ctx, namespace, name, change)
	return err
}

// DryRunStream is DryRun that also returns the stream as the change would leave it.
func (w *Writer) DryRunStream(ctx context.Context, namespace, name string, change Change) (*imagev1.ImageStream, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	stored := &imagev1.ImageStream{}
	rev, err := w.cfg.Txn.Get(ctx, w.cfg.Streams, namespace, name, stored)
	create := false
	switch {
	case apierrors.IsNotFound(err) && createsStream(change):
		stored, rev, create = newStream(namespace, name), 0, true
	case apierrors.IsNotFound(err):
		return nil, streamNotFound(name)
	case err != nil:
		return nil, storageUnavailable(namespace, name, change, err)
	}
	in := w.planInput(ctx, stored, rev, create, map[string]int64{}, []Change{change})
	// A first plan names the images the change relies on; their revisions make the second
	// plan the one a commit would send.
	p, perr := Plan(in)
	if perr != nil {
		return nil, perr.Err
	}
	for _, op := range p.Ops[min(1, len(p.Ops)):] {
		rev, err := w.cfg.Txn.Get(ctx, w.cfg.Images, "", op.Name, &imagev1.Image{})
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return nil, storageUnavailable(namespace, name, change, err)
		default:
			in.Images[op.Name] = rev
		}
	}
	if p, perr = Plan(in); perr != nil {
		return nil, perr.Err
	}
	if p.Ops != nil {
		if _, err := txn.Prepare(ctx, txn.DefaultMaxRequestBytes, p.Ops); err != nil {
			return nil, err
		}
	}
	if p.Stream != nil {
		return p.Stream, nil
	}
	return stored, nil
}

// newStream is what a StreamCreator change starts from when its stream does not exist.
func newStream(namespace, name string) *imagev1.ImageStream {
	return &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
}

func (w *Writer) planInput(ctx context.Context, stored *imagev1.ImageStream, rev int64, create bool, images map[string]int64, changes []Change) PlanInput {
	return PlanInput{
		Stored: stored, Revision: rev, Create: create, Images: images, Changes: changes,
		Streams: w.cfg.Streams, ImageResource: w.cfg.Images, Hostnames: w.cfg.Hostnames,
		Now: metav1.Now(), MaxTagHistory: w.cfg.MaxTagHistory,
		Finish: func(updated, stored *imagev1.ImageStream) error {
			return w.finish(ctx, updated, stored, create)
		},
	}
}

// finish runs the strategy that fits what the batch changed, and enforces D8's size limit:
// the create rules for a new stream, the spec rules' validation when a spec or the
// annotations changed (tag writes, imports), the status strategy otherwise (mappings).
func (w *Writer) finish(ctx context.Context, updated, stored *imagev1.ImageStream, create bool) error {
	ctx = genericapirequest.WithNamespace(ctx, stored.Namespace)
	switch {
	case create:
		rest.FillObjectMetaSystemFields(updated)
		if err := rest.BeforeCreate(w.cfg.CreateStrategy, ctx, updated); err != nil {
			return err
		}
	case w.cfg.SpecStrategy != nil && (!equality.Semantic.DeepEqual(updated.Spec, stored.Spec) || !maps.Equal(updated.Annotations, stored.Annotations)):
		// The changes moved the generation as the spec rules say; BeforeUpdate resets it to
		// the stored one, expecting the strategy to move it again, so it is restored after.
		generation := updated.Generation
		if err := rest.BeforeUpdate(w.cfg.SpecStrategy, ctx, updated, stored); err != nil {
			return err
		}
		updated.Generation = generation
	default:
		if err := rest.BeforeUpdate(w.cfg.StatusStrategy, ctx, updated, stored); err != nil {
			return err
		}
	}
	if limit := w.cfg.MaxImageStreamBytes; limit > 0 {
		if size := updated.Size(); size > limit {
			return imagestream.TooLarge(resource.Resource, updated, size, limit)
		}
	}
	return nil
}

// drain commits the queue batch by batch until it is empty, then drops it.
func (w *Writer) drain(key string, q *queue) {
	for {
		w.mu.Lock()
		var batch []*request
		for len(q.pending) > 0 && len(batch) < w.cfg.MaxBatch {
			r := q.pending[0]
			q.pending = q.pending[1:]
			if r.state == stateQueued {
				batch = append(batch, r)
			}
		}
		if len(batch) == 0 {
			delete(w.queues, key)
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		w.safeCommitBatch(q, batch)
	}
}

// safeCommitBatch is commitBatch with the last line of defence: a panic in the writer's own
// code answers the batch with a 500 instead of ending the process and stranding its waiters.
func (w *Writer) safeCommitBatch(q *queue, batch []*request) {
	defer func() {
		if p := recover(); p != nil {
			err := panics.NewError(context.Background(), p, "writing image stream "+q.namespace+"/"+q.name)
			q.known = false
			for _, r := range batch {
				w.answer(r, err)
			}
		}
	}()
	w.commitBatch(q, batch)
}

// commitBatch records every member of batch in one transaction, recomputing it from the fresh
// state after every lost revision guard (D7). A member's own failure is answered to that
// member and the others go on without it (D14).
func (w *Writer) commitBatch(q *queue, batch []*request) {
	images := map[string]int64{}
	unknownOutcomes := 0
	for attempt := 1; ; attempt++ {
		batch = w.keepWaiting(q, batch)
		if len(batch) == 0 {
			return
		}
		if err := w.load(q); err != nil {
			for _, r := range batch {
				w.answer(r, w.readFailed(q, r, err))
			}
			return
		}
		stored, rev, create := q.stream, q.rev, q.stream == nil
		if create {
			// Only changes that create their stream can go on; the others are answered 404.
			if batch = w.keepCreators(q, batch); len(batch) == 0 {
				return
			}
			stored, rev = newStream(q.namespace, q.name), 0
		}
		changes := make([]Change, len(batch))
		for i, r := range batch {
			changes[i] = r.change
		}
		p, perr := Plan(w.planInput(context.Background(), stored, rev, create, images, changes))
		switch {
		case perr != nil && perr.Index >= 0:
			// That change's own problem: answer it and plan the others without it.
			w.answer(batch[perr.Index], perr.Err)
			batch = append(batch[:perr.Index:perr.Index], batch[perr.Index+1:]...)
			continue
		case perr != nil:
			w.failedTogether(q, batch, perr.Err)
			return
		case p.Ops == nil:
			// Everything is recorded already (a retried request, say).
			w.answerCommitted(batch, q.stream)
			return
		}
		if !w.markCommitting(batch) {
			// A member left while the batch was planned: plan again without it.
			continue
		}
		var encoded []byte
		if p.Stream != nil && w.cfg.Committed != nil {
			// Ops[0] is the stream's; its encoding is prepared in this goroutine.
			p.Ops[0].Encoded = func(plain []byte) { encoded = plain }
		}
		rev, err := w.commit(batch, p.Ops)
		w.unmarkCommitting(batch, txn.IsOutcomeUnknown(err))
		var conflict *txn.ConflictError
		switch {
		case err == nil:
			if p.Stream != nil {
				q.stream, q.rev = p.Stream, rev
			}
			batchSizes.Observe(float64(len(batch)))
			droppedTagEvents.Add(float64(p.Dropped))
			w.answerCommitted(batch, q.stream)
			// After the answers, which need not wait for it: callers got their own copies.
			if p.Stream != nil && w.cfg.Committed != nil {
				w.cfg.Committed(p.Stream, encoded)
			}
			if w.cfg.CommittedImage != nil {
				for _, op := range p.Ops {
					if img, ok := op.Obj.(*imagev1.Image); ok && img != nil {
						w.cfg.CommittedImage(img)
					}
				}
			}
			return
		case errors.As(err, &conflict):
			w.learn(q, images, conflict)
			klog.Background().V(4).Info("Retrying image stream write after a conflict", "imageStream", klog.KRef(q.namespace, q.name), "attempt", attempt, "batch", len(batch))
			if attempt > 2 {
				// Some other writer keeps winning (another replica, a client's update): back
				// off a little, with jitter, so that replicas do not retry in lock step.
				w.backoff(batch, time.Duration(rand.Int64N(int64(time.Millisecond)<<min(attempt, 6))))
			}
		case txn.IsNotSent(err):
			// The members' time ran out while the transaction waited to be sent: nothing was
			// written. The next round answers them "not recorded".
		case txn.IsOutcomeUnknown(err):
			// Whether it was applied, only a fresh read can tell; the next plan is computed
			// on one, and finds the changes recorded if they were.
			q.known, q.fresh = false, true
			if unknownOutcomes++; unknownOutcomes >= maxUnknownOutcomes {
				for _, r := range batch {
					w.answer(r, outcomeUnknown(503, q.namespace, q.name, r.change, err))
				}
				return
			}
		default:
			w.failedTogether(q, batch, err)
			return
		}
	}
}

// failedTogether handles an error that is not clearly one member's: the batch's combined
// stream is too large or invalid, its transaction could not be encoded, or something
// panicked. Alone, the member gets it; in a batch, every member is tried alone, so that only
// the ones that cause it get it.
func (w *Writer) failedTogether(q *queue, batch []*request, err error) {
	if len(batch) == 1 {
		if txn.IsOutcomeUnknown(err) {
			q.known, q.fresh = false, true
		}
		w.answer(batch[0], err)
		return
	}
	for _, r := range batch {
		w.commitBatch(q, []*request{r})
	}
}

// load makes q.stream current enough to plan on: the cheap read when nothing better is
// known, a fresh read from etcd when asked for.
func (w *Writer) load(q *queue) error {
	if q.known {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), readTimeout)
	defer cancel()
	for {
		var stream *imagev1.ImageStream
		var rev int64
		err := panics.Call(ctx, "reading image stream "+q.namespace+"/"+q.name, func() (err error) {
			if q.fresh || w.cfg.ReadStream == nil {
				stored := &imagev1.ImageStream{}
				rev, err = w.cfg.Txn.Get(ctx, w.cfg.Streams, q.namespace, q.name, stored)
				if err == nil {
					stream = stored
				} else if apierrors.IsNotFound(err) {
					err = nil
				}
				return err
			}
			stream, rev, err = w.cfg.ReadStream(ctx, q.namespace, q.name)
			return err
		})
		if err != nil {
			return err
		}
		if stream == nil && !q.fresh {
			// The cheap read may not have seen a stream created a moment ago (a registry
			// creates it and maps at once): make sure before answering 404.
			q.fresh = true
			continue
		}
		q.stream, q.rev, q.known, q.fresh = stream, rev, true, false
		return nil
	}
}

// commit sends the transaction; it waits no longer than the last member may wait, since
// nobody would read the answer.
func (w *Writer) commit(batch []*request, ops []txn.Op) (int64, error) {
	var last time.Time
	for _, r := range batch {
		if r.answerBy.After(last) {
			last = r.answerBy
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), last)
	defer cancel()
	var rev int64
	err := panics.Call(ctx, "committing an image stream write", func() (err error) {
		rev, err = w.cfg.Txn.Commit(ctx, ops...)
		return err
	})
	return rev, err
}

// learn updates what the batch knows from the fresh state of the keys whose guard failed.
func (w *Writer) learn(q *queue, images map[string]int64, conflict *txn.ConflictError) {
	for _, c := range conflict.Conflicts {
		switch c.Op.Resource {
		case w.cfg.Streams:
			q.known, q.rev, q.stream = true, c.Revision, nil
			if c.Object != nil {
				q.stream = c.Object.(*imagev1.ImageStream)
			}
		case w.cfg.Images:
			images[c.Op.Name] = c.Revision
		}
	}
}

// backoff waits d, or less when a member's answer is due sooner.
func (w *Writer) backoff(batch []*request, d time.Duration) {
	for _, r := range batch {
		d = min(d, time.Until(r.answerBy))
	}
	if d > 0 {
		time.Sleep(d)
	}
}

// readFailed is the answer to r when the stream could not be read.
func (w *Writer) readFailed(q *queue, r *request, err error) error {
	if panics.Is(err) {
		return err
	}
	w.mu.Lock()
	uncertain := r.uncertain
	w.mu.Unlock()
	if uncertain {
		return outcomeUnknown(503, q.namespace, q.name, r.change, err)
	}
	return storageUnavailable(q.namespace, q.name, r.change, err)
}
